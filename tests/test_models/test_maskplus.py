"""Tests of MaskPlus: its mask head, building blocks and RoI heads."""
import copy
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.ops import roi_align
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks
from mmdet.testing import demo_mm_inputs

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CFG = osp.join(REPO_ROOT, 'configs', 'maskplus',
                   'maskplus_r18_fpn_1x_toy.py')
TOY_PLUS_CFG = osp.join(REPO_ROOT, 'configs', 'maskplus',
                        'maskplus-plus_r18_fpn_1x_toy.py')


def build_head(**kwargs):
    cfg = dict(
        type='MaskPlusMaskHead',
        num_convs=2,
        in_channels=8,
        conv_out_channels=8,
        num_classes=3)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def plain_head_like(head):
    """An FCNMaskHead with ``head``'s weights (extra MaskPlus keys dropped)."""
    plain = MODELS.build(
        dict(
            type='FCNMaskHead',
            num_convs=head.num_convs,
            in_channels=head.in_channels,
            conv_out_channels=head.conv_out_channels,
            num_classes=head.num_classes))
    plain.load_state_dict(head.state_dict(), strict=False)
    return plain.eval()


# --------------------------------------------------------------- blocks


def test_all_switches_off_is_fcn_mask_head():
    head = build_head().eval()
    plain = MODELS.build(
        dict(
            type='FCNMaskHead',
            num_convs=2,
            in_channels=8,
            conv_out_channels=8,
            num_classes=3))
    assert set(head.state_dict()) == set(plain.state_dict())
    plain.load_state_dict(head.state_dict())
    x = torch.randn(5, 8, 14, 14)
    torch.testing.assert_close(head(x), plain.eval()(x), rtol=0, atol=0)


def test_deconv_pyramid_module_matches_reference():
    torch.manual_seed(0)
    dpm = MODELS.build(dict(type='DeconvPyramidModule', channels=4))
    dpm.init_weights()
    x = torch.randn(3, 4, 7, 7)

    def up(m, t):
        return F.relu(
            F.conv_transpose2d(t, m.conv.weight, m.conv.bias, stride=2))

    def down(m, t):
        return F.relu(
            F.conv2d(t, m.conv.weight, m.conv.bias, stride=2, padding=1))

    u1 = up(dpm.up_layers[0], x)  # 14x14
    u2 = up(dpm.up_layers[1], u1)  # 28x28
    d1 = down(dpm.down_layers[0], u2) + u1  # lateral addition at 14x14
    expected = down(dpm.down_layers[1], d1) + x  # and at 7x7
    out = dpm(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, expected)


def test_residual_boundary_refinement_matches_peng():
    torch.manual_seed(0)
    br = MODELS.build(dict(type='ResidualBoundaryRefinement', channels=3))
    x = torch.randn(2, 3, 9, 9)
    expected = x + F.conv2d(
        F.relu(F.conv2d(x, br.conv1.weight, br.conv1.bias, padding=1)),
        br.conv2.weight,
        br.conv2.bias,
        padding=1)
    torch.testing.assert_close(br(x), expected)
    nn.init.zeros_(br.conv2.weight)
    nn.init.zeros_(br.conv2.bias)
    torch.testing.assert_close(br(x), x)


def test_dense_boundary_refinement_structure():
    br = MODELS.build(dict(type='DenseBoundaryRefinement', channels=5))
    assert len(br.layers) == 4
    for i, layer in enumerate(br.layers):
        kinds = [type(m).__name__ for m in layer]
        assert kinds == [
            'BatchNorm2d', 'PReLU', 'Conv2d', 'BatchNorm2d', 'PReLU', 'Conv2d'
        ]
        # dense: the score map and every earlier module's 4 channels
        assert layer[0].num_features == 5 + 4 * i
        assert (layer[2].in_channels, layer[2].out_channels) == (5 + 4 * i, 16)
        assert (layer[5].in_channels, layer[5].out_channels) == (16, 4)
    assert br.fuse.in_channels == 5 + 4 * 4
    assert br.fuse.out_channels == 5

    x = torch.randn(3, 5, 8, 8)
    assert br(x).shape == x.shape
    # it learns a residual: with the projection at zero it is the identity
    nn.init.zeros_(br.fuse.weight)
    nn.init.zeros_(br.fuse.bias)
    torch.testing.assert_close(br.eval()(x), x)


# ------------------------------------------------------------- mask head


def test_context_is_added_to_roi_features():
    head = build_head(context_cfg=dict(channels=(16, 8))).eval()
    assert [c.conv.out_channels for c in head.context_branch.convs] == [16, 8]
    # the last context conv is linear: its output is added to raw features
    assert [c.with_activation
            for c in head.context_branch.convs] == [True, False]
    x = torch.randn(4, 8, 14, 14)
    context = torch.randn(4, 8, 14, 14)
    torch.testing.assert_close(
        head(x, context),
        plain_head_like(head)(x + context))
    with pytest.raises(ValueError, match='MaskPlusRoIHead'):
        head(x)
    with pytest.raises(ValueError, match='context_cfg.channels'):
        build_head(context_cfg=dict(channels=(16, 4)))


def test_dpm_and_br_positions():
    """On the real ``forward`` (observed with forward hooks): the DPM takes
    the last conv's output and feeds the up-sampling deconv; the boundary
    refinement takes the logits and its output is the head's output."""
    head = build_head(
        dpm_cfg=dict(type='DeconvPyramidModule'),
        boundary_refine_cfg=dict(type='DenseBoundaryRefinement')).eval()
    assert head.dpm.channels == 8  # the conv width
    assert head.boundary_refine.channels == 3  # BR works on the logits
    seen = {}

    def record(name):

        def hook(module, args, output):
            seen[name] = (args[0], output)

        return hook

    names = ('convs.1', 'dpm', 'upsample', 'conv_logits', 'boundary_refine')
    handles = [
        head.get_submodule(name).register_forward_hook(record(name))
        for name in names
    ]
    x = torch.randn(2, 8, 14, 14)
    with torch.no_grad():
        out = head(x)
    for handle in handles:
        handle.remove()
    assert set(seen) == set(names)
    # convs -> DPM -> deconv: the DPM sits between them, nothing else
    assert seen['dpm'][0] is seen['convs.1'][1]
    assert seen['upsample'][0] is seen['dpm'][1]
    assert not torch.equal(seen['dpm'][1], seen['dpm'][0])
    # deconv -> ReLU -> logits -> BR -> output
    torch.testing.assert_close(seen['conv_logits'][0],
                               head.relu(seen['upsample'][1]))
    assert seen['boundary_refine'][0] is seen['conv_logits'][1]
    assert out is seen['boundary_refine'][1]


def test_qmt_branches_train_and_eval_outputs():
    head = build_head(qmt_scales=(0.5, 2.0))
    x = torch.randn(3, 8, 14, 14)
    main, half, double = head.train()(x)
    assert main.shape == (3, 3, 28, 28)
    assert half.shape == (3, 3, 14, 14)
    assert double.shape == (3, 3, 56, 56)
    # the branches copy the plain head: same convs, deconvs 0 and 2
    half_kinds = [type(m).__name__ for m in head.qmt_branches[0]]
    assert half_kinds == ['ConvModule', 'ConvModule', 'Conv2d']
    assert len(head.qmt_branches[1]) == 2 + 2 + 1
    out = head.eval()(x)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 3, 28, 28)
    for bad in (3.0, 1.0, 0.25, -1.0):
        with pytest.raises(ValueError, match='qmt_scales'):
            build_head(qmt_scales=(bad, ))


def _half_mask_sampling(num_rois=2):
    """A 32x32 gt whose left half is foreground, its box as positives."""
    masks = torch.zeros(1, 32, 32, dtype=torch.uint8)
    masks[0, :, :16] = 1
    gt = SimpleNamespace(masks=BitmapMasks(masks.numpy(), 32, 32))
    res = SimpleNamespace(
        pos_priors=torch.tensor([[0., 0., 32., 32.]] * num_rois),
        pos_assigned_gt_inds=torch.zeros(num_rois, dtype=torch.long),
        pos_gt_labels=torch.tensor([1] * num_rois))
    return [res], [gt]


def _left_half_logits(num_rois, size, value=2.0, num_classes=3):
    logits = torch.full((num_rois, num_classes, size, size), -value)
    logits[..., :size // 2] = value
    return logits


def test_qmt_losses_use_targets_at_their_size():
    head = build_head(qmt_scales=(0.5, 2.0), loss_qmt_weight=0.5)
    sampling_results, gts = _half_mask_sampling()
    cfg = ConfigDict(mask_size=28)
    for size in (14, 56):
        targets = head._get_targets_at(sampling_results, gts, cfg,
                                       (size, size))
        expected = torch.zeros(2, size, size)
        expected[..., :size // 2] = 1
        torch.testing.assert_close(targets, expected)

    preds = tuple(_left_half_logits(2, s) for s in (28, 14, 56))
    out = head.loss_and_target(preds, sampling_results, gts, cfg)
    losses = out['loss_mask']
    assert set(losses) == {'loss_mask', 'loss_mask_qmt14', 'loss_mask_qmt56'}
    # predictions agree with the targets everywhere: BCE = softplus(-2)
    agree = F.softplus(torch.tensor(-2.0)).item()
    assert losses['loss_mask'].item() == pytest.approx(agree)
    assert losses['loss_mask_qmt14'].item() == pytest.approx(0.5 * agree)
    assert losses['loss_mask_qmt56'].item() == pytest.approx(0.5 * agree)
    assert out['mask_targets'].shape == (2, 28, 28)
    # a 14x14 prediction checked against 28x28 targets would be an error,
    # and a flipped one must cost more
    flipped = (preds[0], -preds[1], preds[2])
    losses = head.loss_and_target(flipped, sampling_results, gts,
                                  cfg)['loss_mask']
    assert losses['loss_mask_qmt14'].item() == pytest.approx(
        0.5 * F.softplus(torch.tensor(2.0)).item())


def test_no_positive_rois():
    head = build_head(
        qmt_scales=(0.5, ),
        dpm_cfg=dict(type='DeconvPyramidModule'),
        boundary_refine_cfg=dict(type='DenseBoundaryRefinement'))
    sampling_results, gts = _half_mask_sampling(num_rois=0)
    preds = head.train()(torch.randn(0, 8, 14, 14))
    losses = head.loss_and_target(preds, sampling_results, gts,
                                  ConfigDict(mask_size=28))['loss_mask']
    assert set(losses) == {'loss_mask', 'loss_mask_qmt14'}
    assert all(loss.item() == 0.0 for loss in losses.values())


def test_every_technique_is_trained():
    """All parameters get gradients and the loss goes down."""
    torch.manual_seed(0)
    head = build_head(
        context_cfg=dict(channels=(16, 8)),
        dpm_cfg=dict(type='DeconvPyramidModule'),
        boundary_refine_cfg=dict(type='DenseBoundaryRefinement'),
        qmt_scales=(0.5, 2.0)).train()
    sampling_results, gts = _half_mask_sampling(num_rois=4)
    x = torch.randn(4, 8, 14, 14)
    full_image = torch.randn(1, 8, 14, 14)
    cfg = ConfigDict(mask_size=28)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    history = []
    for step in range(20):
        context = head.forward_context(full_image).expand(4, -1, -1, -1)
        losses = head.loss_and_target(
            head(x, context), sampling_results, gts, cfg)['loss_mask']
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        if step == 0:
            no_grad = [
                name for name, p in head.named_parameters()
                if p.grad is None or not p.grad.abs().sum() > 0
            ]
            assert no_grad == []
        optimizer.step()
        history.append(total.item())
    assert history[-1] < 0.5 * history[0]


# -------------------------------------------------------------- RoI heads


def _toy_cfg(path=TOY_CFG):
    init_default_scope('mmdet')
    return Config.fromfile(path)


def _toy_feats(num_imgs=2, channels=64, size=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(num_imgs, channels, size // s, size // s, generator=g)
        for s in (4, 8, 16, 32, 64))


def _build_toy_roi_head(**mask_head_kwargs):
    cfg = _toy_cfg()
    roi_head_cfg = copy.deepcopy(cfg.model.roi_head)
    roi_head_cfg.mask_head.update(mask_head_kwargs)
    roi_head_cfg.test_cfg = cfg.model.test_cfg.rcnn
    head = MODELS.build(roi_head_cfg)
    head.init_weights()
    return head.eval()


@pytest.mark.parametrize('level', [None, 0])
def test_full_image_context_per_image(level):
    head = _build_toy_roi_head(
        context_cfg=dict(channels=(32, 64), level=level))
    x = _toy_feats()
    metas = [dict(img_shape=(128, 96)), dict(img_shape=(64, 128))]
    rois = torch.tensor([[1., 3., 4., 50., 60.], [0., 10., 10., 40., 40.],
                         [1., 0., 0., 20., 30.]])
    with head._record_img_shapes(metas):
        context = head._full_image_context(x, rois, head.mask_roi_extractor,
                                           head.mask_head)

    # reference: RoIAlign of the valid image area [0, 0, w, h], conv stack
    extractor = head.mask_roi_extractor
    strides = extractor.featmap_strides
    expected_per_img = []
    for i, (h, w) in enumerate(m['img_shape'] for m in metas):
        if level is None:  # the extractor's scale rule
            lvl = int(
                min(
                    max(
                        math.floor(math.log2(math.sqrt(h * w) / 16 + 1e-6)),
                        0),
                    len(strides) - 1))
        else:
            lvl = level
        pooled = roi_align(x[lvl], torch.tensor([[float(i), 0, 0, w, h]]),
                           (14, 14), 1.0 / strides[lvl], 0, 'avg', True)
        expected_per_img.append(head.mask_head.context_branch(pooled))
    expected = torch.cat([expected_per_img[int(b)] for b in rois[:, 0]])
    torch.testing.assert_close(context, expected)
    assert not torch.allclose(context[0], context[1])


def test_roi_head_needs_image_shapes_and_separate_extractor():
    head = _build_toy_roi_head(context_cfg=dict(channels=(32, 64)))
    rois = torch.tensor([[0., 3., 4., 50., 60.]])
    with pytest.raises(RuntimeError, match='image shapes'):
        head._mask_forward(_toy_feats(), rois)
    cfg = _toy_cfg()
    roi_head_cfg = copy.deepcopy(cfg.model.roi_head)
    roi_head_cfg.mask_roi_extractor = None
    with pytest.raises(ValueError, match='mask_roi_extractor'):
        MODELS.build(roi_head_cfg)


def _batch(model, seed=0):
    data = demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, 128, 128), (3, 96, 128)],
        num_items=[2, 3],
        num_classes=4,
        with_mask=True)
    torch.manual_seed(seed)
    return model.data_preprocessor(data, training=True)


def _build_detector(path=TOY_CFG, **mask_head_kwargs):
    cfg = _toy_cfg(path)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.roi_head.mask_head.update(mask_head_kwargs)
    # keep low-score detections so that the mask head runs on random weights
    model_cfg.test_cfg.rcnn.score_thr = 0.0
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


class CallRecorder:
    """Forward hooks on every submodule; records which ones ran."""

    def __init__(self, model):
        self.called = set()
        self.handles = [
            m.register_forward_hook(self._hook(name))
            for name, m in model.named_modules() if name
        ]

    def _hook(self, name):

        def hook(module, args, output):
            self.called.add(name)

        return hook

    def remove(self):
        for h in self.handles:
            h.remove()

    def num_params(self, model):
        modules = dict(model.named_modules())
        return sum(p.numel() for name in self.called
                   for p in modules[name].parameters(recurse=False))


def test_toy_maskplus_loss_uses_image_context():
    model = _build_detector().train()
    data = _batch(model)
    calls = []
    model.roi_head.mask_head.context_branch.register_forward_hook(
        lambda m, args, out: calls.append(args[0].shape[0]))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert calls == [2]  # once, one full-image RoI per image
    for key in ('loss_mask', 'loss_mask_qmt14'):
        assert torch.isfinite(losses[key])
    model.parse_losses(losses)[0].backward()
    assert model.roi_head.mask_head.context_branch.convs[0].conv.weight.grad \
        .abs().sum() > 0


def test_qmt_does_not_change_inference():
    """QMT is a scaffold: same inference modules, parameters and outputs."""
    with_qmt = _build_detector(qmt_scales=(0.5, 2.0)).eval()
    without = _build_detector(qmt_scales=()).eval()
    incompatible = without.load_state_dict(with_qmt.state_dict(), strict=False)
    assert incompatible.missing_keys == []
    assert incompatible.unexpected_keys
    assert all(
        k.startswith('roi_head.mask_head.qmt_branches.')
        for k in incompatible.unexpected_keys)

    data = _batch(with_qmt)
    data['data_samples'] = [copy.deepcopy(s) for s in data['data_samples']]
    outputs, called_params = [], []
    for model in (with_qmt, without):
        recorder = CallRecorder(model)
        with torch.no_grad():
            outputs.append(
                model.predict(data['inputs'],
                              copy.deepcopy(data['data_samples'])))
        recorder.remove()
        assert 'roi_head.mask_head.conv_logits' in recorder.called
        assert not any('qmt_branches' in name for name in recorder.called)
        called_params.append(recorder.num_params(model))
    assert called_params[0] == called_params[1]
    qmt_params = sum(
        p.numel()
        for p in with_qmt.roi_head.mask_head.qmt_branches.parameters())
    total = sum(p.numel() for p in with_qmt.parameters())
    assert qmt_params > 0
    assert called_params[0] <= total - qmt_params

    for a, b in zip(*outputs):
        pa, pb = a.pred_instances, b.pred_instances
        assert len(pa) > 0
        torch.testing.assert_close(pa.bboxes, pb.bboxes, rtol=0, atol=0)
        torch.testing.assert_close(pa.scores, pb.scores, rtol=0, atol=0)
        assert torch.equal(pa.labels, pb.labels)
        assert torch.equal(pa.masks, pb.masks)


def test_toy_maskplus_plus_cascade():
    model = _build_detector(TOY_PLUS_CFG).train()
    data = _batch(model)
    calls = []
    for head in model.roi_head.mask_head:
        head.context_branch.register_forward_hook(
            lambda m, args, out: calls.append(args[0].shape[0]))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert calls == [2, 2, 2]  # every stage, once per batch
    for stage in range(3):
        for key in ('loss_mask', 'loss_mask_qmt14'):
            assert torch.isfinite(losses[f's{stage}.{key}'])
    model.eval()
    calls.clear()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    assert calls == [2, 2, 2]
    assert results[0].pred_instances.masks.shape[-2:] == (128, 128)
