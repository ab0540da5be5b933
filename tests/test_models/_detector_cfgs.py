"""Pieces of the tiny two-stage detector configs the model tests build."""


def max_iou_assigner(pos_iou_thr: float = 0.5,
                     neg_iou_thr: float = 0.5,
                     min_pos_iou: float = 0.5) -> dict:
    return dict(
        type='MaxIoUAssigner',
        pos_iou_thr=pos_iou_thr,
        neg_iou_thr=neg_iou_thr,
        min_pos_iou=min_pos_iou,
        match_low_quality=True,
        ignore_iof_thr=-1)


def random_sampler(num: int, pos_fraction: float,
                   add_gt_as_proposals: bool) -> dict:
    return dict(
        type='RandomSampler',
        num=num,
        pos_fraction=pos_fraction,
        neg_pos_ub=-1,
        add_gt_as_proposals=add_gt_as_proposals)


def rpn_train_cfg(num: int = 64) -> dict:
    """mmdet's Mask R-CNN RPN training settings with ``num`` samples."""
    return dict(
        assigner=max_iou_assigner(0.7, 0.3, 0.3),
        sampler=random_sampler(num, 0.5, add_gt_as_proposals=False),
        allowed_border=-1,
        pos_weight=-1,
        debug=False)


def rcnn_train_cfg(num: int = 32, **extra) -> dict:
    """mmdet's Mask R-CNN RoI-head training settings with ``num`` samples;
    ``extra`` adds keys (``mask_size``, ...)."""
    return dict(
        assigner=max_iou_assigner(),
        sampler=random_sampler(num, 0.25, add_gt_as_proposals=True),
        pos_weight=-1,
        debug=False,
        **extra)


def shared2fc_bbox_head(in_channels: int, num_classes: int,
                        fc_out_channels: int = 32) -> dict:
    """mmdet's Mask R-CNN box head, narrowed for tests."""
    return dict(
        type='Shared2FCBBoxHead',
        in_channels=in_channels,
        fc_out_channels=fc_out_channels,
        roi_feat_size=7,
        num_classes=num_classes,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=[0.1, 0.1, 0.2, 0.2]),
        reg_class_agnostic=False,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0))
