"""load_cli_config: what tools/train.py and tools/test.py do with a config."""
import os.path as osp
import sys

import pytest

from mmext.utils import load_cli_config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                      'mask-rcnn_r18_fpn_1x_toy.py')


def test_default_work_dir_is_named_after_the_config():
    cfg = load_cli_config(TOY_CONFIG)
    assert cfg.work_dir == osp.join('./work_dirs', 'mask-rcnn_r18_fpn_1x_toy')
    assert cfg.launcher == 'none'


def test_work_dir_precedence(tmp_path):
    # the command line beats the config, which beats the default
    own = tmp_path / 'own_work_dir.py'
    own.write_text(f"_base_ = '{TOY_CONFIG}'\nwork_dir = 'from_config'\n")
    assert load_cli_config(str(own)).work_dir == 'from_config'
    assert load_cli_config(
        str(own), work_dir='from_cli', launcher='pytorch').work_dir == \
        'from_cli'
    assert load_cli_config(
        str(own), cfg_options={'work_dir': 'from_options'}).work_dir == \
        'from_options'


def test_missing_config_is_named(tmp_path):
    missing = str(tmp_path / 'no_such_config.py')
    with pytest.raises(FileNotFoundError, match='no_such_config.py'):
        load_cli_config(missing)


def test_cfg_options_are_merged_and_typos_caught():
    cfg = load_cli_config(
        TOY_CONFIG,
        cfg_options={
            'train_cfg.max_iters': 7,
            'model.roi_head.mask_head.num_classes': 2
        })
    assert cfg.train_cfg.max_iters == 7
    assert cfg.model.roi_head.mask_head.num_classes == 2
    # a misspelt top-level key from --cfg-options is named, with the fix
    with pytest.raises(KeyError, match=r"'trian_cfg'.*'train_cfg'"):
        load_cli_config(TOY_CONFIG, cfg_options={'trian_cfg.max_iters': 7})
    with pytest.raises(KeyError, match=r"'optim_wraper'.*'optim_wrapper'"):
        load_cli_config(
            TOY_CONFIG, cfg_options={'optim_wraper.optimizer.lr': 0.1})


def _train_tool_config(monkeypatch, *args, options=()):
    from tool_loader import load_tool
    train_tool = load_tool('tools/train.py')
    # from scratch: the toy benchmark's shared start is not built here
    monkeypatch.setattr(sys, 'argv', [
        'train.py', TOY_CONFIG, *args, '--cfg-options', 'load_from=None',
        *options
    ])
    return train_tool.build_train_config(train_tool.parse_args())


def test_train_tool_amp_switches_the_optim_wrapper(monkeypatch, capsys):
    """``--amp`` (the CPU can check the config it produces; AMP itself
    needs a GPU in mmengine)."""
    cfg = _train_tool_config(monkeypatch)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    cfg = _train_tool_config(monkeypatch, '--amp')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.optimizer.type  # the optimizer is kept
    # already AMP: left alone, and said so
    cfg = _train_tool_config(
        monkeypatch, '--amp', options=['optim_wrapper.type=AmpOptimWrapper'])
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert 'already enabled' in capsys.readouterr().out
    # another wrapper: refused, naming it
    with pytest.raises(AssertionError, match='OtherOptimWrapper'):
        _train_tool_config(
            monkeypatch,
            '--amp',
            options=['optim_wrapper.type=OtherOptimWrapper'])
