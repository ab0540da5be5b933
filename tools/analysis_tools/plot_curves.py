"""Plot loss and metric curves of several runs into one PNG.

Reads mmengine's scalar logs, ``<work_dir>/<timestamp>/vis_data/scalars.json``
(one JSON object per line), of every run and draws one subplot per key and
one line per run::

    python tools/analysis_tools/plot_curves.py \\
        --work-dirs work_dirs/mask-rcnn_r18_fpn_1x_toy 'work_dirs/atmask*' \\
        --keys loss loss_mask coco/segm_mAP --out curves.png

The x axis is the training iteration for every key:

* training lines carry ``step`` = iteration;
* validation lines carry ``step`` = epoch (``LoggerHook`` default
  ``log_metric_by_epoch=True`` in epoch-based runs), or iteration
  (``log_metric_by_epoch=False``), or 0 (iteration-based runs that log by
  epoch). A validation line follows the training lines of the epoch it
  evaluates, so an epoch step is placed at ``epoch * iters_per_epoch``, with
  iters_per_epoch estimated from the training lines (``iter``/``epoch``),
  and never before the training line that precedes it; a step of 0 is
  placed at that preceding training iteration.

A run resumed in the same work dir has several timestamp dirs; they are read
oldest first and a later line for the same iteration replaces an earlier
one. A key is looked up in training lines first, then in validation lines;
``segm_mAP`` also finds ``coco/segm_mAP``. ``--smooth N`` draws a moving
average over N logged points of the training keys.

``--test-records`` also reads ``<work_dir>/metrics.json``, the record
``tools/test.py`` writes for the tested checkpoint, as one validation point
at that checkpoint's iteration (``iter_300.pth`` -> 300; else the last
training iteration). The toy benchmark's fine-tunes skip validation during
training (``train_cfg.val_begin`` beyond the schedule) and are tested once,
so their AP is that single point per run.
"""
import argparse
import glob
import math
import os.path as osp
import re
import sys
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# mmengine/mmcv import pkg_resources; its deprecation notice is noise here
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mmext.utils.run_records import (  # noqa: E402
    METRICS_FILENAME, find_scalar_logs, is_train_entry, read_metrics_record,
    read_scalar_log)


@dataclass
class RunCurves:
    """The scalar series of one run: key -> (x = iteration, y)."""
    name: str
    train: Dict[str, Tuple[List[float],
                           List[float]]] = field(default_factory=dict)
    val: Dict[str, Tuple[List[float],
                         List[float]]] = field(default_factory=dict)

    def keys(self) -> List[str]:
        return list(self.train) + [k for k in self.val if k not in self.train]

    def resolve(self, key: str) -> Optional[str]:
        """``key`` itself or the one key ending with ``/key``."""
        if key in self.train or key in self.val:
            return key
        matches = [k for k in self.keys() if k.endswith('/' + key)]
        return matches[0] if len(matches) == 1 else None

    def series(
            self,
            key: str) -> Optional[Tuple[str, List[float], List[float], bool]]:
        """(resolved key, x, y, is_val) or None when the run lacks it."""
        resolved = self.resolve(key)
        if resolved is None:
            return None
        if resolved in self.train:
            return (resolved, *self.train[resolved], False)
        return (resolved, *self.val[resolved], True)


def _number(value) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _test_record_point(work_dir: str,
                       last_iter: int) -> Optional[Tuple[float, dict]]:
    """``(iteration, metrics)`` of ``<work_dir>/metrics.json`` or None."""
    path = osp.join(work_dir, METRICS_FILENAME)
    if not osp.isfile(path):
        return None
    try:
        record = read_metrics_record(path)
    except ValueError as e:
        warnings.warn(str(e))
        return None
    match = re.search(r'iter_(\d+)\.pth$', str(record.get('checkpoint', '')))
    x = int(match.group(1)) if match else last_iter
    return float(x), dict(record['metrics'])


def load_run_curves(source: str,
                    name: Optional[str] = None,
                    test_record: bool = False) -> RunCurves:
    """Read every scalar log of a work dir (or one ``scalars.json``).

    Args:
        source: Work dir or ``scalars.json``.
        name: Legend name; default the work dir's name.
        test_record: Add the work dir's ``metrics.json`` (tools/test.py) as
            a validation point at the tested iteration; scalar-log
            validation at the same iteration wins.

    Raises:
        FileNotFoundError: no scalar log is there.
    """
    if osp.isfile(source):
        files = [source]
        default_name = osp.basename(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(source)))))
    else:
        files = find_scalar_logs(source)
        default_name = osp.basename(osp.normpath(source))
    if not files:
        raise FileNotFoundError(
            f'no mmengine scalar log under {source} (expected '
            '<work_dir>/<timestamp>/vis_data/scalars.json)')
    entries = [e for f in files for e in read_scalar_log(f)]

    # iterations per epoch: a line of epoch e at iteration i has
    # (e - 1) * ipe < i <= e * ipe, hence ipe >= i / e.
    ipe = 0
    for e in entries:
        if is_train_entry(e) and e.get('epoch') and e.get('iter'):
            ipe = max(ipe, math.ceil(e['iter'] / e['epoch']))

    train: Dict[int, dict] = {}
    val_points: List[Tuple[float, dict]] = []
    last_iter, last_epoch = 0, None
    for e in entries:
        if is_train_entry(e):
            it = int(e.get('iter', e.get('step', 0)))
            train[it] = e  # a resumed run's line replaces the older one
            last_iter, last_epoch = it, e.get('epoch')
            continue
        step = e.get('step', 0)
        if last_epoch is not None and step == last_epoch and ipe:
            x = max(step * ipe, last_iter)  # step is an epoch
        elif step >= last_iter:
            x = step  # step is an iteration (or there is no training log)
        else:
            x = last_iter  # step 0 / unknown: where validation ran
        val_points.append((float(x), e))

    if test_record and osp.isdir(source):
        point = _test_record_point(source, last_iter)
        if point is not None and point[0] not in {x for x, _ in val_points}:
            val_points.append(point)
            val_points.sort(key=lambda p: p[0])

    curves = RunCurves(name or default_name)
    for it in sorted(train):
        for key, value in train[it].items():
            value = _number(value)
            if key in ('step', 'iter', 'epoch') or value is None:
                continue
            xs, ys = curves.train.setdefault(key, ([], []))
            xs.append(float(it))
            ys.append(value)
    val_by_x: Dict[float, dict] = {}
    for x, e in val_points:
        val_by_x[x] = e  # a repeated validation replaces the older one
    for x in sorted(val_by_x):
        for key, value in val_by_x[x].items():
            value = _number(value)
            if key in ('step', 'time', 'data_time') or value is None:
                continue
            xs, ys = curves.val.setdefault(key, ([], []))
            xs.append(x)
            ys.append(value)
    return curves


def moving_average(values: Sequence[float], window: int) -> List[float]:
    """Trailing mean over ``window`` points (shorter at the start)."""
    if window <= 1:
        return list(values)
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def expand_sources(patterns: Sequence[str]) -> List[str]:
    sources: List[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) \
            else [pattern]
        if not matches:
            warnings.warn(f'{pattern!r} matches nothing')
        sources += [m for m in matches if m not in sources]
    return sources


def plot_curves(work_dirs: Sequence[str],
                keys: Sequence[str],
                out: str,
                labels: Optional[Sequence[str]] = None,
                smooth: int = 1,
                title: Optional[str] = None,
                ncols: int = 3,
                test_records: bool = False):
    """Draw ``keys`` of the runs in ``work_dirs`` into ``out``.

    Args:
        work_dirs: Work dirs, globs or ``scalars.json`` files.
        keys: One subplot per key (``loss``, ``coco/segm_mAP`` ...).
        out: PNG (or any format matplotlib writes) path.
        labels: Legend names, one per run; default the work dir names.
        smooth: Moving-average window for training keys.
        title: Figure title.
        ncols: Subplots per row.
        test_records: Add each work dir's ``metrics.json`` as a validation
            point (see :func:`load_run_curves`).

    Returns:
        matplotlib.figure.Figure: The figure (``len(keys)`` axes), saved.

    Raises:
        FileNotFoundError: none of the runs has a scalar log.
        ValueError: no keys, or ``labels`` of the wrong length.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not keys:
        raise ValueError('give at least one key to plot')
    sources = expand_sources(work_dirs)
    if labels is not None and len(labels) != len(sources):
        raise ValueError(f'{len(labels)} labels for {len(sources)} runs: '
                         f'{sources}')
    runs: List[RunCurves] = []
    for i, source in enumerate(sources):
        try:
            runs.append(
                load_run_curves(source, labels[i] if labels else None,
                                test_records))
        except FileNotFoundError as e:
            warnings.warn(str(e))
    if not runs:
        raise FileNotFoundError(f'no scalar logs in any of {list(work_dirs)}')

    last_x = max((xs[-1] for run in runs
                  for xs, _ in (*run.train.values(), *run.val.values()) if xs),
                 default=0.0)
    ncols = max(1, min(ncols, len(keys)))
    nrows = math.ceil(len(keys) / ncols)
    fig = plt.figure(figsize=(5.0 * ncols, 3.6 * nrows))
    for k, key in enumerate(keys):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        resolved_names = set()
        for run in runs:
            found = run.series(key)
            if found is None:
                warnings.warn(f'{run.name} has no {key!r} (keys: '
                              f'{run.keys()})')
                continue
            resolved, xs, ys, is_val = found
            resolved_names.add(resolved)
            if is_val:
                ax.plot(xs, ys, marker='o', markersize=3, label=run.name)
            else:
                ax.plot(
                    xs,
                    moving_average(ys, smooth),
                    label=run.name,
                    linewidth=1.2)
        ax.set_title(' / '.join(sorted(resolved_names)) or key)
        panel_xs = {x for line in ax.lines for x in line.get_xdata()}
        if len(panel_xs) == 1 and last_x > 0:
            # single validation points (runs tested once): place them at
            # the end of the training axis, not alone in a +-5% window
            ax.set_xlim(0, last_x * 1.04)
        ax.set_xlabel('iteration')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize='small')
        else:
            ax.text(
                0.5,
                0.5,
                f'no {key!r} in any run',
                ha='center',
                va='center',
                transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return fig


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot loss/metric curves of several runs from mmengine '
        'scalar logs into one image.')
    parser.add_argument(
        '--work-dirs',
        nargs='+',
        required=True,
        help='work dirs (globs allowed) or vis_data/scalars.json files')
    parser.add_argument(
        '--keys',
        nargs='+',
        default=['loss', 'coco/segm_mAP'],
        help='scalar keys, one subplot each (default: loss coco/segm_mAP)')
    parser.add_argument('--labels', nargs='+', help='legend names')
    parser.add_argument(
        '--smooth',
        type=int,
        default=1,
        help='moving-average window for training keys')
    parser.add_argument('--title')
    parser.add_argument('--ncols', type=int, default=3)
    parser.add_argument(
        '--test-records',
        action='store_true',
        help='add each work dir\'s metrics.json (tools/test.py) as a '
        'validation point at the tested iteration')
    parser.add_argument('--out', default='curves.png')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    fig = plot_curves(args.work_dirs, args.keys, args.out, args.labels,
                      args.smooth, args.title, args.ncols, args.test_records)
    import matplotlib.pyplot as plt
    plt.close(fig)
    print(f'written: {args.out}')
    return args.out


if __name__ == '__main__':
    # one line per warning on the command line, no source echo
    warnings.formatwarning = (
        lambda message, *args, **kwargs: f'warning: {message}\n')
    main()
