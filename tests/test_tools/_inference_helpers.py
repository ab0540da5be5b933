"""Toy configs and checkpoints for the inference and picture tool tests."""
import os.path as osp

import torch
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MASK_RCNN_TOY = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                         'mask-rcnn_r18_fpn_1x_toy.py')
ATMASK_TOY = osp.join(REPO_ROOT, 'configs', 'atmask',
                      'atmask-rcnn_r18_fpn_1x_toy.py')


def toy_cfg(config: str, data_root: str) -> Config:
    """A toy config on ``data_root`` without the benchmark's shared start."""
    cfg = Config.fromfile(config)
    cfg.load_from = None
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        loader.num_workers = 0
        loader.persistent_workers = False
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = osp.join(data_root, 'annotations',
                                     'instances_val.json')
    return cfg


def save_fresh_checkpoint(cfg: Config, path: str, seed: int = 0) -> dict:
    """Build the model with its own initialisation (``init_cfg=None`` parts
    keep the constructor's) and save it as an mmengine-style checkpoint with
    the toy class names. Returns the state dict."""
    from mmdet.registry import MODELS

    from mmext.datasets import TOY_CLASSES, TOY_PALETTE
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state_dict = model.state_dict()
    torch.save(
        dict(
            meta=dict(
                dataset_meta=dict(classes=TOY_CLASSES, palette=TOY_PALETTE)),
            state_dict=state_dict), path)
    return state_dict


def train_two_iterations(cfg: Config, work_dir: str) -> str:
    """Train ``cfg`` for 2 iterations with mmengine's Runner; returns the
    checkpoint (an mmengine checkpoint with message hub and optimizer)."""
    from mmengine.runner import Runner
    cfg = cfg.copy()
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop',
        max_iters=2,
        val_begin=100,
        val_interval=100)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(type='LogProcessor', by_epoch=False)
    cfg.train_dataloader.batch_size = 2
    Runner.from_cfg(cfg).train()
    return osp.join(work_dir, 'iter_2.pth')
