"""The combos of configs/combos/ really use every part they compose.

For each toy combo config: after one training step every composed part
(ATMask's threshold branch, MaskPlus' context branch and DPM, MR R-CNN's
refining heads, the cascade stages) has non-zero gradients, and changing
such a part's weights changes the predictions. A combo that silently skipped
a part (e.g. a consumer re-running a head's FCN layers by hand, which
bypasses the threshold branch or the context) fails the second check even
where the part's own loss still trains it.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmdet.registry import MODELS
from mmext.models.mask_heads import check_feature_reuse_head
from test_configs import shrink_proposals, strip_pretrained, synthetic_batch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config -> the composed parts (module paths in the model)
COMBOS = {
    'mrrcnn-atmask_r18_fpn_1x_toy.py': [
        'roi_head.mask_head.threshold_convs',
        'roi_head.mask_head.t2p_fusion',
        'roi_head.refine_mask_head.threshold_convs',
        'roi_head.refine_mask_head.threshold_logits',
        'roi_head.refine_mask_head.conv_res',
        'roi_head.refine_bbox_head',
    ],
    'mrrcnn-maskplus_r18_fpn_1x_toy.py': [
        'roi_head.mask_head.context_branch',
        'roi_head.mask_head.dpm',
        'roi_head.refine_mask_head.context_branch',
        'roi_head.refine_mask_head.dpm',
        'roi_head.refine_mask_head.conv_res',
        'roi_head.refine_bbox_head',
    ],
    'cascade-atmask_r18_fpn_1x_toy.py': [
        f'roi_head.mask_head.{stage}.{part}' for stage in range(3)
        for part in ('threshold_convs', 'threshold_logits')
    ],
    'hybrid-weak-atmask_r18_enhanced-fpn_1x_toy.py': [
        'large_branch.roi_head.mask_head.threshold_convs',
        'large_branch.roi_head.mask_head.threshold_logits',
    ],
    'hybrid-weak-maskplus_r18_enhanced-fpn_1x_toy.py': [
        'large_branch.roi_head.mask_head.context_branch',
        'large_branch.roi_head.mask_head.dpm',
    ],
}


def _cap_proposals(node, max_per_img: int, num_samples: int) -> None:
    """Fewer proposals and samples than ``shrink_proposals`` (cheaper
    predictions; every module still runs)."""
    if isinstance(node, dict):
        if isinstance(node.get('max_per_img'), int):
            node['max_per_img'] = min(node['max_per_img'], max_per_img)
        sampler = node.get('sampler')
        if isinstance(sampler, dict) and isinstance(sampler.get('num'), int):
            sampler['num'] = min(sampler['num'], num_samples)
        for value in node.values():
            _cap_proposals(value, max_per_img, num_samples)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _cap_proposals(value, max_per_img, num_samples)


def _build(name: str):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'combos', name))
    model_cfg = shrink_proposals(strip_pretrained(copy.deepcopy(cfg.model)))
    _cap_proposals(model_cfg, max_per_img=20, num_samples=32)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model, cfg


def _add_jittered_gt_proposals(model) -> None:
    """Make the RPNs also propose each ground-truth box shifted by 2 px.

    An untrained RPN rarely proposes a box with IoU >= 0.5 to an object, and
    the ground-truth boxes a sampler adds are dropped by refining stages
    (MR R-CNN, cascades), which would then have no positives to train on.
    """
    for name, module in model.named_modules():
        if not name.endswith('rpn_head'):
            continue

        def loss_and_predict(x, batch_data_samples, proposal_cfg=None,
                             _original=module.loss_and_predict):
            losses, results_list = _original(x, batch_data_samples,
                                             proposal_cfg)
            for i, sample in enumerate(batch_data_samples):
                results = results_list[i]
                gt_boxes = sample.gt_instances.bboxes
                extra = results.new(
                    bboxes=gt_boxes + 2.,
                    scores=results.scores.new_ones(len(gt_boxes)),
                    labels=results.labels.new_zeros(len(gt_boxes)))
                results_list[i] = results.cat([extra, results])
            return losses, results_list

        module.loss_and_predict = loss_and_predict


def _predictions(model, batch) -> list:
    model.eval()
    with torch.no_grad():
        results = model.test_step(batch)
    return [(r.pred_instances.bboxes, r.pred_instances.scores,
             r.pred_instances.masks) for r in results]


def _same(a: list, b: list) -> bool:
    return all(
        x.shape == y.shape and torch.equal(x, y)
        for pa, pb in zip(a, b) for x, y in zip(pa, pb))


def test_every_toy_combo_is_tested():
    toy_combos = {
        osp.basename(p)
        for p in glob.glob(
            osp.join(REPO_ROOT, 'configs', 'combos', '*_toy.py'))
    }
    assert toy_combos == set(COMBOS)


@pytest.mark.parametrize('name', sorted(COMBOS))
def test_combo_uses_its_parts(name, tmp_path):
    model, cfg = _build(name)
    modules = dict(model.named_modules())
    parts = {path: modules[path] for path in COMBOS[name]}

    # one training step: every part gets a gradient
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    _add_jittered_gt_proposals(model)
    model.train()
    torch.manual_seed(1)
    data = model.data_preprocessor(synthetic_batch(4, str(tmp_path)), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    loss, _ = model.parse_losses(losses)
    optim_wrapper.zero_grad()
    loss.backward()
    for path, part in parts.items():
        grads = [p.grad for p in part.parameters()]
        assert grads and all(g is not None for g in grads), \
            f'{name}: {path} got no gradient'
        assert any(g.abs().max() > 0 for g in grads), \
            f'{name}: {path} has zero gradients'
    optim_wrapper.step()

    # the predictions depend on every part
    batch = synthetic_batch(4, str(tmp_path))
    reference = _predictions(model, batch)
    assert any(len(p[1]) for p in reference), f'{name}: no detections'
    gen = torch.Generator().manual_seed(2)
    for path, part in parts.items():
        saved = copy.deepcopy(part.state_dict())
        with torch.no_grad():
            for param in part.parameters():
                param.add_(torch.randn(param.shape, generator=gen))
        changed = _predictions(model, batch)
        part.load_state_dict(saved)
        assert not _same(reference, changed), \
            f'{name}: predictions do not depend on {path}'
    assert _same(reference, _predictions(model, batch))


def test_consumers_reject_a_head_without_the_protocol():
    """The cascade stages and MR R-CNN's heads go through the protocol; a
    head that cannot return its reused feature is named with its key."""
    fcn = MODELS.build(
        dict(
            type='FCNMaskHead',
            num_convs=1,
            in_channels=8,
            conv_out_channels=8,
            num_classes=2))
    with pytest.raises(TypeError, match=r'roi_head\.mask_head: .*FCNMaskHead'):
        check_feature_reuse_head(fcn, 'roi_head.mask_head',
                                 'MaskRefiningRoIHead')
    for head_type in ('HTCMaskHead', 'AdaptiveThresholdMaskHead',
                      'MaskPlusMaskHead'):
        head = MODELS.build(
            dict(
                type=head_type,
                num_convs=1,
                in_channels=8,
                conv_out_channels=8,
                num_classes=2))
        check_feature_reuse_head(head, 'roi_head.mask_head', 'test')
