# Combo: the ATMask head in every stage of Cascade Mask R-CNN (MaskPlus+
# style, toy). Parents: the toy Cascade Mask R-CNN
# (configs/maskplus/cascade-mask-rcnn_r18_fpn_1x_toy.py) and the toy ATMask
# head. MMExtCascadeRoIHead trains each stage's head with its three ATMask
# losses and, at test time, averages P and T over the stages and keeps the
# pixels where mean P >= mean T (mmext/models/roi_heads/cascade_roi_head.py).
# Start: like the toy MaskPlus+, every stage starts from the toy shared
# start's box and mask heads (init_stages_from_single_stage); the threshold
# branches start from their initialisation.
_base_ = [
    '../maskplus/cascade-mask-rcnn_r18_fpn_1x_toy.py',
    '../_base_/models/atmask-head_r18_fpn_toy.py'
]

model = dict(
    roi_head=dict(
        type='MMExtCascadeRoIHead',
        init_stages_from_single_stage=True,
        threshold_roi_source='P2',
        threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
        mask_head=_base_.atmask_mask_head))
