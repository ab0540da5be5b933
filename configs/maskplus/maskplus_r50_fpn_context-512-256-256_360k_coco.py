# MaskPlus ablation, Sec. 3.1 (the configuration described with the method; not
# a row of Table 1): "Mask R-CNN + Contextual fusion 512-256-256" - a full-
# image RoI goes through 3x3 convs with 512-256-256 filters and is added to
# every RoI's mask features.
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            context_cfg=dict(channels=(512, 256, 256)))))
