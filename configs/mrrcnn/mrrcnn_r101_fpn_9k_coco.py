# MR R-CNN on Mask R-CNN R101-FPN (Table 1, 41.4 box / 37.1 mask AP).
_base_ = './mrrcnn_r50_fpn_9k_coco.py'

# Placeholder path of a trained mask-rcnn_r101_fpn_1x_coco checkpoint.
load_from = 'checkpoints/mask-rcnn_r101_fpn_1x_coco.pth'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
