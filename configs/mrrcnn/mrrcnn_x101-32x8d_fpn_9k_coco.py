# MR R-CNN on Mask R-CNN ResNeXt-101-32x8d-FPN (Table 1, 43.6 box / 38.8
# mask AP). Backbone and data preprocessing as mmdet's
# mask-rcnn_x101-32x8d_fpn_1x_coco.py (detectron2 weights, caffe-style input).
_base_ = './mrrcnn_r101_fpn_9k_coco.py'

# Placeholder path of a trained mask-rcnn_x101-32x8d_fpn_1x_coco checkpoint.
load_from = 'checkpoints/mask-rcnn_x101-32x8d_fpn_1x_coco.pth'

model = dict(
    data_preprocessor=dict(
        mean=[103.530, 116.280, 123.675],
        std=[57.375, 57.120, 58.395],
        bgr_to_rgb=False),
    backbone=dict(
        type='ResNeXt',
        depth=101,
        groups=32,
        base_width=8,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        style='pytorch',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnext101_32x8d')))
