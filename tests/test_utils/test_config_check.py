"""Config typos give errors that name the key."""
import pytest
from mmengine.config import Config

from mmdet.registry import MODELS
from mmext.utils import check_config_keys


def test_top_level_typo_names_key_and_suggestion(tmp_path):
    config_file = tmp_path / 'bar.py'
    config_file.write_text('model = dict()\ntrian_cfg = dict(max_epochs=1)\n')
    cfg = Config.fromfile(str(config_file))
    with pytest.raises(KeyError) as err:
        check_config_keys(cfg)
    msg = str(err.value)
    assert "'trian_cfg'" in msg and "'train_cfg'" in msg and 'bar.py' in msg


def test_unrelated_custom_keys_are_allowed():
    cfg = Config(
        dict(model=dict(), train_cfg=dict(), my_sweep_name='abc', lr=0.1))
    check_config_keys(cfg)  # no error: not close to any known key


def test_nested_model_typo_names_key():
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = dict(
        type='FCNMaskHead', num_convs=1, in_channels=8, num_clases=3)
    with pytest.raises(TypeError, match='num_clases'):
        MODELS.build(cfg)
