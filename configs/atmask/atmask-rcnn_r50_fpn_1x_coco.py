# ATMask R-CNN, ResNet-50-FPN, COCO 1x (paper: Tables 1-2, k=2, lambda=2).
# Mask R-CNN plus an adaptive threshold branch: threshold RoI features from
# P2 pooled at 28x28 and brought down by a 3x3 stride-2 conv, P2T and T2P
# fusion, B = sigmoid(k (P - T)), threshold target 1 - mask ('inverse_mask').
_base_ = [
    '../mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/models/atmask-head_r50_fpn.py'
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='AdaptiveThresholdRoIHead',
        threshold_roi_source='P2',
        threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
        mask_head=_base_.atmask_mask_head))
