# MaskPlus ablation, Table 3: "Mask R-CNN + Original boundary refinement"
# (Peng et al.'s residual BR on the mask logits).
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            boundary_refine_cfg=dict(type='ResidualBoundaryRefinement'))))
