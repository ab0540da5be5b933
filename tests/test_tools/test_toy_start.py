"""The toy benchmark's protocol: every benchmark config fine-tunes from the
one shared start, and the layers a method adds start as its config says."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmdet.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
START_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy_start',
                        'mask-rcnn_r18_fpn_start_toy.py')


BENCHMARK_LISTS = ('toy_benchmark.txt', 'toy_benchmark_peers.txt',
                   'toy_benchmark_combos.txt')


def _benchmark_configs(list_name: str = 'toy_benchmark.txt'):
    with open(osp.join(REPO_ROOT, 'configs', list_name)) as f:
        lines = [line.split('#', 1)[0].strip() for line in f]
    return [osp.join(REPO_ROOT, line) for line in lines if line]


def _replace_start(node, old: str, new: str):
    """Point every reference to the start checkpoint at ``new``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if value == old:
                node[key] = new
            else:
                _replace_start(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _replace_start(value, old, new)


@pytest.fixture(scope='module')
def start(tmp_path_factory):
    """A start checkpoint of the start config's model, every tensor set to
    a value no initialisation would give (so copies can be recognised)."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(START_CONFIG)
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    gen = torch.Generator().manual_seed(0)
    state = {
        k: (torch.rand(v.shape, generator=gen) + 5.0).to(v.dtype)
        if v.is_floating_point() else v
        for k, v in state.items()
    }
    path = str(tmp_path_factory.mktemp('start') / 'start.pth')
    torch.save(dict(meta=dict(), state_dict=state), path)
    return path, state


def _build_like_runner(config_file: str, start_path: str):
    """Build, init and load a config's model as mmengine's Runner does."""
    cfg = Config.fromfile(config_file)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    default_start = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                 'mask-rcnn_r18_fpn_1x_toy.py')).load_from
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.data_preprocessor.type == 'BoxInstDataPreprocessor':
        # it needs scikit-image only to preprocess images, not to load
        model_cfg.data_preprocessor = dict(
            type='DetDataPreprocessor',
            mean=model_cfg.data_preprocessor.mean,
            std=model_cfg.data_preprocessor.std,
            bgr_to_rgb=True)
    _replace_start(model_cfg, default_start, start_path)
    model = MODELS.build(model_cfg)
    model.init_weights()
    if cfg.load_from:
        assert cfg.load_from == default_start
        load_checkpoint(model, start_path, map_location='cpu', strict=False)
    return model


def _loaded(model_state, start_state, dst: str, src: str):
    """Keys under ``dst`` whose tensor equals the start's under ``src``;
    and the number of keys compared (same shape in both)."""
    same, compared = [], 0
    for key, value in model_state.items():
        if not key.startswith(dst) or not value.is_floating_point():
            continue
        src_key = src + key[len(dst):]
        if src_key in start_state and \
                start_state[src_key].shape == value.shape:
            compared += 1
            if torch.equal(start_state[src_key], value):
                same.append(key)
    return same, compared


@pytest.mark.parametrize('list_name', BENCHMARK_LISTS)
def test_every_benchmark_config_is_listed_and_loads_the_start(
        start, list_name):
    path, start_state = start
    configs = _benchmark_configs(list_name)
    names = [osp.basename(c) for c in configs]
    assert names[0] == 'mask-rcnn_r18_fpn_1x_toy.py'  # the baseline first
    if list_name != BENCHMARK_LISTS[0]:
        # the main list's configs are checked by its own case
        configs = [configs[0]] + [
            c for c in configs if c not in _benchmark_configs()
        ]
    for config in configs:
        model = _build_like_runner(config, path)
        state = model.state_dict()
        name = osp.basename(config)
        if name.startswith('boxinst'):
            # one-stage, box-supervised: the start's backbone and FPN only
            for part in ('backbone.', 'neck.'):
                same, compared = _loaded(state, start_state, part, part)
                assert compared and len(same) == compared, \
                    f'{name}: {part} not from the start'
            continue
        if name.startswith('hybrid') or 'enhanced-fpn' in name:
            # box-supervised: the box parts of the start, never its mask
            # head (trained on the real masks)
            branches = ('large_branch.', 'small_branch.') \
                if name.startswith('hybrid') else ('', )
            for branch in branches:
                for part in ('backbone.', 'neck.lateral_convs.', 'rpn_head.',
                             'roi_head.bbox_head.'):
                    same, compared = _loaded(state, start_state,
                                             branch + part, part)
                    assert compared and len(same) == compared, \
                        f'{name}: {branch}{part} not from the start'
            mask_dst = branches[0] + 'roi_head.mask_head.'
            same, compared = _loaded(state, start_state, mask_dst,
                                     'roi_head.mask_head.')
            assert compared and not same, \
                f'{name}: the mask head leaked from the fully supervised start'
            continue
        for part in ('backbone.', 'neck.', 'rpn_head.'):
            same, compared = _loaded(state, start_state, part, part)
            assert compared and len(same) == compared, f'{name}: {part}'
        if ('cascade' in name or 'maskplus-plus' in name
                or name.startswith('htc')):
            # every stage starts from the start's heads (shapes that match)
            for stage in range(3):
                for head in ('bbox_head', 'mask_head'):
                    same, compared = _loaded(state, start_state,
                                             f'roi_head.{head}.{stage}.',
                                             f'roi_head.{head}.')
                    assert compared and len(same) == compared, \
                        f'{name}: stage {stage} {head}'
            continue
        # PointRend's coarse mask head has no layer of Mask R-CNN's shapes
        heads = ('bbox_head', ) if name.startswith('point-rend') else (
            'bbox_head', 'mask_head')
        for head in heads:
            same, compared = _loaded(state, start_state, f'roi_head.{head}.',
                                     f'roi_head.{head}.')
            assert compared and len(same) == compared, f'{name}: {head}'
        if name.startswith('mrrcnn'):
            # the paper's init: refining heads are copies of the vanilla ones
            for src, dst in (('bbox_head', 'refine_bbox_head'),
                             ('mask_head', 'refine_mask_head')):
                same, compared = _loaded(state, start_state,
                                         f'roi_head.{dst}.',
                                         f'roi_head.{src}.')
                assert compared and len(same) == compared, f'{name}: {dst}'
