# Peer (mmdet's own alternative): BoxInst, the box-supervised peer of the
# weakly supervised hybrid networks, on the toy benchmark. mmdet's
# boxinst/boxinst_r50_fpn_ms-90k_coco.py (one-stage CondInst trained from
# boxes only: projection and colour-pairwise losses) on the toy R18 backbone,
# with the toy baseline's data, schedule and seed.
#
# Start: BoxInst is one-stage and box-supervised, so, like the weakly hybrid
# toy configs, it takes only parts of the shared start through `Pretrained`
# init_cfgs (load_from = None): the backbone and the FPN. To load the FPN
# unchanged, BoxInst uses the start's FPN levels P2-P6 (strides 4-64, no
# extra convs) instead of mmdet's P3-P7 (strides 8-128): the toy objects are
# 14-140 px in 128x128 images, so the finer levels suit them too; the FCOS
# regress ranges are halved with the strides, the mask branch reads P2
# (mask_stride=4 = mask_out_stride). Its heads start from their
# initialisation. Caveat (as for the hybrid rows): the start's backbone has
# seen mask supervision.
#
# CPU: runs (no DCN). BoxInstDataPreprocessor needs scikit-image
# (skimage.color.rgb2lab for the colour similarity), from
# requirements/optional.txt (scripts/setup_env.sh installs it); without it
# the config cannot train (tests/test_configs.py skips it, naming the
# package). bottom_pixels_removed is 0: mmdet's 10 cuts
# COCO watermarks; toy images have none.
_base_ = [
    '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py',
    '../_base_/datasets/toy_voc_instance_metric.py'
]

load_from = None
_start = _base_.load_from
_toy = _base_.model

model = dict(
    _delete_=True,
    type='BoxInst',
    data_preprocessor=dict(
        type='BoxInstDataPreprocessor',
        mean=_toy.data_preprocessor.mean,
        std=_toy.data_preprocessor.std,
        bgr_to_rgb=True,
        pad_size_divisor=32,
        mask_stride=4,
        pairwise_size=3,
        pairwise_dilation=2,
        pairwise_color_thresh=0.3,
        bottom_pixels_removed=0),
    backbone=dict(
        _toy.backbone,
        init_cfg=dict(
            type='Pretrained', checkpoint=_start, prefix='backbone.')),
    neck=dict(
        _toy.neck,
        init_cfg=dict(type='Pretrained', checkpoint=_start, prefix='neck.')),
    bbox_head=dict(
        type='BoxInstBboxHead',
        num_params=593,
        num_classes=4,
        in_channels=64,
        stacked_convs=4,
        feat_channels=64,
        strides=[4, 8, 16, 32, 64],
        regress_ranges=((-1, 32), (32, 64), (64, 128), (128, 256), (256,
                                                                    1e8)),
        norm_on_bbox=True,
        centerness_on_reg=True,
        dcn_on_last_conv=False,
        center_sampling=True,
        conv_bias=True,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    mask_head=dict(
        type='BoxInstMaskHead',
        num_layers=3,
        feat_channels=16,
        size_of_interest=8,
        mask_out_stride=4,
        topk_masks_per_img=64,
        mask_feature_head=dict(
            in_channels=64,
            feat_channels=64,
            start_level=0,
            end_level=2,
            out_channels=16,
            mask_stride=4,
            num_stacked_convs=4,
            norm_cfg=dict(type='BN', requires_grad=True)),
        loss_mask=dict(
            type='DiceLoss',
            use_sigmoid=True,
            activate=True,
            eps=5e-6,
            loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=50,
        mask_thr=0.5))

# The hybrid networks' own metrics (mAP^r, ABO) beside the toy COCO metrics,
# as in configs/weakly/hybrid-weak_r18_enhanced-fpn_1x_toy.py, so that the
# box-supervised peer sits in the weakly table too.
val_evaluator = [_base_.val_evaluator, _base_.toy_voc_instance_metric]
test_evaluator = val_evaluator
