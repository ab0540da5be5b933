# A CPU-sized Mask R-CNN for the 128x128 toy set: a half-width ResNet-18
# (32-256 channels instead of 64-512, a quarter of the FLOPs) trained from
# scratch (no ImageNet weights are reachable here; BN statistics are updated,
# norm_eval=False), narrow FPN/heads, anchors and RoI-level mapping scaled to
# the small images, and fewer proposals/samples: a 128x128 toy image holds
# 1-6 objects, so 64 sampled RoIs per image (25% positive) and 100 test
# proposals are plenty, and they keep heads that run on every sampled RoI or
# proposal (MR R-CNN's refining module, cascades) affordable on a CPU.
# The RoI layers are mmext's MMExtRoIAlign (registered by `import mmext`,
# which configs/_base_/default_runtime.py requests): on CPU it equals mmcv's
# RoIAlign and is several times faster (multi-threaded); mmdet's output sizes
# and sampling ratios are kept. The COCO configs keep mmcv's RoIAlign.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(
                type='MMExtRoIAlign', output_size=7, sampling_ratio=0),
            out_channels=64,
            finest_scale=16),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(
            roi_layer=dict(
                type='MMExtRoIAlign', output_size=14, sampling_ratio=0),
            out_channels=64,
            finest_scale=16),
        mask_head=dict(
            in_channels=64, conv_out_channels=64, num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=50)))
