"""Every config under configs/ builds and runs one tiny training step.

Configs are discovered, so a new ablation config is covered the moment it is
added. COCO-scale configs run on a synthetic 128x128 batch with pretrained
weights stripped (``init_cfg=None``); toy configs additionally run through
mmengine's ``Runner`` on a tiny generated toy set (one iteration of training
and a validation pass), which exercises their datasets, pipelines, hooks and
evaluators. A COCO test-dev config (``*_coco-test-dev.py``) only changes the
test data and evaluator of its parent, so instead of stepping the same model
again it is checked to keep the parent's model and to write results for the
evaluation server.
"""
import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine import MessageHub
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmdet.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_FILES = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep))
TOY_CONFIGS = [p for p in CONFIG_FILES if p.endswith('_toy.py')]
TEST_DEV_CONFIGS = [p for p in CONFIG_FILES if p.endswith('_coco-test-dev.py')]
STEP_CONFIGS = [p for p in CONFIG_FILES if p not in TEST_DEV_CONFIGS]


def _config_id(path: str) -> str:
    return osp.relpath(path, osp.join(REPO_ROOT, 'configs'))


def strip_pretrained(cfg):
    """Remove every ``init_cfg`` of type Pretrained (no model zoo here)."""
    if isinstance(cfg, dict):
        init_cfg = cfg.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for key in ('pretrained', ):
            if key in cfg:
                cfg[key] = None
        for value in cfg.values():
            strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_pretrained(value)
    return cfg


def shrink_proposals(cfg):
    """Cap proposal/sample counts so COCO-scale heads run fast on a CPU.

    Only the amount of work changes (``nms_pre``, ``max_per_img``, sampler
    ``num``); every module of the config is still built and run.
    """
    if isinstance(cfg, dict):
        for key, cap in (('nms_pre', 200), ('max_per_img', 50)):
            if isinstance(cfg.get(key), int):
                cfg[key] = min(cfg[key], cap)
        sampler = cfg.get('sampler')
        if isinstance(sampler, dict) and isinstance(sampler.get('num'), int):
            sampler['num'] = min(sampler['num'], 64)
        for value in cfg.values():
            shrink_proposals(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            shrink_proposals(value)
    return cfg


def _num_classes(model_cfg) -> int:
    """The smallest ``num_classes`` found in the model config."""
    found = []

    def visit(node):
        if isinstance(node, dict):
            if isinstance(node.get('num_classes'), int):
                found.append(node['num_classes'])
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    visit(model_cfg)
    return min(found) if found else 1


def synthetic_batch(num_classes: int, tmp_dir: str, size: int = 128):
    """Two images with two instances each, as the data preprocessor wants.

    Images are also written to disk (``img_path``) for models that re-read
    the original image at test time.
    """
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    for i in range(2):
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        masks = np.zeros((2, size, size), np.uint8)
        masks[0, 10:60, 20:90] = 1
        masks[1, 70:120, 5:40] = 1
        img[masks[0] > 0] = (200, 30, 30)
        img[masks[1] > 0] = (30, 200, 30)
        img_path = osp.join(tmp_dir, f'synthetic_{i}.png')
        cv2.imwrite(img_path, img)
        sample = DetDataSample(
            metainfo=dict(
                img_id=i,
                img_path=img_path,
                ori_shape=(size, size),
                img_shape=(size, size),
                pad_shape=(size, size),
                scale_factor=(1.0, 1.0),
                flip=False,
                flip_direction=None))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[20., 10., 90., 60.], [5., 70., 40., 120.]]),
            labels=torch.tensor([0, min(1, num_classes - 1)]),
            masks=BitmapMasks(masks, size, size))
        sample.ignored_instances = InstanceData(
            bboxes=torch.zeros((0, 4)), labels=torch.zeros((0, )).long())
        # precomputed proposals, for models without an RPN (LoadProposals)
        jitter = torch.from_numpy(rng.uniform(-8, 8, (30, 4))).float()
        sample.proposals = InstanceData(
            bboxes=(sample.gt_instances.bboxes.repeat(15, 1) +
                    jitter).clamp(0, size),
            scores=torch.linspace(1, 0.1, 30))
        inputs.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


# model types -> (module, package) they need beyond requirements/
OPTIONAL_DEPENDENCIES = {
    # colour similarity of the pairwise loss: skimage.color.rgb2lab
    'BoxInstDataPreprocessor': ('skimage', 'scikit-image'),
}


def skip_without_optional_dependencies(cfg) -> None:
    """Skip a config whose model needs a package that is not installed,
    naming the package (e.g. BoxInst's scikit-image)."""
    types = set()

    def visit(node):
        if isinstance(node, dict):
            if isinstance(node.get('type'), str):
                types.add(node['type'])
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.model)
    for type_name, (module, package) in OPTIONAL_DEPENDENCIES.items():
        if type_name in types:
            try:
                __import__(module)
            except ImportError:
                pytest.skip(f'{type_name} needs {package} ({module}), which '
                            'is not installed')


@pytest.mark.parametrize('config_file', STEP_CONFIGS, ids=_config_id)
def test_config_builds_and_steps(config_file, tmp_path):
    cfg = Config.fromfile(config_file)
    skip_without_optional_dependencies(cfg)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = shrink_proposals(strip_pretrained(copy.deepcopy(cfg.model)))
    model = MODELS.build(model_cfg)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)

    data = synthetic_batch(_num_classes(model_cfg), str(tmp_path))
    # the Runner publishes the iteration; some heads read it (BoxInst's
    # pairwise-loss warm-up)
    MessageHub.get_current_instance().update_info('iter', 0)
    model.train()
    log_vars = model.train_step(data, optim_wrapper)
    assert log_vars, f'{config_file}: train_step returned no losses'
    for name, value in log_vars.items():
        assert torch.isfinite(torch.as_tensor(value)).all(), \
            f'{config_file}: {name} = {value}'

    model.eval()
    with torch.no_grad():
        results = model.test_step(
            synthetic_batch(_num_classes(model_cfg), str(tmp_path)))
    assert len(results) == 2
    for result in results:
        assert 'pred_instances' in result
        pred = result.pred_instances
        assert 'bboxes' in pred
        if model_cfg['type'] == 'RPN':
            # the proposal generator of MaskPlus' separate-RPN recipe (see
            # test_config_semantics.NOT_INSTANCE_SEGMENTATION)
            continue
        # every other shipped config is instance segmentation (see
        # test_config_semantics.py): its predictions carry image-sized masks
        assert 'masks' in pred, f'{config_file}: no masks predicted'
        assert pred.masks.shape == (len(pred), 128, 128), config_file


@pytest.mark.parametrize('config_file', TEST_DEV_CONFIGS, ids=_config_id)
def test_test_dev_config_writes_server_results(config_file):
    """Same model and training as the parent, test-dev data and a
    format-only CocoMetric (mmdet's test-dev pattern)."""
    import re
    with open(config_file) as f:
        parent = re.search(r"^_base_ = '\./(.+\.py)'", f.read(), re.M)
    assert parent, f'{config_file}: no parent config'
    cfg = Config.fromfile(config_file)
    base = Config.fromfile(
        osp.join(osp.dirname(config_file), parent.group(1)))
    for key in ('model', 'train_cfg', 'train_dataloader', 'val_dataloader',
                'val_evaluator', 'optim_wrapper', 'load_from'):
        assert cfg.get(key) == base.get(key), f'{config_file}: {key} changed'
    dataset = cfg.test_dataloader.dataset
    assert dataset.ann_file.endswith('image_info_test-dev2017.json')
    assert dataset.data_prefix == dict(img='test2017/')
    assert dataset.test_mode
    evaluator = cfg.test_evaluator
    assert evaluator.type == 'CocoMetric' and evaluator.format_only
    assert set(evaluator.metric) == {'bbox', 'segm'}
    assert evaluator.ann_file.endswith('image_info_test-dev2017.json')
    name = osp.basename(config_file)[:-3]
    assert evaluator.outfile_prefix == f'./work_dirs/{name}/test'


@pytest.mark.parametrize('config_file', TOY_CONFIGS, ids=_config_id)
def test_toy_config_runs_with_runner(config_file, toy_data_root, tmp_path):
    """One training iteration and a validation pass through the Runner."""
    from mmengine.runner import Runner

    cfg = Config.fromfile(config_file)
    skip_without_optional_dependencies(cfg)
    cfg.work_dir = str(tmp_path / 'work_dir')
    _point_to_data_root(cfg, toy_data_root)
    # the toy benchmark's shared start is not built here (load_from and the
    # weakly configs' Pretrained parts of it); test_toy_start.py loads one
    cfg.load_from = None
    strip_pretrained(cfg.model)
    # one iteration of training, then a validation over the tiny val split
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(type='LogProcessor', by_epoch=False)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader is not None:
            loader.num_workers = 0
            loader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_1.pth'))
    # RuntimeInfoHook publishes the validation metrics as 'val/<metric>'
    val_keys = [
        k for k in runner.message_hub.log_scalars if k.startswith('val/')
    ]
    assert val_keys, f'{config_file}: validation produced no metrics'


def _point_to_data_root(cfg, data_root: str) -> None:
    """Replace the toy data root (data/toy/) by ``data_root`` everywhere."""

    def visit(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and 'data/toy/' in v:
                    node[k] = v.replace('data/toy/', data_root)
                else:
                    visit(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str) and 'data/toy/' in v:
                    node[i] = v.replace('data/toy/', data_root)
                else:
                    visit(v)

    for key in list(cfg.keys()):
        value = cfg[key]
        if isinstance(value, str) and 'data/toy/' in value:
            cfg[key] = value.replace('data/toy/', data_root)
        else:
            visit(value)
