# Fully supervised upper bound on the toy set: the large-object branch
# (Mask R-CNN R18 + EnhancedFPN) trained on the real toy masks. Same
# schedule and evaluation (mAP^r, ABO) as the parent.
_base_ = './mask-rcnn_r18_enhanced-fpn_grabcut-all_1x_toy.py'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ValidatedCocoDataset',
        data_root=_base_.data_root,
        metainfo=_base_.metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=[
            dict(type='ValidatedLoadImageFromFile', backend_args=None),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')
        ],
        backend_args=None))
