# Runtime shared by the toy configs. COCO configs inherit mmdet's runtime.
default_scope = 'mmdet'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # checkpoints are written atomically (temp file + rename), see
    # mmext/utils/checkpoint.py
    # the toy schedules are iteration-based; each sets the interval
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=100,
        max_keep_ckpts=1,
        backend_args=dict(backend='local_atomic')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # a NaN/inf loss or gradient stops training (iteration and image ids
    # named) before the optimizer step, and no checkpoint with non-finite
    # weights is written; action='skip' skips such batches with a warning.
    # In default_hooks (merged by key) so configs that set custom_hooks keep
    # it.
    non_finite_loss=dict(type='NonFiniteLossHook', action='raise'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when CUDA is absent
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
