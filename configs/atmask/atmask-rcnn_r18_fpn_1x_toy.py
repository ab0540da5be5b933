# ATMask R-CNN on the toy set (CPU-sized): the toy Mask R-CNN baseline plus
# the adaptive threshold branch with the paper's final settings (P2 threshold
# features at 28x28, P2T + T2P fusion, k=2, lambda=2) and the baseline's RoI
# level mapping (finest_scale=16). To keep within the toy cost budget
# (training <= 1.15x, inference <= 1.10x of the baseline on CPU) the
# threshold branch is narrow (8 channels; P2 is reduced by a bias-free 1x1
# conv before the 28x28 pooling) and its fusion convs are 1x1; the COCO
# configs keep the full-width branch with 3x3 fusion. Like the toy baseline's
# RoI layers, the threshold branch's is mmext's CPU RoIAlign.
_base_ = '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='AdaptiveThresholdRoIHead',
        threshold_roi_source='P2',
        threshold_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(
                type='MMExtRoIAlign', output_size=28, sampling_ratio=0),
            out_channels=8,
            featmap_strides=[4, 8, 16, 32],
            finest_scale=16),
        mask_head=dict(
            type='AdaptiveThresholdMaskHead',
            threshold_roi_feat_size=28,
            threshold_channels=8,
            num_threshold_convs=0,
            fusion_kernel_size=1,
            with_p2t_fusion=True,
            with_t2p_fusion=True,
            k=2.0,
            threshold_target='inverse_mask',
            loss_threshold=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
            loss_binary=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=2.0))))
