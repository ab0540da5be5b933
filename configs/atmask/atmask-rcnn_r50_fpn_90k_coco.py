# ATMask R-CNN, ResNet-50-FPN on the paper's COCO schedule (Sec. 4,
# "Experimental Details"; Tables 1-2): synchronized SGD on 4 GPUs with 12
# images per batch (3 per GPU), lr 0.02, 90,000 iterations, lr x0.1 at
# 60,000 and x0.01 at 80,000. The model is the parent's; the parent keeps
# mmdet's 1x schedule (12 epochs at 16 images) as a variant.
# Launch: tools/dist_train.sh <this config> 4
_base_ = './atmask-rcnn_r50_fpn_1x_coco.py'

max_iters = 90000
train_dataloader = dict(
    batch_size=3, sampler=dict(type='InfiniteSampler', shuffle=True))
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=10000)
param_scheduler = [
    # mmdet's linear warm-up (the paper does not mention one)
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[60000, 80000],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
# lr 0.02 is the paper's for 4 GPUs x 3 images
auto_scale_lr = dict(enable=False, base_batch_size=12)
