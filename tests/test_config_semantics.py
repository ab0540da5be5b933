"""Every config sets what its name promises (on the merged config).

Config names follow ``{algorithm}_{backbone}_{neck}[_{ablation}]_{schedule}
_{dataset}.py`` (see DESIGN.md). tests/test_configs.py builds and runs every
config; this file checks the *meaning* of each name part:

* ``ABLATIONS`` maps every config with an ablation part to the values the
  part promises. A config whose name has an ablation part but no entry here
  fails ``test_every_ablation_config_has_a_table_entry``, so a new ablation
  config cannot skip this check.
* algorithm, backbone, neck, schedule and dataset parts are parsed and
  checked for every config.
* every config is an instance-segmentation model (it has a mask head) and
  passes :func:`mmext.utils.check_config_keys`.

Only ``Config.fromfile`` runs here (no model is built), so the whole file
takes about as long as loading the configs.
"""
import functools
import glob
import os.path as osp
from typing import Any, Dict, Optional

import pytest
from mmengine.config import Config

from mmext.utils import check_config_keys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
CONFIG_FILES = sorted(
    osp.relpath(p, CONFIG_ROOT) for p in glob.glob(
        osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep))

ABSENT = object()  # the key is missing (or None)

#: Defaults of the modules, used when a config leaves a key out.
DEFAULTS = {
    'model.roi_head.refine_bbox_head.with_cls': True,
    'model.roi_head.refine_bbox_head.with_reg': True,
    'model.train_cfg.large_branch_instances': 'valid',
    'model.train_cfg.small_branch_instances': 'invalid',
    'train_dataloader.dataset.pseudo_mask_subset': 'all',
}


@functools.lru_cache(maxsize=None)
def load(rel_path: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_ROOT, rel_path))


def name_parts(rel_path: str) -> Dict[str, str]:
    """Split ``algo_backbone_neck[_ablation]_schedule_dataset``."""
    parts = osp.splitext(osp.basename(rel_path))[0].split('_')
    assert len(parts) >= 5, f'{rel_path}: name does not follow the scheme'
    return dict(
        algorithm=parts[0],
        backbone=parts[1],
        neck=parts[2],
        ablation='_'.join(parts[3:-2]),
        schedule=parts[-2],
        dataset=parts[-1])


def lookup(cfg: Any, path: str) -> Any:
    """``cfg`` at a dotted path (``a.b.0.c``); ABSENT when missing/None."""
    node = cfg
    for key in path.split('.'):
        if isinstance(node, (list, tuple)) and key.isdigit():
            node = node[int(key)] if int(key) < len(node) else ABSENT
        elif hasattr(node, 'get'):
            node = node.get(key, ABSENT)
        else:
            return ABSENT
        if node is None or node is ABSENT:
            return ABSENT
    return node


def detector(cfg: Config) -> Any:
    """The mask-predicting detector config (the hybrid's large branch)."""
    model = cfg.model
    if model.type == 'HybridWeakDetector':
        return model.large_branch
    return model


def mask_heads(cfg: Config) -> list:
    heads = lookup(detector(cfg), 'roi_head.mask_head')
    if heads is ABSENT:
        return []
    return list(heads) if isinstance(heads, (list, tuple)) else [heads]


def biased_hook(cfg: Config) -> Optional[dict]:
    hooks = [
        h for h in cfg.get('custom_hooks', []) or []
        if h['type'] == 'BiasedLossHook'
    ]
    assert len(hooks) <= 1
    return hooks[0] if hooks else None


def maskplus_switches(cfg: Config) -> dict:
    """The five MaskPlus techniques a config turns on (first mask head)."""
    head = mask_heads(cfg)[0]
    hook = biased_hook(cfg)
    context = lookup(head, 'context_cfg')
    return dict(
        context=None if context is ABSENT else tuple(
            context.get('channels', (512, 256, 256))),
        dpm=lookup(head, 'dpm_cfg.type') if lookup(head, 'dpm_cfg') is not
        ABSENT else None,
        br=lookup(head, 'boundary_refine_cfg.type')
        if lookup(head, 'boundary_refine_cfg') is not ABSENT else None,
        qmt=tuple(head.get('qmt_scales', ())),
        biased=None if hook is None else (hook['alpha'], _biased_end(
            cfg, hook), hook.get('by_epoch', False)))


def _biased_end(cfg: Config, hook: dict) -> int:
    """The hook's switch iteration; ``end=None`` means half of the
    runner's schedule (resolved by ``BiasedLossHook`` at train time)."""
    end = hook.get('end')
    if end is None:
        return cfg.train_cfg.max_iters // 2
    return end


MASKPLUS_OFF = dict(context=None, dpm=None, br=None, qmt=(), biased=None)


def _maskplus(**on):
    return {'maskplus': dict(MASKPLUS_OFF, **on)}


def _atmask(k, source, p2t, t2p):
    return {
        'model.roi_head.mask_head.k': k,
        'model.roi_head.threshold_roi_source': source,
        'model.roi_head.mask_head.with_p2t_fusion': p2t,
        'model.roi_head.mask_head.with_t2p_fusion': t2p,
    }


def _alpha(value):
    # the other refining settings stay at the parent's (full MR R-CNN)
    return {
        'model.test_cfg.rcnn.refine_alpha': value,
        'model.roi_head.refine_bbox_roi_extractor.type':
        'ShapeAwareRoIExtractor',
        'model.roi_head.refine_bbox_head.with_cls': True,
        'model.roi_head.refine_bbox_head.with_reg': True,
    }


#: config -> {dotted path or check name: promised value}
ABLATIONS: Dict[str, Dict[str, Any]] = {
    # ATMask R-CNN Tables 3-5: k, threshold RoI source, P2T / T2P fusion
    **{
        f'atmask/atmask-rcnn_{bb}_fpn_{abl}_1x_{ds}.py': values
        for bb, ds in (('r18', 'toy'), ('r50', 'coco'))
        for abl, values in (
            ('k1', _atmask(1.0, 'P2', True, True)),
            ('k1-thr-src-all', _atmask(1.0, 'all', True, True)),
            ('k1-thr-src-all-p2t', _atmask(1.0, 'all', True, False)),
            ('k1-thr-src-all-no-fusion', _atmask(1.0, 'all', False, False)),
        )
    },
    # MaskPlus Tables 1-6: one technique per row on the Mask R-CNN baseline
    'maskplus/mask-rcnn_r50_fpn_mask-14x14_360k_coco.py': {
        'model.roi_head.mask_head.type': 'FCNMaskHead',
        'model.roi_head.mask_head.upsample_cfg.type': ABSENT,
        'model.train_cfg.rcnn.mask_size': 14,
    },
    'maskplus/maskplus_r50_fpn_biased_360k_coco.py':
    _maskplus(biased=(1.5, 180000, False)),
    'maskplus/maskplus_r50_fpn_br-improved_360k_coco.py':
    _maskplus(br='DenseBoundaryRefinement'),
    'maskplus/maskplus_r50_fpn_br-original_360k_coco.py':
    _maskplus(br='ResidualBoundaryRefinement'),
    'maskplus/maskplus_r50_fpn_context-256-256_360k_coco.py':
    _maskplus(context=(256, 256)),
    'maskplus/maskplus_r50_fpn_context-256-256-256_360k_coco.py':
    _maskplus(context=(256, 256, 256)),
    'maskplus/maskplus_r50_fpn_context-512-256-256_360k_coco.py':
    _maskplus(context=(512, 256, 256)),
    'maskplus/maskplus_r50_fpn_context-720-512-512-256_360k_coco.py':
    _maskplus(context=(720, 512, 512, 256)),
    'maskplus/maskplus_r50_fpn_dpm_360k_coco.py':
    _maskplus(dpm='DeconvPyramidModule'),
    'maskplus/maskplus_r50_fpn_qmt-0.5x_360k_coco.py': _maskplus(qmt=(0.5, )),
    'maskplus/maskplus_r50_fpn_qmt-2x_360k_coco.py': _maskplus(qmt=(2.0, )),
    # MR R-CNN Tables 3-5: refining score weight, RoI layer, cls/reg
    **{
        f'mrrcnn/mrrcnn_r50_fpn_alpha-{a}_9k_coco.py': _alpha(float(a))
        for a in ('0', '0.1', '0.2', '0.5', '1', '2', '5', '10')
    },
    # Tables 3-4 rows for every backbone of the paper
    **{
        f'mrrcnn/mrrcnn_{bb}_fpn_cls-only_9k_coco.py': {
            'model.roi_head.refine_bbox_head.with_reg': False,
            'model.roi_head.refine_bbox_head.with_cls': True,
            'model.roi_head.refine_bbox_roi_extractor.type':
            'ShapeAwareRoIExtractor',
        }
        for bb in ('r50', 'r101', 'x101-32x8d')
    },
    **{
        f'mrrcnn/mrrcnn_{bb}_fpn_reg-only_9k_coco.py': {
            'model.roi_head.refine_bbox_head.with_cls': False,
            'model.roi_head.refine_bbox_head.with_reg': True,
            'model.roi_head.refine_bbox_roi_extractor.type':
            'ShapeAwareRoIExtractor',
        }
        for bb in ('r50', 'r101', 'x101-32x8d')
    },
    **{
        f'mrrcnn/mrrcnn_{bb}_fpn_no-sara_9k_coco.py': {
            'model.roi_head.refine_bbox_roi_extractor.type':
            'SingleRoIExtractor',
            'model.roi_head.refine_bbox_roi_extractor.roi_layer.type':
            'RoIAlign',
            'model.roi_head.refine_bbox_head.with_cls': True,
            'model.roi_head.refine_bbox_head.with_reg': True,
        }
        for bb in ('r50', 'r101', 'x101-32x8d')
    },
    # ATMask's R101 recipe: box head frozen (and its test-dev variant)
    **{
        f'atmask/atmask-rcnn_r101_fpn_frozen-bbox-head_50k_{ds}.py': {
            'paramwise:roi_head.bbox_head': dict(lr_mult=0.0,
                                                 decay_mult=0.0),
            'model.backbone.depth': 101,
            'train_cfg.max_iters': 50000,
        }
        for ds in ('coco', 'coco-test-dev')
    },
    # MaskPlus: separately trained RPN, its proposals read from files
    'maskplus/maskplus_r50_fpn_separate-rpn_360k_coco.py': {
        'model.rpn_head': ABSENT,
        'train_dataloader.dataset.pipeline.1.type': 'LoadProposals',
    },
    # hybrid: the cross-branch NMS and GrabCut cap as options; the other
    # branch's instances as background (the old reading); one Mask R-CNN on
    # the valid pseudo masks, the invalid ones ignored
    'weakly/hybrid-weak_r50_enhanced-fpn_fusion-nms_30k_voc-sbd.py': {
        'model.test_cfg.fusion_nms_type': 'box',
        'model.test_cfg.max_grabcut_per_image': 20,
    },
    'weakly/hybrid-weak_r50_enhanced-fpn_unselected-bg_30k_voc-sbd.py': {
        'model.train_cfg.unselected_as_ignored': False,
    },
    'weakly/mask-rcnn_r50_enhanced-fpn_grabcut-valid_30k_voc-sbd.py': {
        'model.type': 'MaskRCNN',
        'train_dataloader.dataset.pseudo_mask_subset': 'valid',
        'train_dataloader.dataset.unselected': 'ignore',
    },
    # weakly supervised hybrid: small branch on all instances; one Mask
    # R-CNN on all GrabCut masks; one Mask R-CNN on the full (GT) masks
    **{
        f'weakly/hybrid-weak_{bb}_enhanced-fpn_small-all_{sched}.py': {
            'model.type': 'HybridWeakDetector',
            'model.train_cfg.small_branch_instances': 'all',
            'model.train_cfg.large_branch_instances': 'valid',
        }
        for bb, sched in (('r18', '1x_toy'), ('r50', '30k_voc-sbd'))
    },
    **{
        f'weakly/mask-rcnn_{bb}_enhanced-fpn_grabcut-all_{sched}.py': {
            'model.type': 'MaskRCNN',
            'train_dataloader.dataset.type': 'PseudoMaskCocoDataset',
            'train_dataloader.dataset.pseudo_mask_subset': 'all',
        }
        for bb, sched in (('r18', '1x_toy'), ('r50', '30k_voc-sbd'))
    },
    **{
        f'weakly/mask-rcnn_{bb}_enhanced-fpn_full-mask_{sched}.py': {
            'model.type': 'MaskRCNN',
            'train_dataloader.dataset.type': 'ValidatedCocoDataset',
            'train_dataloader.dataset.ann_file': ann,
        }
        for bb, sched, ann in (
            ('r18', '1x_toy', 'annotations/instances_train.json'),
            ('r50', '30k_voc-sbd', 'annotations/instances_train_aug.json'))
    },
}


def _actual(cfg: Config, key: str) -> Any:
    if key == 'maskplus':
        return maskplus_switches(cfg)
    if key.startswith('paramwise:'):  # custom_keys entries contain dots
        custom_keys = cfg.optim_wrapper.get('paramwise_cfg', {}).get(
            'custom_keys', {})
        value = custom_keys.get(key[len('paramwise:'):])
        return ABSENT if value is None else dict(value)
    value = lookup(cfg, key)
    return DEFAULTS.get(key, ABSENT) if value is ABSENT else value


def _same(actual: Any, expected: Any) -> bool:
    if expected is ABSENT or actual is ABSENT:
        return actual is expected
    if isinstance(expected, tuple) and isinstance(actual, (list, tuple)):
        return tuple(actual) == expected
    if isinstance(expected, float):
        return isinstance(actual, (int, float)) and float(actual) == expected
    return actual == expected


def test_every_ablation_config_has_a_table_entry():
    missing = [
        p for p in CONFIG_FILES if name_parts(p)['ablation'] and p not in
        ABLATIONS
    ]
    assert not missing, (
        'configs whose names carry an ablation part but have no entry in '
        'tests/test_config_semantics.py ABLATIONS (add what the name '
        f'promises): {missing}')
    stale = sorted(set(ABLATIONS) - set(CONFIG_FILES))
    assert not stale, f'ABLATIONS names configs that do not exist: {stale}'


@pytest.mark.parametrize('rel_path', sorted(ABLATIONS))
def test_ablation_config_sets_what_its_name_says(rel_path):
    if rel_path not in CONFIG_FILES:
        pytest.fail(f'{rel_path} does not exist')
    cfg = load(rel_path)
    wrong = {
        key: (_actual(cfg, key), expected)
        for key, expected in ABLATIONS[rel_path].items()
        if not _same(_actual(cfg, key), expected)
    }
    assert not wrong, f'{rel_path}: (actual, promised) {wrong}'


# Full methods: the MaskPlus rows with every technique (Table 7). The toy
# configs scale the paper's context widths (over 256-channel RoI features)
# to their narrower RoI features.
PAPER_CONTEXT = (720, 512, 512, 256)


@pytest.mark.parametrize('rel_path', [
    p for p in CONFIG_FILES
    if name_parts(p)['algorithm'] in ('maskplus', 'maskplus-plus')
    and not name_parts(p)['ablation']
])
def test_full_maskplus_configs_turn_everything_on(rel_path):
    cfg = load(rel_path)
    switches = maskplus_switches(cfg)
    biased = switches.pop('biased')
    width = mask_heads(cfg)[0].in_channels
    assert switches == dict(
        context=tuple(c * width // 256 for c in PAPER_CONTEXT),
        dpm='DeconvPyramidModule',
        br='DenseBoundaryRefinement',
        qmt=(0.5, ))
    # alpha 1.5 for the first half of the iterations (Sec. 3.5)
    assert biased == (1.5, cfg.train_cfg.max_iters // 2, False)
    # every cascade stage gets the same head
    heads = mask_heads(cfg)
    assert all(h == heads[0] for h in heads)


ALGORITHMS = {
    'mask-rcnn': dict(model='MaskRCNN', roi_head='StandardRoIHead'),
    'cascade-mask-rcnn': dict(
        roi_head=('CascadeRoIHead', 'MMExtCascadeRoIHead')),
    'atmask-rcnn': dict(roi_head='AdaptiveThresholdRoIHead'),
    'mrrcnn': dict(roi_head='MaskRefiningRoIHead'),
    'maskplus': dict(roi_head='MaskPlusRoIHead'),
    'maskplus-plus': dict(roi_head='MaskPlusCascadeRoIHead'),
    'hybrid-weak': dict(model='HybridWeakDetector'),
    # MaskPlus' separately trained RPN (proposal generator of a recipe)
    'rpn': dict(model='RPN'),
    # combos (configs/combos/): a method's RoI head with another's mask head
    'mrrcnn-atmask': dict(
        roi_head='MaskRefiningRoIHead',
        mask_head='AdaptiveThresholdMaskHead'),
    'mrrcnn-maskplus': dict(
        roi_head='MaskRefiningRoIHead', mask_head='MaskPlusMaskHead'),
    'cascade-atmask': dict(
        roi_head='MMExtCascadeRoIHead',
        mask_head='AdaptiveThresholdMaskHead'),
    'hybrid-weak-atmask': dict(
        model='HybridWeakDetector',
        roi_head='AdaptiveThresholdRoIHead',
        mask_head='AdaptiveThresholdMaskHead'),
    'hybrid-weak-maskplus': dict(
        model='HybridWeakDetector',
        roi_head='MaskPlusRoIHead',
        mask_head='MaskPlusMaskHead'),
    # mmdet's peers (configs/peers/)
    'point-rend': dict(model='PointRend', roi_head='PointRendRoIHead'),
    'mask-scoring-rcnn': dict(
        model='MaskScoringRCNN', roi_head='MaskScoringRoIHead'),
    'htc-without-semantic': dict(
        model='HybridTaskCascade',
        roi_head='MMExtHybridTaskCascadeRoIHead',
        mask_head='HTCMaskHead'),
    'boxinst': dict(model='BoxInst'),
}
# One-stage instance segmentation (a top-level mask head, no RoI head).
ONE_STAGE_INSTANCE_SEGMENTATION = ('BoxInst', )
# Proposal generators: shipped configs that are not mask predictors.
NOT_INSTANCE_SEGMENTATION = {
    'maskplus/rpn_r50_fpn_360k_coco.py',
    'maskplus/rpn_r50_fpn_360k_coco-train2017-proposals.py',
}
# MaskPlus ablation rows keep the baseline's RoI head when the technique
# lives outside the mask head (biased training, 14x14 masks).
ALGORITHM_EXCEPTIONS = {
    'maskplus/maskplus_r50_fpn_biased_360k_coco.py': 'StandardRoIHead',
}
BACKBONES = {
    'r18': dict(type='ResNet', depth=18),
    'r50': dict(type='ResNet', depth=50),
    'r101': dict(type='ResNet', depth=101),
    'x101-32x8d': dict(type='ResNeXt', depth=101, groups=32, base_width=8),
    'r101-dconv-c3-c5': dict(
        type='ResNet',
        depth=101,
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)),
}
NECKS = {'fpn': 'FPN', 'enhanced-fpn': 'EnhancedFPN'}
DATASETS = {
    'coco': 'coco',
    'coco-test-dev': 'coco',
    'coco-train2017-proposals': 'coco',
    'toy': 'toy',
    'voc-sbd': 'voc_sbd'
}


@pytest.mark.parametrize('rel_path', CONFIG_FILES)
def test_name_parts_match_the_config(rel_path):
    parts = name_parts(rel_path)
    cfg = load(rel_path)
    det = detector(cfg)

    algo = ALGORITHMS.get(parts['algorithm'])
    assert algo is not None, f'{rel_path}: unknown algorithm part'
    if 'model' in algo:
        assert cfg.model.type == algo['model'], rel_path
    if 'roi_head' in algo:
        expected = ALGORITHM_EXCEPTIONS.get(rel_path, algo['roi_head'])
        expected = expected if isinstance(expected, tuple) else (expected, )
        assert det.roi_head.type in expected, rel_path
    if 'mask_head' in algo:
        assert {h['type'] for h in mask_heads(cfg)} == {algo['mask_head']}, \
            rel_path

    backbone = BACKBONES.get(parts['backbone'])
    assert backbone is not None, f'{rel_path}: unknown backbone part'
    for key, value in backbone.items():
        assert det.backbone.get(key) == value, (rel_path, key)

    assert det.neck.type == NECKS[parts['neck']], rel_path

    schedule = parts['schedule']
    if schedule.endswith('k'):
        assert cfg.train_cfg.max_iters == int(schedule[:-1]) * 1000, rel_path
    elif schedule == '1x' and parts['dataset'] != 'toy':
        assert cfg.train_cfg.max_epochs == 12, rel_path
    elif schedule == '1x':  # the toy benchmark's fine-tune schedule
        assert cfg.train_cfg.max_iters == 300, rel_path
    else:  # the toy benchmark's shared-start schedule
        assert schedule == 'start' and parts['dataset'] == 'toy', rel_path
        start_schedule = Config.fromfile(
            osp.join(CONFIG_ROOT, '_base_', 'schedules',
                     'schedule_start_toy.py'))
        assert cfg.train_cfg.max_iters == start_schedule.max_iters, rel_path
        assert cfg.param_scheduler == start_schedule.param_scheduler, rel_path
        assert cfg.optim_wrapper.optimizer == \
            start_schedule.optim_wrapper.optimizer, rel_path

    data_dir = DATASETS[parts['dataset']]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        root = lookup(cfg, f'{loader}.dataset.data_root')
        assert root is not ABSENT and data_dir in root, (rel_path, loader)


@pytest.mark.parametrize('rel_path', CONFIG_FILES)
def test_every_config_is_instance_segmentation(rel_path):
    """Every shipped config predicts masks: a mask RoI extractor and head
    (each cascade stage), masks loaded for training, a mask metric."""
    if rel_path in NOT_INSTANCE_SEGMENTATION:
        assert name_parts(rel_path)['algorithm'] == 'rpn', rel_path
        return
    cfg = load(rel_path)
    det = detector(cfg)
    if det.type in ONE_STAGE_INSTANCE_SEGMENTATION:
        assert lookup(det, 'mask_head') is not ABSENT, rel_path
        assert lookup(det, 'test_cfg.mask_thr') is not ABSENT, rel_path
        return
    heads = mask_heads(cfg)
    assert heads, f'{rel_path}: no roi_head.mask_head'
    assert lookup(det, 'roi_head.mask_roi_extractor') is not ABSENT
    num_stages = lookup(det, 'roi_head.num_stages')
    if num_stages is not ABSENT and isinstance(det.roi_head.mask_head,
                                               (list, tuple)):
        assert len(heads) == num_stages, rel_path
    assert lookup(det, 'test_cfg.rcnn.mask_thr_binary') is not ABSENT
    metrics = cfg.val_evaluator
    metrics = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    assert any(
        'segm' in str(m.get('metric', '')) or 'mAPr' in str(m)
        or m['type'] in ('VOCInstanceMetric', 'InstanceQualityMetric')
        for m in metrics), (rel_path, metrics)


@pytest.mark.parametrize('rel_path', CONFIG_FILES)
def test_every_config_passes_the_key_check(rel_path):
    check_config_keys(load(rel_path))


def _datasets(dataset: dict):
    """``dataset`` and every dataset it wraps (ConcatDataset, RepeatDataset,
    ClassBalancedDataset...)."""
    yield dataset
    inner = dataset.get('dataset', dataset.get('datasets'))
    for sub in (inner if isinstance(inner, (list, tuple)) else [inner]):
        if isinstance(sub, dict):
            yield from _datasets(sub)


@pytest.mark.parametrize('rel_path', CONFIG_FILES)
def test_every_config_validates_its_input(rel_path):
    """README "Safety nets" holds for every config, the COCO ones inheriting
    mmdet's datasets and runtime included: the non-finite loss guard is on,
    each annotated dataset is a
    ValidatedCocoDataset (or subclass) and images are loaded by the
    validating loader (listed, or built from a plain LoadImageFromFile by
    the dataset)."""
    from mmdet.registry import DATASETS

    from mmext.datasets import ValidatedCocoDataset
    cfg = load(rel_path)
    guard = cfg.get('default_hooks', {}).get('non_finite_loss')
    assert guard is not None and guard['type'] == 'NonFiniteLossHook', (
        rel_path, 'no NonFiniteLossHook in default_hooks')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for dataset in _datasets(cfg[loader]['dataset']):
            if 'pipeline' not in dataset:  # a wrapper
                continue
            cls = DATASETS.get(dataset['type'])
            assert cls is not None and issubclass(
                cls, ValidatedCocoDataset), (rel_path, loader,
                                             dataset['type'])
            loaders = [
                t['type'] for t in dataset['pipeline']
                if 'LoadImage' in str(t.get('type'))
            ]
            assert loaders, (rel_path, loader, 'no image loader')
            if dataset.get('validate_image_loading', True) is False:
                assert set(loaders) == {'ValidatedLoadImageFromFile'}, (
                    rel_path, loader, loaders)
            else:
                assert set(loaders) <= {
                    'ValidatedLoadImageFromFile', 'LoadImageFromFile'
                }, (rel_path, loader, loaders)
