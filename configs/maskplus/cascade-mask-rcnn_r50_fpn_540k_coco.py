# Cascade Mask R-CNN R50-FPN on the MaskPlus+ schedule: the parent of the
# MaskPlus+ configs. MaskPlus+ (Sec. 4.9) is MaskPlus on "a naive cascade
# version of Mask R-CNN" trained for 0.5 times more steps than MaskPlus'
# 360k iterations (8 GPUs x 1 image, lr 0.02, see
# mask-rcnn_r50_fpn_360k_coco.py), i.e. 540k iterations; the lr steps of the
# 360k schedule (240k, 320k) are stretched by the same 1.5 to 360k, 480k.
_base_ = 'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

max_iters = 540000
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
    val_interval=60000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[360000, 480000],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=60000),
    non_finite_loss=dict(type='NonFiniteLossHook', action='raise'))
log_processor = dict(by_epoch=False)
# base_batch_size = (8 GPUs) x (1 image per GPU)
auto_scale_lr = dict(enable=False, base_batch_size=8)
