# Copyright (c) mmext contributors. Based on mmdet's tools/test.py.
"""Test a detector and record its metrics for tables.

Besides mmdet's ``tools/test.py`` behaviour, every run writes a metrics
record (config, checkpoint, metrics, training s/iter and inference img/s) to
``<work_dir>/metrics.json`` and next to the checkpoint as
``<ckpt_stem>_metrics.json``; ``tools/analysis_tools/make_table.py`` builds
paper-style tables from these files.
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet.engine.hooks.utils import trigger_visualization_hook  # noqa: E402
from mmdet.evaluation import DumpDetResults  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmext  # noqa: E402,F401
from mmext.engine.hooks import InferenceSpeedHook  # noqa: E402
from mmext.utils import (load_cli_config,  # noqa: E402
                         setup_distributed_backend, shutdown_distributed)
from mmext.utils.run_records import (read_train_speed,  # noqa: E402
                                     write_metrics_record)


def parse_args():
    parser = argparse.ArgumentParser(
        description='MMDet test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
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
    parser.add_argument('--tta', action='store_true')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = load_cli_config(args.config, args.cfg_options, args.launcher,
                          args.work_dir)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        if 'tta_model' not in cfg:
            raise KeyError(f'{args.config} has no `tta_model`, which --tta '
                           'needs')
        cfg.model = dict(**cfg.tta_model, module=cfg.model)
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        test_data_cfg.pipeline = cfg.tta_pipeline
    if args.launcher != 'none':
        setup_distributed_backend(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    if args.out is not None:
        assert args.out.endswith(('.pkl', '.pickle')), \
            'The dump file must be a pkl file.'
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))

    speed_hook = InferenceSpeedHook()
    runner.register_hook(speed_hook, priority='VERY_LOW')
    metrics = runner.test()

    if is_main_process():
        speed = dict(test_img_per_s=speed_hook.images_per_second)
        train_speed = read_train_speed(osp.dirname(args.checkpoint))
        if train_speed is not None:
            speed['train_s_per_iter'] = train_speed
        record = dict(
            config=args.config,
            config_name=osp.splitext(osp.basename(args.config))[0],
            checkpoint=args.checkpoint,
            timestamp=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
            metrics={k: _to_builtin(v)
                     for k, v in metrics.items()},
            speed=speed)
        ckpt_stem = osp.splitext(args.checkpoint)[0]
        for path in (osp.join(cfg.work_dir, 'metrics.json'),
                     f'{ckpt_stem}_metrics.json'):
            write_metrics_record(path, record)
        runner.logger.info(f'metrics written to {cfg.work_dir}/metrics.json '
                           f'and {ckpt_stem}_metrics.json')
    shutdown_distributed()


def _to_builtin(value):
    """numpy scalars -> Python numbers, so the record is plain JSON."""
    return value.item() if hasattr(value, 'item') else value


if __name__ == '__main__':
    main()
