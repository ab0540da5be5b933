# ATMask R-CNN, ResNet-50-FPN, COCO 1x (paper: Tables 1-2, k=2, lambda=2).
# Mask R-CNN plus an adaptive threshold branch: threshold RoI features from
# P2 pooled at 28x28 and brought down by a 3x3 stride-2 conv, P2T and T2P
# fusion, B = sigmoid(k (P - T)), threshold target 1 - mask ('inverse_mask').
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='AdaptiveThresholdRoIHead',
        threshold_roi_source='P2',
        threshold_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='AdaptiveThresholdMaskHead',
            threshold_roi_feat_size=28,
            num_threshold_convs=0,
            with_p2t_fusion=True,
            with_t2p_fusion=True,
            k=2.0,
            threshold_target='inverse_mask',
            loss_threshold=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
            loss_binary=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=2.0))))
