# Copyright (c) mmext contributors. Based on mmdet's tools/train.py.
"""Train a detector (mmdet's CLI, plus mmext's safety nets).

On top of mmdet's ``tools/train.py`` this:

* imports mmext (registers its modules and allow-lists the classes mmengine
  stores in checkpoints, so ``--resume`` works with ``weights_only=True``);
* rejects misspelt top-level config keys (``trian_cfg``) that mmengine would
  silently ignore;
* writes checkpoints atomically unless the config picks a backend;
* picks gloo and a CPU-form DDP wrapper when CUDA is absent, so
  ``tools/dist_train.sh CONFIG 2`` also runs on a CPU machine.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmext  # noqa: E402,F401
from mmext.utils import (load_cli_config,  # noqa: E402
                         setup_distributed_backend, shutdown_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # When using PyTorch version >= 2.0.0, the `torch.distributed.launch`
    # will pass the `--local-rank` parameter to `tools/train.py` instead
    # of `--local_rank`.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_train_config(args) -> Config:
    """Load the config and apply the command-line overrides."""
    cfg = load_cli_config(args.config, args.cfg_options, args.launcher,
                          args.work_dir)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP training is already enabled in your config.')
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type '
                f'is `OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise KeyError('Can not find "auto_scale_lr" or '
                           '"auto_scale_lr.enable" or '
                           '"auto_scale_lr.base_batch_size" in your'
                           f' configuration file {args.config}.')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    load_from = cfg.get('load_from')
    if load_from and not cfg.get('resume') and '://' not in load_from \
            and not osp.isfile(load_from):
        hint = ''
        if '/_start/' in load_from:
            hint = (' It is the toy benchmark\'s shared start: build it once '
                    'with `bash scripts/run_toy_benchmark.sh` or `python '
                    'tools/sweep.py CONFIG --start '
                    'configs/toy_start/mask-rcnn_r18_fpn_start_toy.py`, or '
                    'train from scratch with --cfg-options load_from=None.')
        raise FileNotFoundError(
            f'load_from checkpoint of {args.config} not found: '
            f'{load_from}.{hint}')

    checkpoint_hook = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint_hook is not None and checkpoint_hook.get(
            'backend_args') is None:
        checkpoint_hook['backend_args'] = dict(backend='local_atomic')
    if args.launcher != 'none':
        setup_distributed_backend(cfg)
    return cfg


def main():
    args = parse_args()
    cfg = build_train_config(args)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    main()
