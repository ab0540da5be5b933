# MaskPlus+ R101-FPN: the "MaskPlus+" row of MaskPlus Table 7 (COCO
# test-dev).
_base_ = './maskplus-plus_r50_fpn_540k_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
