# Fully supervised upper bound: the large-object branch (Mask R-CNN R50 +
# EnhancedFPN) trained on the real VOC/SBD instance masks of
# data/voc_sbd/annotations/instances_train_aug.json (see the parent for how
# to create it). Same schedule and evaluation as the parent.
_base_ = './mask-rcnn_r50_enhanced-fpn_grabcut-all_30k_voc-sbd.py'

train_dataloader = dict(
    dataset=dict(
        type='ValidatedCocoDataset',
        _delete_=True,
        data_root=_base_.data_root,
        metainfo=_base_.metainfo,
        ann_file='annotations/instances_train_aug.json',
        data_prefix=dict(img='JPEGImages/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=[
            dict(type='ValidatedLoadImageFromFile', backend_args=None),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(
                type='RandomChoiceResize',
                scales=[(1000, 600), (1000, 800)],
                keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')
        ],
        backend_args=None))
