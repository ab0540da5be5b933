"""Train and test a family of configs one after another, then tabulate.

Examples::

    # every toy ATMask ablation, on this machine, then the table
    python tools/sweep.py 'configs/atmask/*_toy.py' \\
        --baseline atmask-rcnn_r18_fpn_1x_toy --out-md work_dirs/atmask.md

    # configs listed in a file (one a line, '#' comments), 8 GPUs each
    python tools/sweep.py --list ablations.txt --launcher pytorch --gpus 8

    # on a slurm partition, shorter schedule for all runs
    python tools/sweep.py 'configs/mrrcnn/*_coco.py' --launcher slurm \\
        --partition gpu --gpus 8 --cfg-options train_cfg.max_epochs=6

    # only show what would run
    python tools/sweep.py 'configs/atmask/*_toy.py' --dry-run

Each config trains into ``<work-dir-root>/<config name>`` and is tested on
its final checkpoint; ``tools/test.py`` writes ``metrics.json`` there. What a
run needs is read from its work dir, so a sweep can be stopped (Ctrl-C, a
lost node) and started again with the same command:

* ``skip``   — the final checkpoint exists and ``metrics.json`` is newer and
  names it (or there are no checkpoints left but a ``metrics.json`` is);
* ``test``   — the final checkpoint exists, its metrics do not;
* ``resume`` — mmengine's ``last_checkpoint`` names an existing checkpoint
  but not the final one: ``tools/train.py --resume`` continues from it;
* ``train``  — nothing usable yet.

The final checkpoint's name comes from the config (``epoch_<max_epochs>.pth``
or ``iter_<max_iters>.pth``, after ``--cfg-options``). ``--force`` retrains
everything; the old work dir is moved to
``<work-dir-root>/_superseded/<name>-<timestamp>/`` rather than deleted.

Progress: one header line per run (``[i/N] name: action``), then mmengine's
training/validation/test log lines re-printed compactly with a run prefix
(``[2/5 name] Epoch(train) [3][10/50] eta 0:01:23 loss 1.2345``). The full
output of every command goes to ``<work_dir>/sweep_<stage>.log``, and a
``<work_dir>/sweep_status.json`` tells the stage each run reached. A failing
run is reported with the tail of its log and the sweep goes on
(``--fail-fast`` stops); the exit code is 1 when any run failed.

Seeds and a shared start (the toy benchmark's protocol):

* ``--seeds N`` runs every config N times, with ``randomness.seed=k``
  (k = 0..N-1; the seed decides data order, augmentation and the
  initialisation of new layers) into ``<work-dir-root>/<name>/seed<k>``, seed
  after seed, so that a stopped 3-seed sweep already holds complete
  single-seed tables. The table then shows mean±std and deltas paired by
  seed (``make_table.py``).
* ``--start CONFIG`` first trains CONFIG once into
  ``<work-dir-root>/_start/<name>/`` and every run whose config loads a
  checkpoint fine-tunes from its weights (``load_from=<that dir>/start.pth``;
  a config with ``load_from = None``, such as the box-supervised ones that
  take only parts of the start through ``Pretrained`` init_cfgs, keeps its
  own references, which name the default ``work_dirs/_start/...``). The
  start is fingerprinted
  by its merged config and its train annotation file (so a changed
  generator rebuilds it) and rebuilt only when that changes; a run trained
  from another start (or from none) is retrained.

Progress: besides each run's own ETA, every run header gives the elapsed
time and the sweep's ETA, estimated from the finished runs (the same
config's earlier seed when there is one).

``--train-cmd``/``--test-cmd`` replace the commands by templates with the
fields ``{python} {tools} {config} {config_name} {work_dir} {gpus}
{partition} {job_name}`` (and ``{checkpoint}`` for tests); ``--resume`` and
``--cfg-options ...`` are appended as for the built-in commands.
"""
import argparse
import collections
import datetime
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

# mmengine/mmcv import pkg_resources; its deprecation notice is noise here
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
TOOLS_DIR = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(TOOLS_DIR)
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, osp.join(TOOLS_DIR, 'analysis_tools'))

from make_table import make_table  # noqa: E402

from mmext.utils.run_records import (
    METRICS_FILENAME,  # noqa: E402
    atomic_write_json,
    find_last_checkpoint,
    read_metrics_record)

START_DIRNAME = '_start'
START_CHECKPOINT = 'start.pth'
START_RECORD = 'start.json'

ACTIONS = ('skip', 'test', 'resume', 'train')
STATUS_FILENAME = 'sweep_status.json'
SUPERSEDED_DIRNAME = '_superseded'


# --------------------------------------------------------------------------
# what to run
# --------------------------------------------------------------------------
def expand_configs(patterns: Sequence[str] = (),
                   list_file: Optional[str] = None) -> List[str]:
    """Config files from globs/paths and a list file, in the given order.

    A glob's matches are sorted; a config named twice runs once.

    Raises:
        FileNotFoundError: a path, pattern or list entry matches no file.
    """
    entries = list(patterns)
    if list_file:
        if not osp.isfile(list_file):
            raise FileNotFoundError(f'config list not found: {list_file}')
        with open(list_file) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    entries.append(line)
    configs: List[str] = []
    for entry in entries:
        if glob.has_magic(entry):
            matches = sorted(p for p in glob.glob(entry) if osp.isfile(p))
            if not matches:
                raise FileNotFoundError(f'no config matches {entry!r}')
        elif osp.isfile(entry):
            matches = [entry]
        else:
            raise FileNotFoundError(f'config not found: {entry}')
        for m in matches:
            if osp.normpath(m) not in map(osp.normpath, configs):
                configs.append(m)
    return configs


def config_name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``['a.b=1', 'c=[1,2]']`` -> dict, with mmengine's ``DictAction``."""
    if not options:
        return {}
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def final_checkpoint_name(
    config: str, cfg_options: Sequence[str] = ()) -> Optional[str]:
    """File name of the checkpoint a complete training of ``config`` ends
    with: ``epoch_<max_epochs>.pth`` or ``iter_<max_iters>.pth``.

    mmengine's ``CheckpointHook`` always saves the last epoch/iteration
    (``save_last=True``). Returns None when the config does not tell
    (no ``train_cfg``, a loop type this does not know, an epoch loop saving
    by iteration, or a config that does not parse — the training will then
    report that error itself).
    """
    try:
        from mmengine.config import Config
        cfg = Config.fromfile(config, import_custom_modules=False)
        if cfg_options:
            cfg.merge_from_dict(parse_cfg_options(cfg_options))
    except Exception:  # noqa: BLE001 - training reports the real error
        return None
    train_cfg = cfg.get('train_cfg') or {}
    loop_type = train_cfg.get('type')
    if loop_type is None:
        by_epoch = train_cfg.get('by_epoch', 'max_epochs' in train_cfg)
    elif isinstance(loop_type, str) and 'EpochBased' in loop_type:
        by_epoch = True
    elif isinstance(loop_type, str) and 'IterBased' in loop_type:
        by_epoch = False
    else:
        return None
    ckpt_hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    if by_epoch:
        if not ckpt_hook.get('by_epoch', True):
            return None
        max_epochs = train_cfg.get('max_epochs')
        return f'epoch_{max_epochs}.pth' if max_epochs else None
    max_iters = train_cfg.get('max_iters')
    return f'iter_{max_iters}.pth' if max_iters else None


def _config_load_from(config: str) -> Optional[str]:
    """The config's ``load_from`` (None also when it does not parse)."""
    try:
        from mmengine.config import Config
        return Config.fromfile(
            config, import_custom_modules=False).get('load_from')
    except Exception:  # noqa: BLE001 - training reports the real error
        return None


@dataclass
class RunPlan:
    """What the sweep does for one config, and why."""
    config: str
    work_dir: str
    action: str  # one of ACTIONS
    reason: str
    checkpoint: Optional[str] = None  # final checkpoint (known or expected)
    supersede: bool = False  # move the old work dir away first (--force)
    # options of this run only (seed, shared start), after the sweep's own
    cfg_options: List[str] = field(default_factory=list)
    seed: Optional[int] = None

    @property
    def name(self) -> str:
        return config_name(self.config)

    @property
    def label(self) -> str:
        return self.name if self.seed is None else \
            f'{self.name} seed{self.seed}'


def _mtime(path: str) -> float:
    return os.stat(path).st_mtime


def _read_status(work_dir: str) -> dict:
    path = osp.join(work_dir, STATUS_FILENAME)
    try:
        with open(path) as f:
            status = json.load(f)
        return status if isinstance(status, dict) else {}
    except (OSError, ValueError):
        return {}


def plan_run(config: str,
             work_dir: str,
             final_ckpt_name: Optional[str],
             force: bool = False) -> RunPlan:
    """Decide from the work dir's state whether to skip, test, resume or
    train ``config``. See the module docstring for the rules.

    Args:
        config: Config file.
        work_dir: Its work dir (need not exist).
        final_ckpt_name: From :func:`final_checkpoint_name`; when None, a
            checkpoint is taken as final only if an earlier sweep recorded
            that its training finished with it.
        force: Train again whatever the state.
    """
    if force:
        return RunPlan(config, work_dir, 'train', '--force', supersede=True)
    final = osp.join(work_dir, final_ckpt_name) if final_ckpt_name else None
    if final is None:
        status = _read_status(work_dir)
        trained = status.get('trained_checkpoint')
        if trained and osp.isfile(trained):
            final = trained
    metrics = osp.join(work_dir, METRICS_FILENAME)
    if final is not None and osp.isfile(final):
        if not osp.isfile(metrics):
            return RunPlan(config, work_dir, 'test', 'trained, not tested',
                           final)
        if _mtime(metrics) < _mtime(final):
            return RunPlan(config, work_dir, 'test',
                           'metrics.json older than the checkpoint', final)
        try:
            tested = read_metrics_record(metrics).get('checkpoint') or ''
        except ValueError:
            return RunPlan(config, work_dir, 'test', 'metrics.json unreadable',
                           final)
        if tested and osp.basename(tested) != osp.basename(final):
            return RunPlan(
                config, work_dir, 'test',
                f'metrics.json is for {osp.basename(tested)}, not '
                f'{osp.basename(final)}', final)
        return RunPlan(config, work_dir, 'skip', 'trained and tested', final)
    last = find_last_checkpoint(work_dir)
    if last is not None:
        return RunPlan(config, work_dir, 'resume',
                       f'interrupted at {osp.basename(last)}', final)
    if osp.isfile(metrics) and not glob.glob(osp.join(work_dir, '*.pth')):
        return RunPlan(config, work_dir, 'skip',
                       'metrics.json present, no checkpoints', final)
    return RunPlan(
        config, work_dir, 'train',
        'new run' if not osp.isdir(work_dir) else 'no checkpoint yet', final)


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
@dataclass
class CommandBuilder:
    """Builds train/test command lines for a launcher or from templates."""
    launcher: str = 'none'
    gpus: int = 1
    partition: Optional[str] = None
    job_prefix: str = 'sweep'
    python: str = sys.executable
    cfg_options: Sequence[str] = ()
    train_template: Optional[str] = None
    test_template: Optional[str] = None
    env: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.launcher not in ('none', 'pytorch', 'slurm'):
            raise ValueError(f'unknown launcher {self.launcher!r}')
        if self.launcher == 'slurm' and not self.partition and not (
                self.train_template and self.test_template):
            raise ValueError('--launcher slurm needs --partition')

    def _fields(self, plan: RunPlan, checkpoint: str = '') -> dict:
        return dict(
            python=shlex.quote(self.python),
            tools=shlex.quote(TOOLS_DIR),
            config=shlex.quote(plan.config),
            config_name=shlex.quote(plan.name),
            work_dir=shlex.quote(plan.work_dir),
            checkpoint=shlex.quote(checkpoint),
            gpus=self.gpus,
            partition=shlex.quote(self.partition or ''),
            job_name=shlex.quote(f'{self.job_prefix}-{plan.name}'))

    def _options(self, plan: RunPlan) -> List[str]:
        options = [*self.cfg_options, *plan.cfg_options]
        return ['--cfg-options', *options] if options else []

    def train(self, plan: RunPlan, resume: bool) -> List[str]:
        tools = TOOLS_DIR
        if self.train_template:
            cmd = shlex.split(self.train_template.format(**self._fields(plan)))
        elif self.launcher == 'none':
            cmd = [
                self.python,
                osp.join(tools, 'train.py'), plan.config, '--work-dir',
                plan.work_dir
            ]
        elif self.launcher == 'pytorch':
            cmd = [
                'bash',
                osp.join(tools, 'dist_train.sh'), plan.config,
                str(self.gpus), '--work-dir', plan.work_dir
            ]
        else:
            cmd = [
                'bash',
                osp.join(tools, 'slurm_train.sh'), self.partition,
                f'{self.job_prefix}-{plan.name}', plan.config, plan.work_dir
            ]
        return cmd + (['--resume'] if resume else []) + self._options(plan)

    def test(self, plan: RunPlan, checkpoint: str) -> List[str]:
        tools = TOOLS_DIR
        if self.test_template:
            cmd = shlex.split(
                self.test_template.format(**self._fields(plan, checkpoint)))
        elif self.launcher == 'none':
            cmd = [
                self.python,
                osp.join(tools, 'test.py'), plan.config, checkpoint,
                '--work-dir', plan.work_dir
            ]
        elif self.launcher == 'pytorch':
            cmd = [
                'bash',
                osp.join(tools, 'dist_test.sh'), plan.config, checkpoint,
                str(self.gpus), '--work-dir', plan.work_dir
            ]
        else:
            cmd = [
                'bash',
                osp.join(tools, 'slurm_test.sh'), self.partition,
                f'{self.job_prefix}-{plan.name}-test', plan.config, checkpoint,
                '--work-dir', plan.work_dir
            ]
        return cmd + self._options(plan)

    def child_env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env['PYTHONUNBUFFERED'] = '1'  # stream the child's log lines live
        if self.launcher in ('pytorch', 'slurm'):
            env.setdefault('PYTHON', self.python)
        if self.launcher == 'slurm':
            env['GPUS'] = str(self.gpus)
            env.setdefault('GPUS_PER_NODE', str(min(self.gpus, 8)))
        env.update(self.env)
        return env


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------
_HEADER = re.compile(r'\b((?:Epoch|Iter)\((?:train|val|test)\))\s*'
                     r'((?:\[\s*\d+\]\s*)?\[\s*\d+\s*/\s*\d+\])')
_ETA = re.compile(r'\beta:\s*(\S+)')
_LOSS = re.compile(r'\bloss:\s*([-\d.eE+naif]+)')
_METRIC = re.compile(r'\b([\w.]+/[\w.@]+):\s*([-\d.eE+]+)')
_MAIN_METRIC = re.compile(r'/(bbox_mAP|segm_mAP|mAPr_50|mAPr_75|ABO)$')
_SAVE = re.compile(r'Saving checkpoint at (\d+ \w+)')


def summarize_log_line(line: str) -> Optional[str]:
    """A compact form of an mmengine progress line, or None for others.

    ``Epoch(train)  [3][10/50]  lr: ..  eta: 0:01:23  time: .. loss: 1.23 ..``
    becomes ``Epoch(train) [3][10/50] eta 0:01:23 loss 1.23``; an epoch-end
    validation line keeps its main metrics (box/mask AP, mAPr, ABO).
    """
    m = _HEADER.search(line)
    if m is None:
        s = _SAVE.search(line)
        return f'saving checkpoint at {s.group(1)}' if s else None
    position = re.sub(r'\s+', '', m.group(2))
    parts = [f'{m.group(1)} {position}']
    eta = _ETA.search(line)
    if eta:
        parts.append(f'eta {eta.group(1)}')
    loss = _LOSS.search(line)
    if loss:
        parts.append(f'loss {loss.group(1)}')
    metrics = _METRIC.findall(line[m.end():])
    main = [(k, v) for k, v in metrics if _MAIN_METRIC.search(k)]
    for k, v in (main or metrics[:3]):
        parts.append(f'{k} {v}')
    return ' '.join(parts)


def run_command(cmd: List[str],
                log_path: str,
                prefix: str,
                env: Optional[Dict[str, str]] = None,
                echo: Callable[[str], None] = print,
                verbose: bool = False,
                tail_lines: int = 25) -> int:
    """Run ``cmd``, stream its output into ``log_path`` and echo progress.

    Returns:
        int: The exit code. On a failure the last ``tail_lines`` lines of
        output are echoed.
    """
    os.makedirs(osp.dirname(osp.abspath(log_path)), exist_ok=True)
    tail: collections.deque = collections.deque(maxlen=tail_lines)
    with open(log_path, 'a') as log:
        log.write(f'\n# {time.strftime("%Y-%m-%d %H:%M:%S")} $ '
                  f'{shlex.join(cmd)}\n')
        log.flush()
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors='replace',
                bufsize=1,
                env=env)
        except OSError as e:
            log.write(f'# cannot start: {e}\n')
            echo(f'{prefix} cannot start {cmd[0]!r}: {e}')
            return 127
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                tail.append(line.rstrip('\n'))
                summary = summarize_log_line(line)
                if summary is not None:
                    echo(f'{prefix} {summary}')
                elif verbose:
                    echo(f'{prefix} {line.rstrip()}')
            returncode = proc.wait()
        except BaseException:
            # Ctrl-C in a terminal reaches the child too; a SIGINT sent to
            # the sweep alone is passed on. Give the child time to exit on
            # its own (checkpoints are written atomically, so none is left
            # half-written), then stop it.
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            raise
        log.write(f'# exit code {returncode}\n')
    if returncode != 0 and not verbose:
        echo(f'{prefix} command failed (exit code {returncode}): '
             f'{shlex.join(cmd)}')
        for line in tail:
            echo(f'{prefix} | {line}')
        echo(f'{prefix} full log: {log_path}')
    return returncode


# --------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------
@dataclass
class RunResult:
    name: str
    action: str
    outcome: str  # 'done' | 'skipped' | 'failed' | 'interrupted' | 'planned'
    seconds: float = 0.0
    message: str = ''


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec='seconds')


def _update_status(work_dir: str, **kwargs) -> None:
    status = _read_status(work_dir)
    status.update(kwargs, updated=_now())
    atomic_write_json(osp.join(work_dir, STATUS_FILENAME), status)


def supersede(work_dir: str, root: str) -> Optional[str]:
    """Move an existing work dir out of the way (``--force``), keep it."""
    if not osp.isdir(work_dir) or not os.listdir(work_dir):
        return None
    # 'name-seed0-<time>' for a seed's run dir, '_start-name-<time>' for a
    # shared start: unique however deep the run dir lies
    rel = osp.relpath(osp.normpath(work_dir), root)
    stem = rel.replace(os.sep, '-') if not rel.startswith('..') else \
        osp.basename(osp.normpath(work_dir))
    dest = osp.join(root, SUPERSEDED_DIRNAME,
                    f'{stem}-{time.strftime("%Y%m%d_%H%M%S")}')
    k = 1
    while osp.exists(dest):
        dest = f'{dest.rsplit(".", 1)[0]}.{k}'
        k += 1
    os.makedirs(osp.dirname(dest), exist_ok=True)
    shutil.move(work_dir, dest)
    return dest


def execute_plan(plan: RunPlan,
                 builder: CommandBuilder,
                 final_ckpt_name: Optional[str],
                 prefix: str,
                 root: str,
                 echo: Callable[[str], None] = print,
                 verbose: bool = False,
                 status_extra: Optional[dict] = None) -> RunResult:
    """Carry out one plan: train/resume, then test. Never raises for a
    failing command (only for Ctrl-C). ``status_extra`` is recorded in the
    work dir's status when training starts (e.g. the start fingerprint)."""
    start = time.time()
    if plan.action == 'skip':
        return RunResult(plan.name, plan.action, 'skipped')
    work_dir = plan.work_dir
    env = builder.child_env()
    if plan.supersede:
        moved = supersede(work_dir, root)
        if moved:
            echo(f'{prefix} previous work dir moved to {moved}')
    os.makedirs(work_dir, exist_ok=True)
    stage = 'training'
    try:
        checkpoint = plan.checkpoint
        if plan.action in ('train', 'resume'):
            _update_status(
                work_dir,
                config=plan.config,
                stage=stage,
                action=plan.action,
                started=_now(),
                **(status_extra or {}))
            cmd = builder.train(plan, resume=plan.action == 'resume')
            rc = run_command(cmd, osp.join(work_dir, 'sweep_train.log'),
                             prefix, env, echo, verbose)
            if rc != 0:
                _update_status(work_dir, stage='train_failed', returncode=rc)
                return RunResult(plan.name, plan.action, 'failed',
                                 time.time() - start,
                                 f'training exited with {rc}')
            if final_ckpt_name:
                checkpoint = osp.join(work_dir, final_ckpt_name)
            else:
                checkpoint = find_last_checkpoint(work_dir)
            if not checkpoint or not osp.isfile(checkpoint):
                msg = (f'training finished but the final checkpoint '
                       f'{checkpoint or "(last_checkpoint)"} is missing')
                echo(f'{prefix} {msg}')
                _update_status(work_dir, stage='train_failed', returncode=rc)
                return RunResult(plan.name, plan.action, 'failed',
                                 time.time() - start, msg)
            _update_status(
                work_dir, stage='trained', trained_checkpoint=checkpoint)
        stage = 'testing'
        _update_status(work_dir, config=plan.config, stage=stage)
        cmd = builder.test(plan, checkpoint)
        rc = run_command(cmd, osp.join(work_dir, 'sweep_test.log'), prefix,
                         env, echo, verbose)
        metrics = osp.join(work_dir, METRICS_FILENAME)
        if rc != 0:
            _update_status(work_dir, stage='test_failed', returncode=rc)
            return RunResult(plan.name, plan.action, 'failed',
                             time.time() - start, f'testing exited with {rc}')
        if not osp.isfile(metrics) or _mtime(metrics) < _mtime(checkpoint):
            msg = f'testing finished but wrote no new {metrics}'
            echo(f'{prefix} {msg}')
            _update_status(work_dir, stage='test_failed', returncode=rc)
            return RunResult(plan.name, plan.action, 'failed',
                             time.time() - start, msg)
        _update_status(work_dir, stage='done', finished=_now())
        return RunResult(plan.name, plan.action, 'done', time.time() - start)
    except KeyboardInterrupt:
        _update_status(work_dir, stage=f'{stage}_interrupted')
        raise


def _fmt_seconds(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(seconds)))


def start_fingerprint(config: str) -> str:
    """Fingerprint of a shared start: its merged config and the bytes of
    its train annotation file (a changed generator changes those).

    Raises:
        FileNotFoundError: the train annotation file does not exist (make
            the data first), naming it.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config, import_custom_modules=False)
    digest = hashlib.sha256(cfg.pretty_text.encode())
    dataset = cfg.train_dataloader.dataset
    while 'ann_file' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset  # RepeatDataset & co.
    ann_file = osp.join(dataset.get('data_root') or '', dataset.ann_file)
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'the shared start {config} trains on {ann_file}, which does not '
            'exist (make the data first)')
    with open(ann_file, 'rb') as f:
        digest.update(f.read())
    return digest.hexdigest()[:16]


def ensure_start(config: str,
                 root: str,
                 builder: CommandBuilder,
                 echo: Callable[[str], None] = print,
                 verbose: bool = False) -> tuple:
    """Build the shared start unless an up-to-date one is cached.

    Trains (or resumes) ``config`` into ``<root>/_start/<name>/`` with the
    sweep's launcher but without its ``--cfg-options`` (they are meant for
    the fine-tuning runs), tests it, and writes ``start.pth`` (weights and
    meta only) and ``start.json`` (the fingerprint) atomically.

    Returns:
        tuple[str, str]: The start checkpoint and its fingerprint.

    Raises:
        RuntimeError: the start's training or test failed.
    """
    import io

    import torch

    from mmext.utils import safe_load_checkpoint
    from mmext.utils.atomic_io import atomic_write_bytes

    name = config_name(config)
    start_dir = osp.join(root, START_DIRNAME, name)
    start_ckpt = osp.join(start_dir, START_CHECKPOINT)
    record_path = osp.join(start_dir, START_RECORD)
    fingerprint = start_fingerprint(config)
    try:
        with open(record_path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = {}
    if record.get('fingerprint') == fingerprint and osp.isfile(start_ckpt):
        echo(f'[start] {name}: up to date ({start_ckpt}, fingerprint '
             f'{fingerprint})')
        return start_ckpt, fingerprint
    stale = (
        osp.isdir(start_dir) and bool(os.listdir(start_dir)) and
        _read_status(start_dir).get('start_fingerprint') != fingerprint)
    final_name = final_checkpoint_name(config)
    plan = plan_run(config, start_dir, final_name, force=stale)
    if stale:
        plan.reason = 'its config or train data changed'
    echo(f'[start] {name}: {plan.action} ({plan.reason}); fingerprint '
         f'{fingerprint}')
    start_builder = dataclasses.replace(builder, cfg_options=())
    result = execute_plan(plan, start_builder, final_name, '  [start]', root,
                          echo, verbose,
                          dict(start_fingerprint=fingerprint))
    if result.outcome not in ('done', 'skipped'):
        raise RuntimeError(f'the shared start {config} failed: '
                           f'{result.message} (log in {start_dir})')
    trained = (
        osp.join(start_dir, final_name)
        if final_name else find_last_checkpoint(start_dir))
    checkpoint = safe_load_checkpoint(trained)
    buf = io.BytesIO()
    torch.save(
        dict(
            meta=dict(
                checkpoint['meta'], start_fingerprint=fingerprint,
                start_config=config),
            state_dict=checkpoint['state_dict']), buf)
    atomic_write_bytes(start_ckpt, buf.getvalue())
    atomic_write_json(
        record_path,
        dict(
            fingerprint=fingerprint,
            config=config,
            trained_checkpoint=trained,
            checkpoint=start_ckpt,
            created=_now()))
    echo(f'[start] {name}: written {start_ckpt} '
         f'({_fmt_seconds(result.seconds)})')
    return start_ckpt, fingerprint


def _sweep_eta(pending: Sequence[str], durations: Dict[str, List[float]],
               elapsed: float) -> str:
    """'elapsed 0:12:00, eta 0:40:00' from the finished runs' durations;
    a config not run yet is estimated by the mean of all ('~')."""
    if not pending:
        return f'elapsed {_fmt_seconds(elapsed)}'
    every = [d for ds in durations.values() for d in ds]
    if not every:
        return f'elapsed {_fmt_seconds(elapsed)}, eta after the first run'
    mean_all = sum(every) / len(every)
    guessed = False
    total = 0.0
    for name in pending:
        if durations.get(name):
            total += sum(durations[name]) / len(durations[name])
        else:
            total += mean_all
            guessed = True
    return (f'elapsed {_fmt_seconds(elapsed)}, eta '
            f'{"~" if guessed else ""}{_fmt_seconds(total)}')


def run_sweep(configs: Sequence[str],
              work_dir_root: str = 'work_dirs',
              builder: Optional[CommandBuilder] = None,
              force: bool = False,
              fail_fast: bool = False,
              dry_run: bool = False,
              verbose: bool = False,
              echo: Callable[[str], None] = print,
              seeds: Optional[int] = None,
              start: Optional[str] = None) -> List[RunResult]:
    """Plan and run every config (every seed, after the shared start); see
    the module docstring."""
    builder = builder or CommandBuilder()
    start_ckpt = fingerprint = None
    if start is not None:
        if dry_run:
            start_ckpt = osp.join(work_dir_root, START_DIRNAME,
                                  config_name(start), START_CHECKPOINT)
            echo(f'[start] {config_name(start)} -> {start_ckpt}')
        else:
            start_ckpt, fingerprint = ensure_start(start, work_dir_root,
                                                   builder, echo, verbose)
    seed_list: List[Optional[int]] = [None] if seeds is None else list(
        range(seeds))
    jobs = [(config, seed) for seed in seed_list for config in configs]
    n = len(jobs)
    results: List[RunResult] = []
    durations: Dict[str, List[float]] = {}
    sweep_start = time.time()
    for i, (config, seed) in enumerate(jobs, 1):
        name = config_name(config)
        work_dir = osp.join(work_dir_root, name)
        if seed is not None:
            work_dir = osp.join(work_dir, f'seed{seed}')
        final_name = final_checkpoint_name(config, builder.cfg_options)
        plan = plan_run(config, work_dir, final_name, force=force)
        if fingerprint is not None and plan.action != 'train' and \
                _read_status(work_dir).get('start_fingerprint') != fingerprint:
            plan = RunPlan(config, work_dir, 'train',
                           'trained from another start', supersede=True)
        plan.seed = seed
        if seed is not None:
            plan.cfg_options.append(f'randomness.seed={seed}')
        if start_ckpt is not None and _config_load_from(config) is not None:
            plan.cfg_options.append(f'load_from={start_ckpt}')
        pending = [config_name(c) for c, _ in jobs[i - 1:]]
        eta = _sweep_eta(pending, durations, time.time() - sweep_start)
        echo(f'[{i}/{n}] {plan.label}: {plan.action} ({plan.reason}) | '
             f'sweep {eta}')
        prefix = f'  [{i}/{n} {plan.label}]'
        if dry_run:
            if plan.action in ('train', 'resume'):
                cmd = builder.train(plan, resume=plan.action == 'resume')
                echo(f'{prefix} $ {shlex.join(cmd)}')
            if plan.action != 'skip':
                ckpt = plan.checkpoint or osp.join(
                    work_dir, final_name or '<last checkpoint>')
                echo(f'{prefix} $ {shlex.join(builder.test(plan, ckpt))}')
            results.append(RunResult(plan.label, plan.action, 'planned'))
            continue
        extra = None if fingerprint is None else dict(
            start_fingerprint=fingerprint)
        try:
            result = execute_plan(plan, builder, final_name, prefix,
                                  work_dir_root, echo, verbose, extra)
        except KeyboardInterrupt:
            results.append(RunResult(plan.label, plan.action, 'interrupted'))
            echo(f'{prefix} interrupted; run the same command again to '
                 'resume')
            raise
        result.name = plan.label
        results.append(result)
        if result.outcome == 'done':
            if plan.action == 'train':  # resumed/tested runs mislead the ETA
                durations.setdefault(name, []).append(result.seconds)
            echo(f'{prefix} done in {_fmt_seconds(result.seconds)} '
                 f'(sweep {_fmt_seconds(time.time() - sweep_start)})')
        elif result.outcome == 'failed':
            echo(f'{prefix} FAILED: {result.message}')
            if fail_fast:
                echo('stopping (--fail-fast)')
                break
    return results


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test a family of configs, then print the '
        'table of their metrics.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'configs',
        nargs='*',
        help="config files or globs (quote them: 'configs/atmask/*_toy.py')")
    parser.add_argument(
        '--list', help='file with one config per line (# comments)')
    parser.add_argument('--work-dir-root', default='work_dirs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument(
        '--gpus', type=int, default=1, help='GPUs per run (pytorch, slurm)')
    parser.add_argument('--partition', help='slurm partition')
    parser.add_argument(
        '--job-prefix', default='sweep', help='slurm job name prefix')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='key=value overrides passed to every train and test run')
    parser.add_argument(
        '--seeds',
        type=int,
        help='run every config N times (randomness.seed=0..N-1) into '
        '<name>/seed<k>; the table shows mean±std and paired deltas')
    parser.add_argument(
        '--start',
        help='config of a shared start: trained once (cached, rebuilt when '
        'its config or train data change), every run fine-tunes from it')
    parser.add_argument(
        '--force', action='store_true', help='retrain finished runs too')
    parser.add_argument(
        '--fail-fast', action='store_true', help='stop at the first failure')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print the plan and commands, run nothing')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help="echo all of the children's output")
    parser.add_argument(
        '--python',
        default=sys.executable,
        help='interpreter for train/test (default: this one)')
    parser.add_argument(
        '--train-cmd', help='train command template (see module doc)')
    parser.add_argument(
        '--test-cmd', help='test command template (see module doc)')
    table = parser.add_argument_group('table (tools/analysis_tools/'
                                      'make_table.py)')
    table.add_argument('--baseline', help='config name of the baseline row')
    table.add_argument('--metrics', nargs='+', help='table columns')
    table.add_argument(
        '--speed', action='store_true', help='add speed columns')
    table.add_argument(
        '--share',
        action='store_true',
        help="metrics as a percentage of the baseline's (an upper bound)")
    table.add_argument('--title')
    table.add_argument('--out-md')
    table.add_argument('--out-csv')
    args = parser.parse_args(argv)
    if not args.configs and not args.list:
        parser.error('give configs (globs) or --list')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        configs = expand_configs(args.configs, args.list)
    except FileNotFoundError as e:
        print(f'sweep: {e}', file=sys.stderr)
        return 2
    builder = CommandBuilder(
        launcher=args.launcher,
        gpus=args.gpus,
        partition=args.partition,
        job_prefix=args.job_prefix,
        python=args.python,
        cfg_options=args.cfg_options,
        train_template=args.train_cmd,
        test_template=args.test_cmd)
    print(f'sweep: {len(configs)} configs, launcher {args.launcher}, work '
          f'dirs under {args.work_dir_root}/')
    try:
        results = run_sweep(
            configs,
            work_dir_root=args.work_dir_root,
            builder=builder,
            force=args.force,
            fail_fast=args.fail_fast,
            dry_run=args.dry_run,
            verbose=args.verbose,
            seeds=args.seeds,
            start=args.start)
    except KeyboardInterrupt:
        print('sweep interrupted', file=sys.stderr)
        return 130
    except (RuntimeError, FileNotFoundError) as e:  # the shared start
        print(f'sweep: {e}', file=sys.stderr)
        return 1
    if args.dry_run:
        return 0

    summary = collections.Counter(r.outcome for r in results)
    print('sweep: ' + ', '.join(f'{v} {k}' for k, v in summary.items()))
    failed = [r for r in results if r.outcome == 'failed']
    for r in failed:
        print(f'  failed: {r.name}: {r.message}')
    state = dict(
        finished=_now(),
        argv=list(argv) if argv is not None else sys.argv[1:],
        runs=[r.__dict__ for r in results])
    atomic_write_json(
        osp.join(args.work_dir_root,
                 f'sweep_{time.strftime("%Y%m%d_%H%M%S")}.json'), state)

    work_dirs = [osp.join(args.work_dir_root, config_name(c)) for c in configs]
    try:
        table = make_table(
            work_dirs=work_dirs,
            out_md=args.out_md,
            out_csv=args.out_csv,
            metrics=args.metrics,
            baseline=args.baseline,
            speed=args.speed,
            share=args.share,
            title=args.title)
        print()
        print(table.to_markdown())
    except ValueError as e:  # e.g. a --baseline that is not in the sweep
        print(f'sweep: no table: {e}', file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == '__main__':
    # one line per warning on the command line, no source echo
    warnings.formatwarning = (
        lambda message, *args, **kwargs: f'warning: {message}\n')
    sys.exit(main())
