# Weakly supervised hybrid networks (Liao et al., Sec. 2) on PASCAL VOC 2012
# + SBD (10,582 train_aug images, evaluated on the 1,449 VOC 2012 val images):
# a large-object branch (Mask R-CNN R50 + EnhancedFPN) trained on the valid
# GrabCut pseudo masks, a small-object branch (Faster R-CNN R50-FPN) trained
# on the boxes whose pseudo masks are invalid, fused by size at test time
# (< 64x64 from the small branch, whose boxes GrabCut segments).
#
# Data (data/voc_sbd/):
#   python tools/dataset_converters/voc_sbd_to_coco.py \
#       --voc-root data/VOCdevkit/VOC2012 \
#       --sbd-root data/benchmark_RELEASE/dataset \
#       --out-dir data/voc_sbd/annotations
#   python tools/dataset_converters/grabcut_pseudo_masks.py \
#       data/voc_sbd/annotations/instances_train_aug.json \
#       data/VOCdevkit/VOC2012/JPEGImages \
#       data/voc_sbd/annotations/instances_train_aug_grabcut.json --workers 8
#   ln -s ../VOCdevkit/VOC2012/JPEGImages data/voc_sbd/JPEGImages
# giving data/voc_sbd/JPEGImages/ and data/voc_sbd/annotations/
# {instances_train_aug,instances_train_aug_grabcut,instances_val}.json.
# Training reads only the boxes and the pseudo masks; the real masks of
# instances_val.json are used by the metric (mAP^r@0.5/0.75, ABO).
#
# Schedule (paper, Sec. 2.4): 3 GPUs x 2 images, 30k iterations, lr 0.005
# divided by 10 at 20k and 26k, weight decay 0.0002, shorter side 600 or 800
# (longer <= 1000) in training and 600 in test; the small branch's lr is
# 0.0075 (lr_mult 1.5 on the parameters under `small_branch.`).
# Launch: tools/dist_train.sh <this config> 3
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# ----------------------------------------------------------------- model
# (Built from mmdet's Mask R-CNN R50-FPN dict without mutating it: `import`
# is not allowed in text configs, so no deepcopy.)
_mask_rcnn = _base_.model
# Each branch trains on its subset of the instances; the other subset are
# ignore regions (model.train_cfg.unselected_as_ignored=True), which the
# assigners of RPN and RoI head must honour, also in images without any
# instance of the branch: mmext's IgnoreRegionMaxIoUAssigner.
_ignoring = dict(type='IgnoreRegionMaxIoUAssigner', ignore_iof_thr=0.5)
_train_cfg = dict(
    _mask_rcnn.train_cfg,
    rpn=dict(
        _mask_rcnn.train_cfg.rpn,
        assigner=dict(_mask_rcnn.train_cfg.rpn.assigner, **_ignoring)),
    rcnn=dict(
        _mask_rcnn.train_cfg.rcnn,
        assigner=dict(_mask_rcnn.train_cfg.rcnn.assigner, **_ignoring)))
# Large-object branch: Mask R-CNN R50 with the FPN replaced by EnhancedFPN,
# 20 VOC classes.
_large_branch = dict(
    _mask_rcnn,
    train_cfg=_train_cfg,
    neck=dict(_mask_rcnn.neck, type='EnhancedFPN'),
    roi_head=dict(
        _mask_rcnn.roi_head,
        bbox_head=dict(_mask_rcnn.roi_head.bbox_head, num_classes=20),
        mask_head=dict(_mask_rcnn.roi_head.mask_head, num_classes=20)))
# Small-object branch: Faster R-CNN R50-FPN = the same detector without the
# mask RoI extractor and head (exactly mmdet's faster-rcnn_r50_fpn.py).
_small_branch = dict(
    _mask_rcnn,
    type='FasterRCNN',
    roi_head=dict(
        type=_mask_rcnn.roi_head.type,
        bbox_roi_extractor=_mask_rcnn.roi_head.bbox_roi_extractor,
        bbox_head=dict(_mask_rcnn.roi_head.bbox_head, num_classes=20)),
    train_cfg=dict(
        _train_cfg,
        rcnn=dict(
            assigner=_train_cfg['rcnn']['assigner'],
            sampler=_mask_rcnn.train_cfg.rcnn.sampler,
            pos_weight=_mask_rcnn.train_cfg.rcnn.pos_weight,
            debug=_mask_rcnn.train_cfg.rcnn.debug)),
    test_cfg=dict(
        _mask_rcnn.test_cfg,
        rcnn=dict(
            score_thr=_mask_rcnn.test_cfg.rcnn.score_thr,
            nms=_mask_rcnn.test_cfg.rcnn.nms,
            max_per_img=_mask_rcnn.test_cfg.rcnn.max_per_img)))

model = dict(
    _delete_=True,
    type='HybridWeakDetector',
    data_preprocessor=_mask_rcnn.data_preprocessor,
    large_branch=_large_branch,
    small_branch=_small_branch,
    train_cfg=dict(
        large_branch_instances='valid',
        small_branch_instances='invalid',
        unselected_as_ignored=True),
    test_cfg=dict(
        small_size_thr=64,
        # the paper's fusion: by size only, no NMS across the branches,
        # GrabCut for every small detection (ellipse when poor)
        fusion_nms_type='none',
        max_per_img=100,
        max_grabcut_per_image=None,
        image_source='img_path'))

# ------------------------------------------------------------------ data
dataset_type = 'PseudoMaskCocoDataset'
data_root = 'data/voc_sbd/'
metainfo = dict(
    classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
             'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
             'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
             'tvmonitor'))
backend_args = None

train_pipeline = [
    dict(type='ValidatedLoadImageFromFile', backend_args=backend_args),
    # also loads each instance's pseudo-mask validity (gt_pseudo_valid)
    dict(type='LoadPseudoMaskAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1000, 600), (1000, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackPseudoMaskInputs')
]
test_pipeline = [
    dict(type='ValidatedLoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train_aug_grabcut.json',
        data_prefix=dict(img='JPEGImages/'),
        pseudo_mask_subset='all',  # the detector splits them per branch
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ValidatedCocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='JPEGImages/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# The protocol of the public SDS evaluation code (Hariharan et al. 2014),
# which defines mAP^r and which the compared box-supervised methods cite:
# VOC's void pixels are not removed from the IoU, a detection matches the
# best still unmatched gt at IoU > thr (see VOCInstanceMetric's docstring;
# use_void=True, strict_thr=False is the other protocol).
val_evaluator = dict(
    _delete_=True,
    type='VOCInstanceMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    iou_thrs=(0.5, 0.75),
    use_void=False,
    strict_thr=True,
    matching='best_unmatched',
    backend_args=backend_args)
test_evaluator = val_evaluator

# -------------------------------------------------------------- schedule
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=30000,
    val_interval=5000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=30000,
        by_epoch=False,
        milestones=[20000, 26000],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(lr=0.005, weight_decay=0.0002),
    # small-object branch: lr 0.0075 = 1.5 x 0.005 (paper, Sec. 2.4)
    paramwise_cfg=dict(custom_keys={'small_branch': dict(lr_mult=1.5)}))
# the lr above is for 3 GPUs x 2 images
auto_scale_lr = dict(enable=False, base_batch_size=6)

# NonFiniteLossHook: a NaN/inf loss stops training naming the iteration and
# images (README "Safety nets"); mmdet's runtime has no such guard.
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=3),
    non_finite_loss=dict(type='NonFiniteLossHook', action='raise'))
log_processor = dict(by_epoch=False)
