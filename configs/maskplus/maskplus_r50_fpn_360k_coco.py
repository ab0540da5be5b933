# MaskPlus R50-FPN (MaskPlus Sec. 4.9): all five techniques in the best
# setting of their ablation, on the paper's schedule (see the parent):
# contextual fusion 720-512-512-256 (Table 1), deconvolutional pyramid module
# (Table 2), improved boundary refinement (Table 3), 0.5x quasi-multitask
# learning (Table 4; better than 2x, the two were not combined in the paper)
# and biased training, alpha 1.5 for the first half (Tables 5-6).
_base_ = [
    './mask-rcnn_r50_fpn_360k_coco.py',
    '../_base_/models/maskplus-head_r50_fpn.py'
]

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=_base_.maskplus_mask_head))

custom_hooks = [
    # alpha 1.5 for the first half of training (end=None: half of max_iters)
    dict(type='BiasedLossHook', alpha=1.5, by_epoch=False)
]
