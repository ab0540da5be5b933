# Combo: the ATMask head in every stage of Cascade Mask R-CNN (MaskPlus+
# style; R50-FPN, COCO, MaskPlus+' 540k schedule). See
# cascade-atmask_r18_fpn_1x_toy.py. Parents: the R50 Cascade Mask R-CNN of
# MaskPlus+ and the R50 ATMask head.
_base_ = [
    '../maskplus/cascade-mask-rcnn_r50_fpn_540k_coco.py',
    '../_base_/models/atmask-head_r50_fpn.py'
]

model = dict(
    roi_head=dict(
        type='MMExtCascadeRoIHead',
        threshold_roi_source='P2',
        threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
        mask_head=_base_.atmask_mask_head))
