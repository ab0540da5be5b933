# The standard Mask R-CNN R50-FPN 1x COCO baseline (39.2 box / 35.4 mask AP in
# mmdet's model zoo), inherited unchanged from mmdet's packaged configs; the
# COCO-scale method configs of mmext compare against it.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
