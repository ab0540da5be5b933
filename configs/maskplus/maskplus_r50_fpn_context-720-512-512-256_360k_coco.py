# MaskPlus ablation, Table 1, row 4 (the best one): "Mask R-CNN + Contextual
# fusion 720-512-512-256" - a full-image RoI goes through 3x3 convs with
# 720-512-512-256 filters and is added to every RoI's mask features.
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            context_cfg=dict(channels=(720, 512, 512, 256)))))
