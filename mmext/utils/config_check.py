"""Catch config-key typos that mmengine would silently ignore.

``Runner.from_cfg`` reads the keys it knows and ignores the rest, so a typo
such as ``trian_cfg`` or ``optim_wraper`` trains with defaults without a
word. Unknown keys are legitimate in general (``data_root``, pipelines,
``backend_args`` ...), so only a key that is unknown *and* close to a known
one is treated as a typo.
"""
import difflib
import os.path as osp
from typing import Iterable, Optional

from mmengine.config import Config

RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'runner_type', 'model_wrapper_cfg', 'custom_imports', 'train_pipeline',
    'test_pipeline', 'val_pipeline', 'data_root', 'dataset_type',
    'backend_args', 'vis_backends', 'metainfo', 'max_epochs', 'max_iters',
    'base_lr'
})


def check_config_keys(cfg: Config,
                      known: Optional[Iterable[str]] = None,
                      cutoff: float = 0.8) -> None:
    """Raise if a top-level key of ``cfg`` looks like a misspelt known key.

    Args:
        cfg (Config): the loaded config.
        known (Iterable[str], optional): known keys. Defaults to the keys
            ``Runner.from_cfg`` and mmdet's base configs use.
        cutoff (float): ``difflib`` similarity above which an unknown key is
            taken for a typo. Defaults to 0.8.

    Raises:
        KeyError: naming the config file, the key and the likely intended key.
    """
    known = frozenset(known) if known is not None else RUNNER_KEYS
    for key in cfg.keys():
        if key in known or key.startswith('_'):
            continue
        match = difflib.get_close_matches(key, known, n=1, cutoff=cutoff)
        if match:
            raise KeyError(f'unknown config key {key!r} in '
                           f'{cfg.filename or "<config>"}: did you mean '
                           f'{match[0]!r}?')


def load_cli_config(config: str,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none',
                    work_dir: Optional[str] = None) -> Config:
    """Load a config the way ``tools/train.py`` and ``tools/test.py`` do.

    Merges ``--cfg-options``, checks the top-level keys for typos
    (:func:`check_config_keys`), records the launcher and sets ``work_dir``:
    the command-line value, else the config's, else
    ``./work_dirs/<config name>`` (mmdet's rule).

    Raises:
        FileNotFoundError: naming ``config`` if it does not exist.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    check_config_keys(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg
