# MaskPlus+ on the toy set: the toy MaskPlus mask head (see
# maskplus_r18_fpn_1x_toy.py) in each stage of the toy Cascade Mask R-CNN.
# Fine-tuned from the toy benchmark's shared start (a trained toy
# Mask R-CNN), every stage starts from its box and mask heads, as MR R-CNN's
# refining heads do; layers of other shapes (class-agnostic regression,
# MaskPlus' own) keep their initialisation.
_base_ = [
    './cascade-mask-rcnn_r18_fpn_1x_toy.py',
    '../_base_/models/maskplus-head_r18_fpn_toy.py'
]

model = dict(
    roi_head=dict(
        type='MaskPlusCascadeRoIHead',
        init_stages_from_single_stage=True,
        mask_head=_base_.maskplus_mask_head))

custom_hooks = [
    dict(
        type='BiasedLossHook',
        alpha=1.5,
        end=_base_.max_iters // 2,
        by_epoch=False)
]
