# Peer (mmdet's own alternative): PointRend on the toy benchmark.
# mmdet's point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py (PointRend,
# PointRendRoIHead: a coarse 7x7 fc mask head on P2 features plus a point
# head that refines the most uncertain points, 5 subdivision steps to
# 224x224 at test time) on the toy Mask R-CNN (R18-FPN, 64-channel heads;
# fc widths scaled like the toy box head, 1024 -> 256), with the toy
# baseline's data, schedule, seed and start. Backbone, neck, RPN and box
# head load from the shared start; the coarse and point heads (architectures
# the start lacks) start from their initialisation. Runs on CPU
# (SimpleRoIAlign and point_sample are grid_sample).
# (The mmdet config's changes to Mask R-CNN are restated here: text configs
# cannot inherit both it and the toy baseline, both define `model`.)
_base_ = '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py'

model = dict(
    type='PointRend',
    roi_head=dict(
        type='PointRendRoIHead',
        mask_roi_extractor=dict(
            _delete_=True,
            type='GenericRoIExtractor',
            aggregation='concat',
            roi_layer=dict(type='SimpleRoIAlign', output_size=14),
            out_channels=64,
            featmap_strides=[4]),
        mask_head=dict(
            _delete_=True,
            type='CoarseMaskHead',
            num_fcs=2,
            in_channels=64,
            conv_out_channels=64,
            fc_out_channels=256,
            num_classes=4,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
        point_head=dict(
            type='MaskPointHead',
            num_fcs=3,
            in_channels=64,
            fc_channels=64,
            num_classes=4,
            coarse_pred_each_layer=True,
            loss_point=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rcnn=dict(
            mask_size=7,
            num_points=14 * 14,
            oversample_ratio=3,
            importance_sample_ratio=0.75)),
    test_cfg=dict(
        rcnn=dict(
            subdivision_steps=5,
            subdivision_num_points=28 * 28,
            scale_factor=2)))
