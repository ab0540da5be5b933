"""Channels-last mask heads on the CPU (``cpu_channels_last``).

The conversion only changes strides: with it on, the mask heads' outputs are
channels-last (the deconvolutions skipped their NCHW copy), and the losses,
every gradient and the predictions equal those of the NCHW computation up to
float rounding.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS
from mmext.models.mask_heads.memory_format import cpu_channels_last
from test_configs import shrink_proposals, strip_pretrained, synthetic_batch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# toy configs whose mask heads convert (the mmext heads themselves, or
# MR R-CNN's RoI head for mmdet's HTCMaskHead)
TOY_CONFIGS = [
    'atmask/atmask-rcnn_r18_fpn_1x_toy.py',
    'mrrcnn/mrrcnn_r18_fpn_1x_toy.py',
    'maskplus/maskplus_r18_fpn_1x_toy.py',
    'maskplus/maskplus-plus_r18_fpn_1x_toy.py',
    'combos/mrrcnn-maskplus_r18_fpn_1x_toy.py',
]


def test_cpu_channels_last():
    x = torch.randn(3, 5, 7, 9)
    y = cpu_channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert not y.is_contiguous()
    assert y.shape == x.shape and torch.equal(y, x)
    assert cpu_channels_last(None) is None
    flat = torch.randn(3, 5)
    assert cpu_channels_last(flat) is flat
    meta = torch.empty(3, 5, 7, 9, device='meta')
    assert cpu_channels_last(meta) is meta


def _set_channels_last(model, enabled: bool) -> int:
    count = 0
    for module in model.modules():
        if hasattr(module, 'cpu_channels_last'):
            module.cpu_channels_last = enabled
            count += 1
    return count


def _is_mask_head(name: str) -> bool:
    """``roi_head.mask_head``, ``...refine_mask_head``, ``...mask_head.2``."""
    parts = name.split('.')
    if parts[-1].isdigit():
        parts = parts[:-1]
    return parts[-1] in ('mask_head', 'refine_mask_head')


def _record_mask_head_formats(model) -> list:
    """Hooks that record, per mask head call, whether its first output is
    channels-last."""
    formats = []

    def hook(module, inputs, output):
        while isinstance(output, (tuple, list)):
            output = output[0]
        if output.numel() == 0:
            return  # no RoIs: both formats at once
        formats.append(
            (type(module).__name__, tuple(output.shape), output.stride(),
             output.is_contiguous(memory_format=torch.channels_last)))

    handles = [
        module.register_forward_hook(hook)
        for name, module in model.named_modules()
        if _is_mask_head(name)
    ]
    return formats, handles


def _loss_and_grads(model, data) -> tuple:
    model.zero_grad()
    torch.manual_seed(1)
    losses = model.loss(data['inputs'], data['data_samples'])
    loss, log_vars = model.parse_losses(losses)
    loss.backward()
    grads = {
        name: p.grad.clone()
        for name, p in model.named_parameters() if p.grad is not None
    }
    return log_vars, grads


def _predict(model, batch) -> list:
    model.eval()
    with torch.no_grad():
        results = model.test_step(batch)
    model.train()
    return [r.pred_instances for r in results]


@pytest.mark.parametrize('config', TOY_CONFIGS)
def test_channels_last_mask_heads_change_nothing_but_strides(config, tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    model_cfg = shrink_proposals(strip_pretrained(copy.deepcopy(cfg.model)))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    assert _set_channels_last(model, True) > 0
    batch = synthetic_batch(4, str(tmp_path))
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    initial = copy.deepcopy(model.state_dict())

    formats, handles = _record_mask_head_formats(model)
    log_cl, grads_cl = _loss_and_grads(model, data)
    pred_cl = _predict(model, copy.deepcopy(batch))
    assert formats and all(f[-1] for f in formats), \
        f'{config}: a mask head ran in NCHW: {formats}'

    formats.clear()
    _set_channels_last(model, False)
    model.load_state_dict(initial)  # the BN statistics the first loss moved
    log_nchw, grads_nchw = _loss_and_grads(model, data)
    pred_nchw = _predict(model, copy.deepcopy(batch))
    assert formats and not any(f[-1] for f in formats)
    for handle in handles:
        handle.remove()

    for key, value in log_nchw.items():
        assert float(log_cl[key]) == pytest.approx(
            float(value), rel=1e-4, abs=1e-6), key
    assert grads_cl.keys() == grads_nchw.keys()
    # on each gradient's norm: the first layers and a PReLU slope sum many
    # terms that nearly cancel, so single elements differ more than the whole
    for name, grad in grads_nchw.items():
        diff = (grads_cl[name] - grad).norm().item()
        bound = 1e-3 * grad.norm().item() + 1e-5
        assert diff <= bound, f'{config}: gradient of {name} {diff:.2e}'
    for cl, nchw in zip(pred_cl, pred_nchw):
        torch.testing.assert_close(cl.bboxes, nchw.bboxes)
        torch.testing.assert_close(cl.scores, nchw.scores)
        assert torch.equal(cl.labels, nchw.labels)
        # binary masks: a pixel may sit on the threshold within rounding
        differing = (cl.masks != nchw.masks).float().mean().item()
        assert differing < 1e-3, f'{config}: {differing:.2%} mask pixels'
