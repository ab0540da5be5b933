# Weakly supervised hybrid networks on the toy set, CPU-sized: both branches
# reuse the toy baseline's ResNet-18 widths (mask-rcnn_r18_fpn_1x_toy.py);
# the large-object branch is that Mask R-CNN with EnhancedFPN, trained on the
# valid GrabCut pseudo masks, the small-object branch the same detector
# without mask head (Faster R-CNN), trained on the boxes whose pseudo masks
# are invalid. Evaluation: mAP^r@0.5/0.75 and ABO (VOCInstanceMetric) and
# COCO box/mask AP on the toy val set with its real masks.
#
# Pseudo masks (needs data/toy/ from tools/misc/make_toy_dataset.py):
#   python tools/dataset_converters/grabcut_pseudo_masks.py \
#       data/toy/annotations/instances_train.json data/toy/train \
#       data/toy/annotations/instances_train_pseudo.json
# The whole pipeline (data, pseudo masks, training, testing):
#   tools/misc/run_weakly_toy_pipeline.sh
#
# Size split: the paper's 64x64 on ~500x375 VOC images is about 1/8 of the
# image side; on the 128x128 toy images that is 16x16 (small_size_thr=16).
# Schedule and lr are the toy baseline's, the small branch's lr is 1.5x
# (paper: 0.0075 vs 0.005).
_base_ = [
    '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py',
    '../_base_/datasets/toy_voc_instance_metric.py'
]

# Start: the toy benchmark's shared start was trained with the real masks,
# so these box-supervised models take only its box parts (backbone, neck,
# RPN, box head) through `Pretrained` init_cfgs; their mask heads start from
# their own initialisation. `load_from` would load the mask head too.
# Caveat: the start's backbone has seen mask supervision, as the upper-bound
# and single-branch rows' have; the comparison among these rows stays fair.
load_from = None
_start = _base_.load_from


def _from_start(module: dict, prefix: str) -> dict:
    return dict(
        module,
        init_cfg=dict(type='Pretrained', checkpoint=_start, prefix=prefix))


# (Built from the toy Mask R-CNN dict without mutating it: `import` is not
# allowed in text configs, so no deepcopy.)
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
_large_branch = dict(
    _mask_rcnn,
    train_cfg=_train_cfg,
    backbone=_from_start(_mask_rcnn.backbone, 'backbone.'),
    neck=_from_start(dict(_mask_rcnn.neck, type='EnhancedFPN'), 'neck.'),
    rpn_head=_from_start(_mask_rcnn.rpn_head, 'rpn_head.'),
    roi_head=dict(
        _mask_rcnn.roi_head,
        bbox_head=_from_start(_mask_rcnn.roi_head.bbox_head,
                              'roi_head.bbox_head.')))
_small_branch = dict(
    _mask_rcnn,
    type='FasterRCNN',
    backbone=_from_start(_mask_rcnn.backbone, 'backbone.'),
    neck=_from_start(_mask_rcnn.neck, 'neck.'),
    rpn_head=_from_start(_mask_rcnn.rpn_head, 'rpn_head.'),
    roi_head=dict(
        type=_mask_rcnn.roi_head.type,
        bbox_roi_extractor=_mask_rcnn.roi_head.bbox_roi_extractor,
        bbox_head=_from_start(_mask_rcnn.roi_head.bbox_head,
                              'roi_head.bbox_head.')),
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
        small_size_thr=16,
        # the paper's fusion: by size only, no NMS across the branches,
        # GrabCut for every small detection (ellipse when poor)
        fusion_nms_type='none',
        max_per_img=50,
        max_grabcut_per_image=None,
        image_source='auto'))

train_pipeline = [
    dict(type='ValidatedLoadImageFromFile', backend_args=None),
    dict(type='LoadPseudoMaskAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackPseudoMaskInputs')
]
train_dataloader = dict(
    dataset=dict(
        type='PseudoMaskCocoDataset',
        ann_file='annotations/instances_train_pseudo.json',
        pipeline=train_pipeline))

# The paper's metrics plus the toy baseline's COCO box/mask AP, so that the
# hybrid sits in the same toy benchmark table as the fully supervised methods.
val_evaluator = [_base_.val_evaluator, _base_.toy_voc_instance_metric]
test_evaluator = val_evaluator

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'small_branch': dict(lr_mult=1.5)}))
