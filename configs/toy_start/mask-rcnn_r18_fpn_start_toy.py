# The toy benchmark's shared start: the toy Mask R-CNN trained from scratch
# on the toy train split with the start schedule. `tools/sweep.py --start`
# (the main job) builds it once and caches its weights as
# work_dirs/_start/mask-rcnn_r18_fpn_start_toy/start.pth; every toy method
# fine-tunes from them (load_from in configs/mask_rcnn/*_1x_toy.py).
_base_ = [
    '../_base_/models/mask-rcnn_r18_fpn_toy.py',
    '../_base_/datasets/toy_instance.py',
    '../_base_/schedules/schedule_start_toy.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(interval=600), logger=dict(interval=50))
