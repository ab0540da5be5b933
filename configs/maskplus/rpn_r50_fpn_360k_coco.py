# The separately trained RPN of MaskPlus (Sec. 4.2: "The RPN is trained
# separately and do not share the weights with Mask R-CNN"), step 1 of the
# separate-RPN recipe (configs/maskplus/README.md): mmdet's RPN R50-FPN alone
# on MaskPlus' schedule (8 GPUs x 1 image, 360k iterations, lr 0.02, x0.1 at
# 240k and 320k, as mask-rcnn_r50_fpn_360k_coco.py).
#   tools/dist_train.sh configs/maskplus/rpn_r50_fpn_360k_coco.py 8
# Testing it evaluates proposal recall on val2017 and dumps the val2017
# proposals for the Mask R-CNN stage (step 2, with
# rpn_r50_fpn_360k_coco-train2017-proposals.py for train2017):
#   python tools/test.py configs/maskplus/rpn_r50_fpn_360k_coco.py RPN_CKPT
_base_ = 'mmdet::rpn/rpn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# The proposals the joint Mask R-CNN trains and tests on: 1000 per image
# after NMS (mmdet's rpn_proposal / rpn test settings).
model = dict(
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0)))

max_iters = 360000
train_dataloader = dict(
    batch_size=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ValidatedCocoDataset'))

# mmext's safety nets (README "Safety nets"), as in
# configs/mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py: bad input named by the
# validating dataset (mmdet's pipelines kept), training stopped at a
# non-finite loss (NonFiniteLossHook in default_hooks below).
val_dataloader = dict(dataset=dict(type='ValidatedCocoDataset'))
test_dataloader = dict(dataset=dict(type='ValidatedCocoDataset'))
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=40000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[240000, 320000],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=40000),
    non_finite_loss=dict(type='NonFiniteLossHook', action='raise'))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)

test_evaluator = [
    dict(
        type='DumpProposals',
        output_dir=_base_.data_root + 'proposals/',
        proposals_file='rpn_r50_fpn_360k_val2017.pkl'),
    dict(
        type='CocoMetric',
        ann_file=_base_.data_root + 'annotations/instances_val2017.json',
        metric='proposal_fast',
        format_only=False)
]
