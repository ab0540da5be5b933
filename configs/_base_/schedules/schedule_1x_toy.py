# The toy "1x" schedule, shared by every *_toy method config: a fine-tune of
# the toy benchmark's shared start (configs/toy_start/, loaded through
# `load_from` in configs/mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py), as the papers
# fine-tune from ImageNet backbones or a trained Mask R-CNN. Every method gets
# the same iterations, data order (seeded) and lr; layers a method adds start
# as its config says.
#
# 300 iterations at batch 4 (one pass over the 1200 toy train images), AdamW
# at a fine-tuning lr with a step at 2/3 so that the six benchmark models
# (seven with the hybrid's upper bound) train and test in under 30 minutes on
# a 2-core CPU. The lr was chosen on the baseline: see the README.
max_iters = 300
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[max_iters * 2 // 3],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
# lr above is for batch 4 on one process
auto_scale_lr = dict(enable=False, base_batch_size=4)
