# Cascade Mask R-CNN on the toy set: the toy Mask R-CNN (R18-FPN, 64-channel
# heads) with mmdet's 3-stage cascade RoI head (cascade-mask-rcnn_r50_fpn:
# IoU 0.5/0.6/0.7, stage loss weights 1/0.5/0.25, class-agnostic SmoothL1
# regression with shrinking target stds). The parent of the toy MaskPlus+.
# Same toy schedule as every toy method, so MaskPlus+' 1.5x longer training
# is not applied on the toy set.
# `load_from` (the toy benchmark's shared start, a trained toy Mask R-CNN)
# fills the backbone, neck and RPN; the stage heads start from scratch, since
# mmdet's CascadeRoIHead cannot take single-stage heads (MaskPlus+ can:
# init_stages_from_single_stage).
_base_ = '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py'

model = dict(
    roi_head=dict(
        _delete_=True,
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=_base_.model.roi_head.bbox_roi_extractor,
        bbox_head=[
            dict(
                _base_.model.roi_head.bbox_head,
                reg_class_agnostic=True,
                bbox_coder=dict(
                    _base_.model.roi_head.bbox_head.bbox_coder,
                    target_stds=stds),
                loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                         [0.033, 0.033, 0.067, 0.067])
        ],
        mask_roi_extractor=_base_.model.roi_head.mask_roi_extractor,
        mask_head=_base_.model.roi_head.mask_head),
    train_cfg=dict(rcnn=[
        dict(
            _base_.model.train_cfg.rcnn,
            assigner=dict(
                _base_.model.train_cfg.rcnn.assigner,
                pos_iou_thr=iou,
                neg_iou_thr=iou,
                min_pos_iou=iou,
                match_low_quality=False)) for iou in (0.5, 0.6, 0.7)
    ]))
