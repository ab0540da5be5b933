# Toy baseline: every toy method config inherits this file, so the toy
# benchmark compares methods under one schedule, seed, data pipeline and
# start. The start is the toy Mask R-CNN of configs/toy_start/ trained once;
# `bash scripts/run_toy_benchmark.sh` (tools/sweep.py --start) builds and
# caches it here and passes this same path. Weights of layers that the start
# lacks keep their config's initialisation (MR R-CNN's refining heads copy
# the vanilla heads, see MaskRefiningRoIHead.init_refine_from_vanilla).
_base_ = [
    '../_base_/models/mask-rcnn_r18_fpn_toy.py',
    '../_base_/datasets/toy_instance.py',
    '../_base_/schedules/schedule_1x_toy.py', '../_base_/default_runtime.py'
]
load_from = 'work_dirs/_start/mask-rcnn_r18_fpn_start_toy/start.pth'
