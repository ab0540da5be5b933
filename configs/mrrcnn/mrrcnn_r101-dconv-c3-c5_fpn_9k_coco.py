# MR R-CNN on Mask R-CNN ResNet-101 DCN+FPN (Table 2, COCO test-dev: 44.1
# box / 39.7 mask AP): deformable convolutions in the 3x3 convs of stages
# c3-c5, as mmdet's dcn/mask-rcnn_r101-dconv-c3-c5_fpn_1x_coco.py. Fine-tuned
# like the other rows (9k iterations) from a trained Mask R-CNN of the same
# backbone.
_base_ = './mrrcnn_r101_fpn_9k_coco.py'

# Placeholder path of a trained mask-rcnn_r101-dconv-c3-c5_fpn_1x_coco
# checkpoint.
load_from = 'checkpoints/mask-rcnn_r101-dconv-c3-c5_fpn_1x_coco.pth'

model = dict(
    backbone=dict(
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
