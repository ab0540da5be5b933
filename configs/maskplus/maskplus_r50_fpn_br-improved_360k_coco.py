# MaskPlus ablation, Table 3: "Mask R-CNN + Improved boundary refinement"
# (4 densely connected BN-PReLU-Conv16-BN-PReLU-Conv4 modules on the logits).
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            boundary_refine_cfg=dict(
                type='DenseBoundaryRefinement',
                num_modules=4,
                bottleneck_channels=16,
                growth_channels=4))))
