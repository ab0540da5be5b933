"""Run records: the metric files of tested runs and the logs of trained runs.

``tools/test.py`` writes one *metrics record* per tested checkpoint, a JSON
object of this shape::

    {"config": "configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py",
     "config_name": "atmask-rcnn_r18_fpn_1x_toy",
     "checkpoint": "work_dirs/atmask-rcnn_r18_fpn_1x_toy/epoch_12.pth",
     "timestamp": "20261121_213000",
     "metrics": {"coco/bbox_mAP": 0.512, "coco/segm_mAP": 0.49, ...},
     "speed": {"train_s_per_iter": 0.21, "test_img_per_s": 35.2}}

It goes to ``<work_dir>/metrics.json`` and, beside the checkpoint, to
``<ckpt_dir>/<ckpt_stem>_metrics.json``. Metric keys are mmengine's
(``coco/segm_mAP_50``); values are what the evaluator returned (COCO APs are
fractions in [0, 1]). ``speed`` may be missing or partial.

``tools/analysis_tools/make_table.py``, ``tools/sweep.py`` and
``tools/analysis_tools/plot_curves.py`` read these records and the mmengine
scalar logs (``<work_dir>/<timestamp>/vis_data/scalars.json``, one JSON object
per line) through the functions here. This module only needs the standard
library, so the tools run without importing torch or mmdet.
"""
import glob
import json
import os
import os.path as osp
import re
import statistics
import time
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from .atomic_io import atomic_write_text

METRICS_FILENAME = 'metrics.json'
#: mmengine's run directories are named by ``time.strftime('%Y%m%d_%H%M%S')``.
TIMESTAMP_DIR_PATTERN = re.compile(r'^\d{8}_\d{6}$')


# --------------------------------------------------------------------------
# metrics records
# --------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tensors that evaluators return."""
    if hasattr(obj, 'tolist'):  # numpy scalar or array, torch tensor
        return obj.tolist()
    if hasattr(obj, 'item'):
        return obj.item()
    raise TypeError(f'Object of type {type(obj).__name__} is not JSON '
                    'serializable')


def atomic_write_json(path: str, obj: Any) -> str:
    """Write JSON to ``path`` atomically (temporary file, fsync, rename).

    Readers see the old file or the new one, never a half-written one, and
    a killed writer leaves the old file intact. Parent directories are
    created; numpy scalars and tensors are converted.

    Returns:
        str: ``path``.
    """
    atomic_write_text(
        path, json.dumps(obj, indent=2, default=_json_default) + '\n')
    return path


def write_metrics_record(path: str, record: dict) -> str:
    """Write a metrics record atomically.

    The JSON goes to a temporary file in the same directory first and is then
    moved over ``path`` with :func:`os.replace`, so readers (a sweep, a table
    built while runs are going) see the old file or the new one, never a
    half-written one.

    Args:
        path (str): Destination file. Parent directories are created.
        record (dict): The record; numpy scalars are converted.

    Returns:
        str: ``path``.
    """
    if not isinstance(record, dict):
        raise TypeError(f'record for {path} must be a dict, got '
                        f'{type(record).__name__}')
    return atomic_write_json(path, record)


def metrics_record_paths(work_dir: str, checkpoint: str) -> List[str]:
    """Where ``tools/test.py`` writes the record of ``checkpoint``.

    Returns:
        list[str]: ``[<work_dir>/metrics.json,
        <ckpt_dir>/<ckpt_stem>_metrics.json]``.
    """
    stem = osp.splitext(osp.basename(checkpoint))[0]
    return [
        osp.join(work_dir, METRICS_FILENAME),
        osp.join(osp.dirname(checkpoint), f'{stem}_metrics.json')
    ]


def build_metrics_record(config: str,
                         checkpoint: str,
                         metrics: Dict[str, Any],
                         work_dir: Optional[str] = None,
                         test_img_per_s: Optional[float] = None,
                         train_s_per_iter: Optional[float] = None,
                         timestamp: Optional[str] = None) -> dict:
    """Assemble a metrics record in the layout documented above.

    Args:
        config (str): Config file path.
        checkpoint (str): Tested checkpoint path.
        metrics (dict): The evaluator's output (``runner.test()``).
        work_dir (str, optional): Training work dir; when given and
            ``train_s_per_iter`` is None, the training speed is read from its
            scalar logs with :func:`read_train_speed`.
        test_img_per_s (float, optional): Measured test throughput.
        train_s_per_iter (float, optional): Training seconds per iteration.
        timestamp (str, optional): Defaults to now, ``%Y%m%d_%H%M%S``.
    """
    if train_s_per_iter is None and work_dir is not None:
        train_s_per_iter = read_train_speed(work_dir)
    speed = {}
    if train_s_per_iter is not None:
        speed['train_s_per_iter'] = float(train_s_per_iter)
    if test_img_per_s is not None:
        speed['test_img_per_s'] = float(test_img_per_s)
    record = dict(
        config=config,
        config_name=osp.splitext(osp.basename(config))[0],
        checkpoint=checkpoint,
        timestamp=timestamp or time.strftime('%Y%m%d_%H%M%S'),
        metrics={
            k: _json_default(v) if hasattr(v, 'item') else v
            for k, v in metrics.items()
        })
    if speed:
        record['speed'] = speed
    return record


def _as_list(paths_or_globs: Union[str, Iterable[str]]) -> List[str]:
    if isinstance(paths_or_globs, (str, os.PathLike)):
        return [os.fspath(paths_or_globs)]
    return [os.fspath(p) for p in paths_or_globs]


def _has_magic(pattern: str) -> bool:
    return glob.has_magic(pattern)


def resolve_record_path(path: str) -> str:
    """A directory means its ``metrics.json``; a file means itself."""
    if osp.isdir(path):
        return osp.join(path, METRICS_FILENAME)
    return path


def read_metrics_record(path: str) -> dict:
    """Read one record file (or ``<dir>/metrics.json``).

    Records without a ``metrics`` mapping (a plain ``{"coco/bbox_mAP": ..}``
    dump) are wrapped so that callers can always use ``record['metrics']``.
    ``config_name`` falls back to the config's stem or the work dir's name.
    The source file is kept under ``record['record_path']``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a JSON object.
    """
    path = resolve_record_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'metrics record not found: {path}')
    try:
        with open(path) as f:
            record = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path} is not valid JSON: {e}') from e
    if not isinstance(record, dict):
        raise ValueError(f'{path} must hold a JSON object, got '
                         f'{type(record).__name__}')
    if not isinstance(record.get('metrics'), dict):
        record = dict(
            metrics={
                k: v
                for k, v in record.items() if isinstance(v, (int, float))
            },
            **{
                k: v
                for k, v in record.items()
                if not isinstance(v, (int, float)) and k != 'metrics'
            })
    if not record.get('config_name'):
        if record.get('config'):
            record['config_name'] = osp.splitext(
                osp.basename(record['config']))[0]
        else:
            record['config_name'] = osp.basename(
                osp.dirname(osp.abspath(path)))
    record['record_path'] = path
    return record


def load_metrics_records(paths_or_globs: Union[str, Iterable[str]],
                         strict: bool = False) -> List[dict]:
    """Load metrics records from files, directories or glob patterns.

    Each entry may be a record file, a work dir (its ``metrics.json`` is
    read) or a glob matching either. Glob matches are sorted by name; entries
    keep the given order; a file reached twice is loaded once.

    Args:
        paths_or_globs (str | list[str]): Paths, directories or patterns.
        strict (bool): Raise instead of warning when an entry matches
            nothing or a file cannot be read. Defaults to False.

    Returns:
        list[dict]: Records as returned by :func:`read_metrics_record`.
    """
    records, seen = [], set()
    for entry in _as_list(paths_or_globs):
        if _has_magic(entry):
            matches = sorted(glob.glob(entry))
            candidates = [
                resolve_record_path(m) for m in matches
                if osp.isfile(resolve_record_path(m))
            ]
            if not candidates:
                msg = f'no metrics record matches {entry!r}'
                if strict:
                    raise FileNotFoundError(msg)
                warnings.warn(msg)
        else:
            candidates = [resolve_record_path(entry)]
        for path in candidates:
            key = osp.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            try:
                records.append(read_metrics_record(path))
            except (FileNotFoundError, ValueError) as e:
                if strict:
                    raise
                warnings.warn(str(e))
    return records


# --------------------------------------------------------------------------
# mmengine scalar logs
# --------------------------------------------------------------------------
def find_scalar_logs(work_dir: str) -> List[str]:
    """All ``<work_dir>/<timestamp>/vis_data/scalars.json``, oldest first.

    mmengine starts a new ``<timestamp>`` directory for every run in a work
    dir (a resumed training, a test), so one training can span several.
    """
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in sorted(os.listdir(work_dir)):
        if not TIMESTAMP_DIR_PATTERN.match(name):
            continue
        path = osp.join(work_dir, name, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            found.append(path)
    return found


def read_scalar_log(path: str) -> List[dict]:
    """Read one mmengine ``scalars.json`` (one JSON object per line).

    Lines that are not JSON objects (a line cut short by a killed run) are
    skipped with a warning that names the file and the line.
    """
    entries = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(f'{path}:{lineno}: skipping a line that is not '
                              'JSON (an interrupted write?)')
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def is_train_entry(entry: dict) -> bool:
    """Training lines carry the learning rate and losses; validation lines
    carry metrics, ``time``, ``data_time`` and ``step`` only."""
    return ('lr' in entry or 'base_lr' in entry
            or any(k == 'loss' or k.startswith('loss_') for k in entry))


def read_train_speed(work_dir: str) -> Optional[float]:
    """Median training time per iteration of the newest training run.

    Reads the newest ``<work_dir>/<timestamp>/vis_data/scalars.json`` that
    has training lines (a later test run in the same work dir writes a
    timestamp dir without them) and returns the median ``time`` of its
    training lines. mmengine logs ``time`` averaged over the logging window;
    the median keeps the slow first iterations (warm-up, cudnn tuning) out.

    Returns:
        float | None: Seconds per iteration, or None when no log is found.
    """
    for path in reversed(find_scalar_logs(work_dir)):
        times = [
            float(e['time']) for e in read_scalar_log(path)
            if is_train_entry(e) and isinstance(e.get('time'), (int, float))
        ]
        if times:
            return float(statistics.median(times))
    return None


def find_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in mmengine's ``<work_dir>/last_checkpoint``.

    mmengine writes the path as it saved it (relative to the cwd of the
    training, or absolute); a relative path that does not exist from here is
    also tried inside ``work_dir``. Returns None when there is no such file
    or the checkpoint it names is gone.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        ckpt = f.read().strip()
    if not ckpt:
        return None
    for candidate in (ckpt, osp.join(work_dir, osp.basename(ckpt))):
        if osp.isfile(candidate):
            return candidate
    return None


__all__: Sequence[str] = [
    'METRICS_FILENAME', 'atomic_write_json', 'write_metrics_record',
    'metrics_record_paths', 'build_metrics_record', 'read_metrics_record',
    'load_metrics_records', 'resolve_record_path', 'find_scalar_logs',
    'read_scalar_log', 'is_train_entry', 'read_train_speed',
    'find_last_checkpoint'
]
