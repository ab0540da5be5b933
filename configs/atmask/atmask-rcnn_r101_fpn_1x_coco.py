# ATMask R-CNN, ResNet-101-FPN, COCO 1x (paper: Tables 1-2, k=2).
_base_ = './atmask-rcnn_r50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
