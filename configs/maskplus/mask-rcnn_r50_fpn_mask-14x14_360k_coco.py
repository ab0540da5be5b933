# MaskPlus ablation, Table 4: "Mask R-CNN (0.5x mask)" - the mask head
# without its deconv, trained and tested on 14x14 masks.
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

model = dict(
    roi_head=dict(mask_head=dict(upsample_cfg=dict(type=None))),
    train_cfg=dict(rcnn=dict(mask_size=14)))
