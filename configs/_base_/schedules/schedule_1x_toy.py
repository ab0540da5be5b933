# The toy "1x" schedule, shared by every *_toy config: 6 epochs over the toy
# train split (360 iterations at batch 4), lr steps at epochs 4 and 5 (mmdet's
# 1x steps at 8/12 and 11/12 of the schedule), with a short linear warm-up.
#
# AdamW instead of mmdet's SGD: the toy models train from scratch (no
# ImageNet weights are reachable here), where AdamW gets much further in few
# iterations. Measured on the toy baseline (full-width ResNet-18), 12 epochs:
# SGD lr 0.04 momentum 0.9 -> box/mask AP 4.5/3.0, AdamW lr 1e-3 -> 9.9/9.0.
# 6 epochs keep the whole toy benchmark (scripts/run_toy_benchmark.sh, six
# models) under 30 minutes on a 2-core CPU; with 8 epochs it took 34 minutes.
# lr on this 6-epoch schedule (toy baseline, box/mask AP): 5e-4 3.5/1.3,
# 1e-3 4.3/1.8, 2e-3 3.2/1.4, 4e-3 2.7/0.7.
max_epochs = 6
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[4, 5],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
# lr above is for batch 4 on one process
auto_scale_lr = dict(enable=False, base_batch_size=4)
