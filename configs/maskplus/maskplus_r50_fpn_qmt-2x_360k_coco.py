# MaskPlus ablation, Table 4: "Mask R-CNN (1x mask) + 2x quasi-multitask
# learning" - an auxiliary mask branch (56x56, the mask head with one more 2x
# deconv) trained on its own targets and dropped at inference.
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusRoIHead',
        mask_head=dict(type='MaskPlusMaskHead', qmt_scales=(2.0, ))))
