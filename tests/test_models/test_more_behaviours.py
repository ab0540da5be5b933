"""Behaviour a researcher relies on beyond each paper's headline claim:
EnhancedFPN with FPN's extra-level options, MaskPlus+ (MaskPlus on a
cascade) initialised from a Mask R-CNN and trained in every stage."""
import copy

import pytest
import torch
from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from mmengine.runner.checkpoint import load_state_dict

from mmext.models.necks import EnhancedFPN

IN_CHANNELS = [8, 16, 32, 64]


def _pyramid(size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sizes = [size]
    for _ in range(3):
        sizes.append((sizes[-1] + 1) // 2)
    return [
        torch.rand(1, c, s, s, generator=gen)
        for c, s in zip(IN_CHANNELS, sizes)
    ]


@pytest.mark.parametrize('extra', ['on_input', 'on_lateral', 'on_output'])
def test_enhanced_fpn_extra_convs_follow_fpn(extra):
    """With ``add_extra_convs`` the extra levels are FPN's: equal to FPN
    with zero shortcuts; with shortcuts, a P6 from the laterals or outputs
    sees the bottom level, one from the input (C5) equals FPN's."""
    torch.manual_seed(0)
    enhanced = EnhancedFPN(
        IN_CHANNELS, 16, 6, add_extra_convs=extra).eval()
    enhanced.init_weights()
    plain = FPN(IN_CHANNELS, 16, 6, add_extra_convs=extra).eval()
    result = plain.load_state_dict(enhanced.state_dict(), strict=False)
    assert not result.missing_keys
    inputs = _pyramid()
    with torch.no_grad():
        outs, ref = enhanced(inputs), plain(inputs)
    assert len(outs) == 6
    assert [o.shape for o in outs] == [r.shape for r in ref]
    if extra == 'on_input':
        torch.testing.assert_close(outs[4], ref[4])  # conv on C5
    else:
        assert not torch.allclose(outs[4], ref[4])
    assert not torch.allclose(outs[5], ref[5]) or extra == 'on_input'
    for conv in enhanced.shortcut_convs:
        torch.nn.init.zeros_(conv.conv.weight)
        torch.nn.init.zeros_(conv.conv.bias)
    with torch.no_grad():
        for out, r in zip(enhanced(inputs), plain(inputs)):
            torch.testing.assert_close(out, r)


# ------------------------------------------------------------- MaskPlus+
def _toy_cfg(name):
    from test_maskplus import _toy_cfg as load
    import os.path as osp
    from test_maskplus import REPO_ROOT
    return load(osp.join(REPO_ROOT, 'configs', 'maskplus', name))


class _Holder(torch.nn.Module):

    def __init__(self, roi_head):
        super().__init__()
        self.roi_head = roi_head


def test_maskplus_plus_stages_start_from_a_mask_rcnn():
    """``init_stages_from_single_stage``: a Mask R-CNN state dict fills the
    box and mask heads of every stage; MaskPlus-only layers and layers whose
    shapes differ keep their own initialisation."""
    plus_cfg = _toy_cfg('maskplus-plus_r18_fpn_1x_toy.py').model
    assert plus_cfg.roi_head.init_stages_from_single_stage
    mrcnn_cfg = _toy_cfg('../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py').model
    torch.manual_seed(0)
    single = MODELS.build(
        dict(mrcnn_cfg.roi_head, train_cfg=mrcnn_cfg.train_cfg.rcnn))
    gen = torch.Generator().manual_seed(1)
    state = {
        f'roi_head.{k}': torch.randn(v.shape, generator=gen)
        if v.is_floating_point() else v
        for k, v in single.state_dict().items()
    }
    plus = _Holder(
        MODELS.build(
            dict(
                plus_cfg.roi_head,
                train_cfg=plus_cfg.train_cfg.rcnn,
                test_cfg=plus_cfg.test_cfg.rcnn)))
    before = copy.deepcopy(plus.state_dict())
    load_state_dict(plus, copy.deepcopy(state))
    after = plus.state_dict()
    head = plus.roi_head
    assert head.num_stages == 3
    for stage in range(3):
        for name in ('convs.0.conv.weight', 'convs.3.conv.bias',
                     'upsample.weight', 'conv_logits.weight'):
            torch.testing.assert_close(
                after[f'roi_head.mask_head.{stage}.{name}'],
                state[f'roi_head.mask_head.{name}'])
        torch.testing.assert_close(
            after[f'roi_head.bbox_head.{stage}.fc_cls.weight'],
            state['roi_head.bbox_head.fc_cls.weight'])
        # MaskPlus' own layers: not in a Mask R-CNN, kept
        for key in after:
            if key.startswith(f'roi_head.mask_head.{stage}.') and any(
                    part in key for part in ('context_branch', 'dpm.',
                                             'boundary_refine',
                                             'qmt_branches')):
                assert torch.equal(after[key], before[key]), key
    # the class-agnostic regression (4 outputs, not 4 * classes) differs
    # in shape from Mask R-CNN's and keeps its own initialisation
    key = 'roi_head.bbox_head.0.fc_reg.weight'
    assert after[key].shape != state['roi_head.bbox_head.fc_reg.weight'].shape
    assert torch.equal(after[key], before[key])


def test_maskplus_plus_trains_every_technique_in_every_stage():
    from test_maskplus import _batch, _build_detector, TOY_PLUS_CFG
    model = _build_detector(TOY_PLUS_CFG).train()
    data = _batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, log_vars = model.parse_losses(losses)
    total.backward()
    for stage in range(3):
        assert f's{stage}.loss_mask' in log_vars
        assert f's{stage}.loss_mask_qmt14' in log_vars
        head = model.roi_head.mask_head[stage]
        for name, module in (('context', head.context_branch),
                             ('dpm', head.dpm),
                             ('br', head.boundary_refine),
                             ('qmt', head.qmt_branches)):
            grads = [
                p.grad.abs().sum() for p in module.parameters()
                if p.grad is not None
            ]
            assert grads and sum(grads) > 0, (stage, name)
