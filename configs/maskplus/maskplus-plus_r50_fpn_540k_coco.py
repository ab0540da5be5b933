# MaskPlus+ R50-FPN (MaskPlus Sec. 4.9): the MaskPlus mask head (all five
# techniques, same settings as maskplus_r50_fpn_360k_coco.py) in each of the
# three stages of Cascade Mask R-CNN, 540k iterations. Biased training covers
# the first half (270k iterations) and scales every stage's mask loss.
_base_ = [
    './cascade-mask-rcnn_r50_fpn_540k_coco.py',
    '../_base_/models/maskplus-head_r50_fpn.py'
]

model = dict(
    roi_head=dict(
        type='MaskPlusCascadeRoIHead',
        mask_head=_base_.maskplus_mask_head))

custom_hooks = [
    # alpha 1.5 for the first half of training (end=None: half of max_iters)
    dict(type='BiasedLossHook', alpha=1.5, by_epoch=False)
]
