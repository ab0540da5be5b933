# MaskPlus ablation, Table 4: "Mask R-CNN (1x mask) + 0.5x quasi-multitask
# learning" - an auxiliary mask branch (14x14, the mask head without its
# deconv) trained on its own targets and dropped at inference.
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(type='MaskPlusMaskHead', qmt_scales=(0.5, ))))
