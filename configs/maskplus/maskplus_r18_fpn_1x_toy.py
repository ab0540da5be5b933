# MaskPlus on the toy set: the five techniques in their paper settings on
# the toy Mask R-CNN (R18-FPN, 64-channel heads, toy "1x" schedule), for
# CPU runs and the toy benchmark. Widths follow the toy model: the paper's
# 720-512-512-256 context stack over 256-channel RoI features becomes
# 180-128-128-64 over 64 channels; the DPM uses the head's 64 channels.
# Biased training covers the first half of the schedule (iterations
# 0-149 of 300).
_base_ = [
    '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py',
    '../_base_/models/maskplus-head_r18_fpn_toy.py'
]

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=_base_.maskplus_mask_head))

custom_hooks = [
    dict(
        type='BiasedLossHook',
        alpha=1.5,
        end=_base_.max_iters // 2,
        by_epoch=False)
]
