# Peer (mmdet's own alternative): Mask Scoring R-CNN on the toy benchmark.
# mmdet's ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py (MaskScoringRCNN,
# MaskScoringRoIHead with a MaskIoUHead that rescores each mask by its
# predicted mask IoU) on the toy Mask R-CNN (R18-FPN, 64-channel heads; the
# MaskIoU head's fc width follows the toy box head's 256), with the toy
# baseline's data, schedule, seed and start. Everything of Mask R-CNN loads
# from the shared start; the MaskIoU head starts from its initialisation.
# (Text configs cannot inherit the mmdet config and the toy baseline at once,
# both define `model`; the mmdet config's additions are restated here.)
_base_ = '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py'

model = dict(
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=64,
            conv_out_channels=64,
            fc_out_channels=256,
            num_classes=4)),
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
