"""Time training steps and inference of detectors against a baseline.

Every model is built from its config with pretrained weights switched off
(``init_cfg`` of type ``Pretrained`` removed) and, unless checkpoints are
given, the same random initialisation: the RNG is re-seeded before each build,
so modules that two models share (backbone, neck, RPN, box head) get the same
weights and therefore the same detections, and only the method's own parts
differ. All models see the same batch:

* ``--inputs synthetic`` (default): ``mmdet.testing.demo_mm_inputs`` random
  images with random boxes and masks (``--img-size``, ``--num-instances``);
* ``--inputs dataset``: the first ``--batch-size`` samples of the baseline
  config's ``train_dataloader`` dataset (e.g. the toy set in ``data/toy/``).

Training step = ``model.train_step`` (data preprocessing, forward, backward,
optimizer step of the config's ``optim_wrapper``). The step runs with the
learning rate set to 0 unless ``--update-weights`` is given: the weights, and
with them the proposals and the number of sampled positive RoIs that the
RoI heads process, then stay the same across iterations and across models,
so the ratio measures the method and not where training drifted. Inference =
``model.predict`` on a preprocessed batch under ``torch.no_grad()``. Each is
timed as the median over ``--iters`` iterations after ``--warmup``
iterations, the models taking turns iteration by iteration so that a change
of machine load hits all of them alike. On a shared CPU machine set
``--threads 1`` (or ``OMP_NUM_THREADS=1``): oversubscribed threads make the
timings erratic. Parameters: total at training; at test the result of
``model.inference_params()`` when the model has that method (it should count
only what ``predict`` uses), else the total. Example::

    python tools/analysis_tools/benchmark_model.py \\
        configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py \\
        --baseline configs/mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py

``--roi-layers RoIAlign MMExtRoIAlign`` measures every config (the baseline
included) once per given RoI layer type: the ``type`` of each plain RoIAlign
``roi_layer`` of the model (``RoIAlign`` or ``MMExtRoIAlign``; SaRoIAlign and
other layers are kept) is replaced, and the ratios refer to the baseline with
the first type. mmcv's and mmext's RoIAlign compared on the toy Mask R-CNN::

    python tools/analysis_tools/benchmark_model.py \\
        --baseline configs/mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py \\
        --roi-layers RoIAlign MMExtRoIAlign --inputs dataset

``--baseline-roi-layer RoIAlign`` instead swaps the baseline's RoI layers
only, so every config, as configured, is compared with the baseline on
mmcv's RoIAlign (``scripts/benchmark_speed.sh`` does this for every toy
config, and for the R50 COCO configs with ``--img-shape 800 1333
--batch-size 1``). ``--out-md`` also writes the table to a file.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time
from typing import Callable, List, Optional

import torch

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.logging import MessageHub, MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmext  # noqa: E402,F401
from mmext.apis.inference import load_checkpoint_strict  # noqa: E402
from mmext.utils.config_check import load_cli_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Benchmark training step and inference against a '
        'baseline config')
    parser.add_argument(
        'configs', nargs='*', help='configs to measure besides the baseline')
    parser.add_argument(
        '--baseline', required=True, help='config the ratios refer to')
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        default=None,
        help='checkpoints of the configs, in order (optional)')
    parser.add_argument(
        '--baseline-checkpoint', default=None, help='baseline checkpoint')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument(
        '--inputs', choices=['synthetic', 'dataset'], default='synthetic')
    parser.add_argument(
        '--img-size', type=int, default=128, help='synthetic image side')
    parser.add_argument(
        '--img-shape',
        type=int,
        nargs=2,
        default=None,
        metavar=('H', 'W'),
        help='synthetic image shape (overrides --img-size), e.g. 800 1333')
    parser.add_argument(
        '--num-instances',
        type=int,
        default=4,
        help='synthetic ground-truth instances per image')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--update-weights',
        action='store_true',
        help='let the timed training steps update the weights (default: '
        'learning rate 0, so every iteration processes the same RoIs)')
    parser.add_argument(
        '--skip', choices=['train', 'test'], default=None,
        help='skip one of the two measurements')
    parser.add_argument(
        '--roi-layers',
        nargs='+',
        default=None,
        metavar='TYPE',
        help='measure every config once per RoI layer type (e.g. RoIAlign '
        'MMExtRoIAlign), set as the type of its plain RoIAlign roi_layers')
    parser.add_argument(
        '--baseline-roi-layer',
        default=None,
        metavar='TYPE',
        help='RoI layer type of the baseline only (e.g. RoIAlign: ratios '
        'against mmcv\'s RoIAlign while the configs keep theirs); the '
        'baseline config may then be listed among the configs as well')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='after timing, profile each model (torch.profiler, module '
        'scopes) and print where its time goes beyond the baseline\'s')
    parser.add_argument(
        '--profile-iters', type=int, default=3,
        help='profiled iterations per model and pass')
    parser.add_argument(
        '--profile-depth', type=int, default=2,
        help='deepest submodule given its own scope (2: roi_head.mask_head)')
    parser.add_argument(
        '--profile-top', type=int, default=12,
        help='rows of each profile table')
    parser.add_argument(
        '--out-md', default=None, help='also write the table to this file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides applied to every config')
    return parser.parse_args()


# roi_layer types that --roi-layers swaps: the same op, other kernels
PLAIN_ROI_LAYERS = ('RoIAlign', 'MMExtRoIAlign')


def visit_dicts(cfg, fn: Callable[[dict], None]) -> None:
    """Call ``fn`` on every dict nested in ``cfg`` (dicts, lists, tuples)."""
    if isinstance(cfg, dict):
        fn(cfg)
        for value in cfg.values():
            visit_dicts(value, fn)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            visit_dicts(value, fn)


def strip_pretrained(cfg: dict) -> None:
    """Remove ``init_cfg`` entries that load weights, recursively."""

    def strip(d: dict) -> None:
        init_cfg = d.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            d['init_cfg'] = None

    visit_dicts(cfg, strip)


def set_roi_layers(cfg: dict, layer_type: str) -> None:
    """Set the type of every plain RoIAlign ``roi_layer``, recursively."""

    def set_type(d: dict) -> None:
        layer = d.get('roi_layer')
        if isinstance(layer, dict) and layer.get('type') in PLAIN_ROI_LAYERS:
            layer['type'] = layer_type

    visit_dicts(cfg, set_type)


def load_cfg(path: str,
             cfg_options: Optional[dict],
             roi_layer: Optional[str] = None) -> Config:
    cfg = load_cli_config(path, cfg_options)
    strip_pretrained(cfg.model)
    if roi_layer is not None:
        set_roi_layers(cfg.model, roi_layer)
    return cfg


def num_classes_of(cfg: Config) -> int:
    """Number of classes from the RoI/bbox head (first stage if a list)."""
    model = cfg.model
    for head in (model.get('roi_head', {}).get('bbox_head'),
                 model.get('bbox_head')):
        if isinstance(head, (list, tuple)):
            head = head[0]
        if head is not None and 'num_classes' in head:
            return head['num_classes']
    raise KeyError('cannot find model.roi_head.bbox_head.num_classes or '
                   'model.bbox_head.num_classes in the baseline config')


def make_inputs(args, cfg: Config) -> dict:
    if args.inputs == 'synthetic':
        from mmdet.testing import demo_mm_inputs
        img_h, img_w = args.img_shape or (args.img_size, args.img_size)
        return demo_mm_inputs(
            batch_size=args.batch_size,
            image_shapes=[(3, img_h, img_w)] * args.batch_size,
            num_items=[args.num_instances] * args.batch_size,
            num_classes=num_classes_of(cfg),
            with_mask=True)
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    if len(dataset) < args.batch_size:
        raise ValueError(f'the dataset of {cfg.filename} has {len(dataset)} '
                         f'samples, fewer than --batch-size '
                         f'{args.batch_size}')
    return pseudo_collate([dataset[i] for i in range(args.batch_size)])


class Entry:
    """One model under test."""

    def __init__(self, name: str, cfg: Config, checkpoint: Optional[str],
                 args) -> None:
        self.name = name
        self.cfg = cfg
        from mmdet.registry import MODELS
        torch.manual_seed(args.seed)
        self.model = MODELS.build(cfg.model).to(args.device)
        self.model.init_weights()
        if checkpoint is not None:
            # untrusted input: weights_only with mmext's allow-list, and
            # it must fit the config (a timing of half-loaded weights
            # would be meaningless)
            load_checkpoint_strict(self.model, checkpoint)
        self.train_params = sum(p.numel() for p in self.model.parameters())
        if hasattr(self.model, 'inference_params'):
            self.test_params = int(self.model.inference_params())
        else:
            self.test_params = self.train_params
        self.train_times: List[float] = []
        self.train_steps = 0
        self.test_times: List[float] = []
        self.dets_per_img: Optional[float] = None


def time_test(entry: Entry, packed: dict) -> float:
    model = entry.model
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(packed), False)
        # dataset inputs come through the train pipeline, which may flip;
        # test-time images are never flipped (cascade heads would try to
        # un-flip their masks otherwise)
        for data_sample in data['data_samples']:
            data_sample.set_metainfo(dict(flip=False, flip_direction=None))
        _sync(data['inputs'])
        start = time.perf_counter()
        results = model.predict(data['inputs'], data['data_samples'])
        _sync(data['inputs'])
        elapsed = time.perf_counter() - start
    entry.dets_per_img = sum(len(r.pred_instances)
                             for r in results) / len(results)
    return elapsed


def time_train(entry: Entry, packed: dict, optim_wrapper) -> float:
    model = entry.model
    model.train()
    data = copy.deepcopy(packed)
    # the Runner publishes the iteration and some heads read it (BoxInst's
    # pairwise-loss warm-up); each model counts its own steps, as in training
    MessageHub.get_current_instance().update_info('iter', entry.train_steps)
    entry.train_steps += 1
    _sync(None)
    start = time.perf_counter()
    model.train_step(data, optim_wrapper)
    _sync(None)
    return time.perf_counter() - start


def _sync(_):
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run_round_robin(entries: List[Entry], step, iters: int,
                    warmup: int) -> List[List[float]]:
    times: List[List[float]] = [[] for _ in entries]
    for i in range(warmup + iters):
        for times_of_entry, entry in zip(times, entries):
            elapsed = step(entry)
            if i >= warmup:
                times_of_entry.append(elapsed)
    return times


def format_table(entries: List[Entry], batch_size: int) -> str:
    base = entries[0]
    header = [
        'config', 'train s/iter', 'train img/s', 'train ratio',
        'test s/iter', 'test img/s', 'test ratio', 'params train',
        'params test', 'dets/img'
    ]
    rows = []

    def med(values):
        return statistics.median(values) if values else float('nan')

    base_train, base_test = med(base.train_times), med(base.test_times)
    for entry in entries:
        tr, te = med(entry.train_times), med(entry.test_times)
        rows.append([
            entry.name + (' (baseline)' if entry is base else ''),
            f'{tr:.4f}', f'{batch_size / tr:.2f}', f'{tr / base_train:.3f}x',
            f'{te:.4f}', f'{batch_size / te:.2f}', f'{te / base_test:.3f}x',
            f'{entry.train_params / 1e6:.3f}M',
            f'{entry.test_params / 1e6:.3f}M',
            '-' if entry.dets_per_img is None else f'{entry.dets_per_img:.1f}'
        ])
    widths = [
        max(len(r[i]) for r in rows + [header]) for i in range(len(header))
    ]
    lines = [
        '| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |',
        '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    ]
    for row in rows:
        lines.append('| ' + ' | '.join(c.ljust(w)
                                       for c, w in zip(row, widths)) + ' |')
    return '\n'.join(lines)


def profile_entries(entries: List[Entry], packed: dict, args) -> str:
    """Markdown: each model's time beyond the baseline's, by module scope
    and by operator, for the training step and for inference."""
    from mmext.utils.profiling import extra_time_table, profile_steps
    passes = []
    if args.skip != 'train':
        passes.append(('training step', lambda e: time_train(
            e, packed, e.optim_wrapper)))
    if args.skip != 'test':
        passes.append(('inference', lambda e: time_test(e, packed)))
    sections = [
        f'Profiles: torch.profiler over {args.profile_iters} iterations per '
        'model after the timing above; scopes are inclusive CPU ms per '
        'iteration of module forwards and head methods (nested scopes '
        'overlap), operators self CPU ms per iteration (backward passes '
        'appear only as operators).'
    ]
    for title, step in passes:
        profiles = [
            profile_steps(lambda e=e: step(e), args.profile_iters, e.model,
                          args.profile_depth) for e in entries
        ]
        (base_scopes, base_ops, base_wall) = profiles[0]
        for entry, (scopes, ops, wall) in zip(entries[1:], profiles[1:]):
            sections.append(
                f'#### {entry.name}, {title}: {wall:.0f} ms vs '
                f'{base_wall:.0f} ms ({wall / base_wall:.2f}x)\n\n' +
                extra_time_table(base_scopes, scopes, args.profile_top,
                                 'scope') + '\n\n' +
                extra_time_table(base_ops, ops, args.profile_top,
                                 'operator (self)'))
    return '\n\n'.join(sections)


def main():
    args = parse_args()
    # the current mmengine logger; WARNING hides the per-parameter
    # init_weights report of every model built
    MMLogger.get_instance('benchmark_model', log_level='WARNING')
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = list(args.configs)
    checkpoints = args.checkpoints or [None] * len(configs)
    if len(checkpoints) != len(configs):
        raise ValueError(f'{len(checkpoints)} --checkpoints for '
                         f'{len(configs)} configs')

    base_cfg = load_cfg(args.baseline, args.cfg_options)
    init_default_scope(base_cfg.get('default_scope', 'mmdet'))
    packed = make_inputs(args, base_cfg)

    if args.baseline_roi_layer and args.roi_layers:
        raise ValueError('--baseline-roi-layer and --roi-layers exclude each '
                         'other')
    entries = []
    for i, (path, ckpt) in enumerate(
            zip([args.baseline] + configs,
                [args.baseline_checkpoint] + checkpoints)):
        name = osp.splitext(osp.basename(path))[0]
        roi_layers = args.roi_layers or [None]
        if i == 0 and args.baseline_roi_layer:
            roi_layers = [args.baseline_roi_layer]
        for roi_layer in roi_layers:
            entries.append(
                Entry(name + (f' [{roi_layer}]' if roi_layer else ''),
                      load_cfg(path, args.cfg_options, roi_layer), ckpt,
                      args))

    if args.skip != 'test':
        times = run_round_robin(entries, lambda e: time_test(e, packed),
                                args.iters, args.warmup)
        for e, t in zip(entries, times):
            e.test_times = t
    if args.skip != 'train':
        for e in entries:
            e.optim_wrapper = build_optim_wrapper(e.model,
                                                  e.cfg.optim_wrapper)
            if not args.update_weights:
                for group in e.optim_wrapper.optimizer.param_groups:
                    group['lr'] = 0.
        times = run_round_robin(
            entries, lambda e: time_train(e, packed, e.optim_wrapper),
            args.iters, args.warmup)
        for e, t in zip(entries, times):
            e.train_times = t

    inputs = args.inputs
    if inputs == 'synthetic':
        img_h, img_w = args.img_shape or (args.img_size, args.img_size)
        inputs = f'synthetic {img_h}x{img_w}'
    summary = (f'batch {args.batch_size}, {inputs} inputs, device '
               f'{args.device}, threads {torch.get_num_threads()}, median of '
               f'{args.iters} iters after {args.warmup} warm-up, weights '
               f'{"updated" if args.update_weights else "fixed (lr 0)"}')
    table = format_table(entries, args.batch_size)
    print(summary)
    print(table)
    if args.profile:
        table += '\n\n' + profile_entries(entries, packed, args)
        print(table.split('\n\n', 1)[1])
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(f'{summary}\n\n{table}\n')


if __name__ == '__main__':
    main()
