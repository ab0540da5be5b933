# Schedule of the toy benchmark's shared start: the toy Mask R-CNN trained
# once from scratch, long enough to be a useful pretrained model (the papers
# start from ImageNet backbones, MR R-CNN from a trained Mask R-CNN). Every
# toy method then fine-tunes from it with schedule_1x_toy.py.
#
# Iteration-based so that its length does not depend on the train split's
# size; AdamW because it trains from scratch (see schedule_1x_toy.py for the
# lr check of the from-scratch toy models).
max_iters = 3600
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[int(max_iters * 0.75),
                    int(max_iters * 0.92)],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)
