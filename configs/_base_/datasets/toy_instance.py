# The embedded toy instance segmentation set (COCO format, 128x128 images).
# Generate it with `python tools/misc/make_toy_dataset.py` (writes data/toy/).
dataset_type = 'ValidatedCocoDataset'
data_root = 'data/toy/'
metainfo = dict(
    classes=('disk', 'square', 'triangle', 'ring'),
    palette=[(220, 20, 60), (0, 128, 255), (50, 205, 50), (255, 165, 0)])
backend_args = None
# the toy images are 128x128; Resize keeps them and records scale_factor
image_scale = (128, 128)

train_pipeline = [
    dict(type='ValidatedLoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='ValidatedLoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# COCO box/mask AP plus what the papers claim to improve: Boundary AP
# (Boundary IoU, Cheng et al. 2021; d = 2% of the image diagonal = 4 px here)
# for mask quality and mask AP on huddled instances (the generator's
# `huddled` flag; the other instances are ignored, not negatives).
val_evaluator = dict(
    type='InstanceQualityMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric=['bbox', 'segm'],
    boundary=True,
    dilation_ratio=0.02,
    subset_key='huddled',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
