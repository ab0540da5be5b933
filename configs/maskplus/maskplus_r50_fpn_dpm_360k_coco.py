# MaskPlus ablation, Table 2: "Mask R-CNN + Deconvolutional pyramid module"
# (2 stride-2 deconvs up, 2 stride-2 convs down, 256 filters, added).
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            dpm_cfg=dict(type='DeconvPyramidModule', num_levels=2))))
