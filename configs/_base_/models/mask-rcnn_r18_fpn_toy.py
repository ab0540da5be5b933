# A CPU-sized Mask R-CNN for the 128x128 toy set: ResNet-18 trained from
# scratch (no ImageNet weights are reachable here; BN statistics are updated,
# norm_eval=False), narrow FPN/heads, anchors and RoI-level mapping scaled to
# the small images, and fewer proposals/samples.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(
        depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, finest_scale=16),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(out_channels=64, finest_scale=16),
        mask_head=dict(
            in_channels=64, conv_out_channels=64, num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        rcnn=dict(max_per_img=50)))
