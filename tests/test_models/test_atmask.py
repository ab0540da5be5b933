"""Tests of ATMask R-CNN: AdaptiveThresholdMaskHead and its RoI head."""
import copy
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks, mask_target

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CFG = osp.join(REPO_ROOT, 'configs', 'atmask',
                   'atmask-rcnn_r18_fpn_1x_toy.py')

TEST_CFG = ConfigDict(mask_thr_binary=0.5)


def build_head(**kwargs):
    cfg = dict(
        type='AdaptiveThresholdMaskHead',
        num_convs=2,
        in_channels=8,
        conv_out_channels=8,
        num_classes=3)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def logit(p):
    return torch.log(p) - torch.log1p(-p)


def reference_upsampled_maps(prob, thr, boxes, img_h, img_w):
    """Upsample P and T into the image independently of mmdet's paste.

    P is zero outside its map (mmdet's mask pasting convention), T extends its
    border outwards; both bilinear, sampled at pixel centres.
    """
    ys = torch.arange(img_h, dtype=torch.float32) + 0.5
    xs = torch.arange(img_w, dtype=torch.float32) + 0.5
    p_up, t_up = [], []
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        gy = (ys - y0) / (y1 - y0) * 2 - 1
        gx = (xs - x0) / (x1 - x0) * 2 - 1
        grid = torch.stack(torch.meshgrid(gx, gy, indexing='xy'), -1)[None]
        p_up.append(
            F.grid_sample(prob[i:i + 1], grid, align_corners=False)[0, 0])
        t_up.append(
            F.grid_sample(
                thr[i:i + 1], grid, padding_mode='border',
                align_corners=False)[0, 0])
    return torch.stack(p_up), torch.stack(t_up)


def test_paste_exact_small_case():
    """Box of 4x4 pixels, 4x4 maps: the mask is the pixel-wise P >= T."""
    head = build_head(num_classes=1)
    prob = torch.tensor([[0.9, 0.2, 0.6, 0.6], [0.3, 0.8, 0.1, 0.5],
                         [0.7, 0.7, 0.4, 0.05], [0.2, 0.6, 0.95, 0.5]])
    thr = torch.tensor([[0.5, 0.1, 0.7, 0.3], [0.4, 0.9, 0.05, 0.5],
                        [0.2, 0.8, 0.45, 0.01], [0.1, 0.7, 0.9, 0.6]])
    masks = head._predict_by_feat_single(
        mask_preds=prob[None, None],
        bboxes=torch.tensor([[1., 1., 5., 5.]]),
        labels=torch.tensor([0]),
        img_meta=dict(scale_factor=(1., 1.), ori_shape=(6, 6)),
        rcnn_test_cfg=TEST_CFG,
        activate_map=True,
        threshold_preds=thr[None, None])
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[1:5, 1:5] = prob >= thr
    assert torch.equal(masks[0], expected)


@pytest.mark.parametrize('skip_empty_device', [True, False])
def test_paste_equals_comparison_of_upsampled_maps(skip_empty_device,
                                                   monkeypatch):
    """Hand-built P and T on boxes of several sizes and sub-pixel offsets:
    pasted mask == (upsampled P >= upsampled T) pixel by pixel."""
    torch.manual_seed(0)
    head = build_head(num_classes=1)
    n, img_h, img_w = 4, 60, 70
    # smooth maps with structure, T strictly inside (0, 1)
    prob = F.interpolate(
        torch.rand(n, 1, 5, 5), size=(28, 28), mode='bilinear')
    thr = 0.1 + 0.8 * F.interpolate(
        torch.rand(n, 1, 4, 4), size=(28, 28), mode='bilinear')
    boxes = torch.tensor([[3.3, 4.7, 40.2, 30.1], [10., 10., 24., 24.],
                          [0., 0., 69.5, 59.2], [30.6, 20.2, 68.9, 58.7]])
    if not skip_empty_device:
        # exercise the whole-image (GPU) pasting path on CPU
        import mmext.models.mask_heads.adaptive_threshold_mask_head as m
        orig = m.paste_padded_difference
        monkeypatch.setattr(
            m, 'paste_padded_difference',
            lambda *a, skip_empty=True: orig(*a, skip_empty=False))
    masks = head._predict_by_feat_single(
        mask_preds=prob,
        bboxes=boxes.clone(),
        labels=torch.zeros(n, dtype=torch.long),
        img_meta=dict(scale_factor=(1., 1.), ori_shape=(img_h, img_w)),
        rcnn_test_cfg=TEST_CFG,
        activate_map=True,
        threshold_preds=thr)
    p_up, t_up = reference_upsampled_maps(prob, thr, boxes, img_h, img_w)
    expected = p_up >= t_up
    differ = masks != expected
    # float ties only: the two routes round differently
    assert ((p_up - t_up).abs()[differ] < 1e-5).all()
    assert differ.sum() <= 2
    # the threshold map matters: a fixed 0.5 gives other masks
    assert (expected != (p_up >= 0.5)).sum() > 100
    assert expected.any() and not expected.all()


@pytest.mark.parametrize('skip_empty', [True, False])
def test_multichannel_paste_is_do_paste_mask_per_channel(skip_empty):
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import \
        _do_paste_mask

    from mmext.models.mask_heads.adaptive_threshold_mask_head import \
        paste_multichannel_masks
    torch.manual_seed(6)
    maps = torch.rand(3, 3, 28, 28)
    boxes = torch.tensor([[3.3, 4.7, 40.2, 30.1], [10., 10., 24., 24.],
                          [0., 0., 69.5, 59.2]])
    pasted, inds = paste_multichannel_masks(maps, boxes, 60, 70, skip_empty)
    for c in range(3):
        ref, ref_inds = _do_paste_mask(maps[:, c:c + 1], boxes, 60, 70,
                                       skip_empty)
        assert torch.equal(pasted[:, c], ref)
        assert inds == ref_inds


def _three_map_paste(prob, thr, boxes, img_h, img_w, skip_empty):
    """The former inference route: P, T and a map of ones pasted as three
    channels, ``P_img - paste(T) / footprint`` inside the footprint."""
    from mmext.models.mask_heads.adaptive_threshold_mask_head import \
        paste_multichannel_masks
    pasted, inds = paste_multichannel_masks(
        torch.cat([prob, thr, torch.ones_like(prob)], dim=1), boxes, img_h,
        img_w, skip_empty)
    p_img, t_img, footprint = pasted.unbind(1)
    inside = footprint > 0
    return p_img - t_img / footprint.clamp(min=1e-30), inside, inds


@pytest.mark.parametrize('skip_empty', [True, False])
@pytest.mark.parametrize('map_hw', [(28, 28), (14, 20)])
def test_single_difference_paste_equals_three_map_paste(skip_empty, map_hw):
    """One paste of the padded difference map decides like pasting P, T and
    the footprint separately: same footprint, same difference up to float
    rounding, hence the same mask except at exact ties."""
    from mmext.models.mask_heads.adaptive_threshold_mask_head import \
        paste_threshold_difference
    torch.manual_seed(3)
    n, img_h, img_w = 6, 90, 110
    prob = torch.rand(n, 1, *map_hw)
    thr = torch.rand(n, 1, *map_hw)
    # large boxes (RoI pixel > 1 image pixel), tiny ones, sub-pixel offsets,
    # boxes crossing the image border
    boxes = torch.tensor([[3.3, 4.7, 80.2, 70.1], [10., 10., 14., 13.],
                          [-5., -3., 30.5, 40.2], [60.6, 20.2, 118.9, 95.7],
                          [40.25, 40.75, 41.5, 60.], [0., 0., 110., 90.]])
    diff, inside, inds = paste_threshold_difference(prob, thr, boxes, img_h,
                                                    img_w, skip_empty)
    ref_diff, ref_inside, ref_inds = _three_map_paste(prob, thr, boxes,
                                                      img_h, img_w,
                                                      skip_empty)
    assert inds == ref_inds
    assert torch.equal(inside, ref_inside)
    assert inside.any() and not inside.all()
    torch.testing.assert_close(
        diff[inside], ref_diff[inside], rtol=0, atol=1e-5)
    # outside the footprint the mask is background whatever diff says
    masks = (diff >= 0) & inside
    ref_masks = (ref_diff >= 0) & ref_inside
    differ = masks != ref_masks
    assert (ref_diff.abs()[differ] < 1e-5).all()


def _fcn_and_atmask_pair(**atmask_kwargs):
    common = dict(
        num_convs=2, in_channels=8, conv_out_channels=8, num_classes=3)
    fcn = MODELS.build(dict(type='FCNMaskHead', **common))
    # bitwise comparisons: both heads in NCHW (channels-last equals it only
    # up to float rounding, see test_memory_format.py)
    atmask_kwargs.setdefault('cpu_channels_last', False)
    atm = MODELS.build(
        dict(type='AdaptiveThresholdMaskHead', **common, **atmask_kwargs))
    atm.load_state_dict(fcn.state_dict(), strict=False)
    return fcn.eval(), atm.eval()


@pytest.mark.parametrize('rescale', [False, True])
def test_constant_threshold_reproduces_fcn_mask_head(rescale):
    torch.manual_seed(1)
    fcn, atm = _fcn_and_atmask_pair(
        with_threshold_branch=False,
        with_p2t_fusion=False,
        with_t2p_fusion=False,
        constant_threshold=0.5)
    # the branch-off head has exactly FCNMaskHead's parameters
    assert atm.state_dict().keys() == fcn.state_dict().keys()
    feats = torch.randn(5, 8, 14, 14)
    boxes = torch.tensor([[3.3, 4.7, 40.2, 30.1], [10., 10., 24., 24.],
                          [0., 0., 79.5, 59.2], [30.6, 20.2, 78.9, 58.7],
                          [50.2, 1.1, 52.3, 3.4]])
    labels = torch.tensor([0, 2, 1, 1, 0])
    meta = dict(scale_factor=(0.8, 1.25), ori_shape=(50, 99))
    with torch.no_grad():
        fcn_logits = fcn(feats)
        atm_logits, thr_logits = atm(feats)
    assert thr_logits is None
    assert torch.equal(fcn_logits, atm_logits)

    def predict(head, logits, **kwargs):
        results = InstanceData(bboxes=boxes.clone(), labels=labels)
        return head.predict_by_feat((logits, ), [results], [meta], TEST_CFG,
                                    rescale=rescale, **kwargs)[0].masks

    expected = predict(fcn, fcn_logits)
    assert expected.any() and not expected.all()
    assert torch.equal(predict(atm, atm_logits), expected)
    # the learned-threshold path with T = sigmoid(0) = 0.5 everywhere too
    _, learned = _fcn_and_atmask_pair()
    assert torch.equal(
        predict(
            learned,
            fcn_logits,
            threshold_preds=(torch.zeros_like(fcn_logits), )), expected)


def test_soft_masks():
    head = build_head(k=2.0, num_classes=1)
    prob = torch.full((1, 1, 4, 4), 0.75)
    thr = torch.full((1, 1, 4, 4), 0.25)
    masks = head._predict_by_feat_single(
        mask_preds=prob,
        bboxes=torch.tensor([[1., 1., 5., 5.]]),
        labels=torch.tensor([0]),
        img_meta=dict(scale_factor=(1., 1.), ori_shape=(6, 6)),
        rcnn_test_cfg=ConfigDict(mask_thr_binary=-1),
        activate_map=True,
        threshold_preds=thr)
    assert masks.dtype == torch.uint8
    assert masks[0, 0].eq(0).all() and masks[0, :, 0].eq(0).all()
    assert (masks[0, 1:5, 1:5] == int(255 * torch.sigmoid(torch.tensor(1.)))
            ).all()


def test_forward_shapes_and_fusion_switches():
    x = torch.randn(3, 8, 14, 14)
    t = torch.randn(3, 8, 28, 28)
    full = build_head()
    p_logits, t_logits = full(x, t)
    assert p_logits.shape == t_logits.shape == (3, 3, 28, 28)
    assert full.threshold_convs[0].conv.stride == (2, 2)
    for p2t, t2p in [(False, False), (True, False), (False, True)]:
        head = build_head(with_p2t_fusion=p2t, with_t2p_fusion=t2p)
        assert (head.p2t_fusion is not None) == p2t
        assert (head.t2p_fusion is not None) == t2p
        p_logits, t_logits = head(x, t)
        assert t_logits.shape == (3, 3, 28, 28)
    # without T2P the probability branch ignores the threshold features
    head = build_head(with_t2p_fusion=False)
    p1, _ = head(x, t)
    p2, _ = head(x, torch.randn_like(t))
    assert torch.equal(p1, p2)
    # with T2P it does not
    p1, _ = full(x, t)
    p2, _ = full(x, torch.randn_like(t))
    assert not torch.allclose(p1, p2)
    # 14x14 threshold features: stride-1 first conv
    head = build_head(threshold_roi_feat_size=14)
    assert head(x, x)[1].shape == (3, 3, 28, 28)
    with pytest.raises(ValueError, match='threshold_roi_feat_size'):
        build_head(threshold_roi_feat_size=21)
    with pytest.raises(ValueError, match='threshold_target'):
        build_head(threshold_target='distance')
    with pytest.raises(ValueError, match='threshold RoI features'):
        full(x)


def test_narrow_threshold_branch_reduces_before_pooling():
    """A bias-free 1x1 reduction commutes with RoIAlign, so reducing the
    maps before pooling equals reducing the pooled features."""
    from mmcv.ops import RoIAlign
    torch.manual_seed(7)
    head = build_head(threshold_channels=4)
    assert head.threshold_roi_channels == 4
    assert head.threshold_reduce.bias is None
    assert head.threshold_convs[0].conv.in_channels == 4
    assert head.p2t_fusion.conv.in_channels == 12
    assert head.p2t_fusion.conv.out_channels == 4
    assert head.t2p_fusion.conv.out_channels == 8
    feat = torch.randn(2, 8, 20, 20)
    rois = torch.tensor([[0., 1.5, 2., 50., 41.], [1., -8., 30., 60., 90.]])
    roi_align = RoIAlign(28, spatial_scale=1 / 4, sampling_ratio=0)
    with torch.no_grad():
        reduced_first = roi_align(head.reduce_threshold_features([feat])[0],
                                  rois)
        pooled_first = head.threshold_reduce(roi_align(feat, rois))
    torch.testing.assert_close(reduced_first, pooled_first)
    p_logits, t_logits = head(torch.randn(2, 8, 14, 14), reduced_first)
    assert t_logits.shape == p_logits.shape == (2, 3, 28, 28)
    # a full-width branch has no reduction
    assert build_head().threshold_reduce is None


def test_threshold_targets():
    mask = torch.zeros(1, 7, 7)
    mask[0, 1:6, 2:5] = 1
    inv = build_head(threshold_target='inverse_mask')
    assert torch.equal(inv.get_threshold_targets(mask), 1 - mask)
    bnd = build_head(
        threshold_target='boundary',
        boundary_width=1,
        boundary_target_range=(0.3, 0.7))
    target = bnd.get_threshold_targets(mask)
    band = torch.zeros(7, 7)
    band[0:7, 1:6] = 1  # within one pixel (8-neighbourhood) of the edge
    band[2:5, 3] = 0  # interior farther than one pixel from the background
    assert torch.allclose(target[0], 0.3 + 0.4 * band)
    # a mask touching the RoI border: the border itself is no edge
    full = torch.ones(1, 5, 5)
    assert torch.allclose(bnd.get_threshold_targets(full),
                          torch.full((1, 5, 5), 0.3))


def _sampling_results(num_classes=3):
    """One image, a 40x40 GT square mask, two positive boxes on it."""
    gt = np.zeros((1, 64, 64), dtype=np.uint8)
    gt[0, 10:50, 12:52] = 1
    gt_instances = InstanceData(masks=BitmapMasks(gt, 64, 64))
    res = SimpleNamespace(
        pos_priors=torch.tensor([[8., 8., 54., 52.], [12., 10., 40., 48.]]),
        pos_assigned_gt_inds=torch.tensor([0, 0]),
        pos_gt_labels=torch.tensor([2, 2]))
    return [res], [gt_instances]


@pytest.mark.parametrize('target', ['inverse_mask', 'boundary', 'none'])
def test_losses_match_eq_4_5(target):
    torch.manual_seed(2)
    head = build_head(k=2.0, threshold_target=target)
    sampling_results, gts = _sampling_results()
    cfg = ConfigDict(mask_size=28)
    mask_preds = torch.randn(2, 3, 28, 28)
    thr_preds = torch.randn(2, 3, 28, 28)
    out = head.loss_and_target(mask_preds, sampling_results, gts, cfg,
                               threshold_preds=thr_preds)
    losses = out['loss_mask']
    expected_keys = {'loss_mask', 'loss_binary'}
    if target != 'none':
        expected_keys.add('loss_threshold')
    assert set(losses) == expected_keys

    y = mask_target([r.pos_priors for r in sampling_results],
                    [r.pos_assigned_gt_inds for r in sampling_results],
                    [g.masks for g in gts], cfg)
    assert torch.equal(out['mask_targets'], y)
    assert 0 < y.mean() < 1
    prob = mask_preds[:, 2].sigmoid()
    thr = thr_preds[:, 2].sigmoid()
    binary = 1 / (1 + torch.exp(-2.0 * (prob - thr)))
    torch.testing.assert_close(losses['loss_mask'],
                               F.binary_cross_entropy(prob, y)[None])
    torch.testing.assert_close(losses['loss_binary'],
                               2.0 * F.binary_cross_entropy(binary, y)[None])
    if target == 'inverse_mask':
        torch.testing.assert_close(
            losses['loss_threshold'],
            F.binary_cross_entropy(thr, 1 - y)[None])
    elif target == 'boundary':
        t_target = head.get_threshold_targets(y)
        assert sorted(t_target.unique().tolist()) == pytest.approx(
            [0.3, 0.7])
        torch.testing.assert_close(
            losses['loss_threshold'],
            F.binary_cross_entropy(thr, t_target)[None])


def test_without_threshold_branch_trains_like_fcn_mask_head():
    """With the branch off the head is FCNMaskHead in training too: same
    loss keys and values and the same gradients on the same weights and
    inputs (no loss_binary on k (P - 0.5))."""
    fcn, atm = _fcn_and_atmask_pair(
        with_threshold_branch=False,
        with_p2t_fusion=False,
        with_t2p_fusion=False,
        k=1.0)
    fcn.train()
    atm.train()
    sampling_results, gts = _sampling_results()
    cfg = ConfigDict(mask_size=28)
    x = torch.randn(2, 8, 14, 14)
    fcn_out = fcn.loss_and_target(fcn(x), sampling_results, gts, cfg)
    atm_preds, atm_thr = atm(x)
    assert atm_thr is None
    atm_out = atm.loss_and_target(atm_preds, sampling_results, gts, cfg)
    assert set(atm_out['loss_mask']) == set(fcn_out['loss_mask']) == {
        'loss_mask'
    }
    assert torch.equal(atm_out['loss_mask']['loss_mask'],
                       fcn_out['loss_mask']['loss_mask'])
    assert torch.equal(atm_out['mask_targets'], fcn_out['mask_targets'])
    fcn_out['loss_mask']['loss_mask'].sum().backward()
    atm_out['loss_mask']['loss_mask'].sum().backward()
    fcn_grads = dict(fcn.named_parameters())
    for name, param in atm.named_parameters():
        assert torch.equal(param.grad, fcn_grads[name].grad), name


def test_losses_empty():
    # no positives: zero losses that still backpropagate
    gts = _sampling_results()[1]
    cfg = ConfigDict(mask_size=28)
    head = build_head()
    empty = SimpleNamespace(
        pos_priors=torch.zeros(0, 4),
        pos_assigned_gt_inds=torch.zeros(0, dtype=torch.long),
        pos_gt_labels=torch.zeros(0, dtype=torch.long))
    p = torch.randn(0, 3, 28, 28, requires_grad=True)
    t = torch.randn(0, 3, 28, 28, requires_grad=True)
    losses = head.loss_and_target(p, [empty], gts, cfg,
                                  threshold_preds=t)['loss_mask']
    assert set(losses) == {'loss_mask', 'loss_binary', 'loss_threshold'}
    sum(losses.values()).sum().backward()
    assert all(v.item() == 0 for v in losses.values())


def test_head_losses_decrease():
    """A few SGD steps on fixed features and targets lower every loss."""
    torch.manual_seed(3)
    head = build_head()
    head.init_weights()
    sampling_results, gts = _sampling_results()
    cfg = ConfigDict(mask_size=28)
    x = torch.randn(2, 8, 14, 14)
    t = torch.randn(2, 8, 28, 28)
    opt = torch.optim.SGD(head.parameters(), lr=0.05, momentum=0.9)
    history = []
    for _ in range(12):
        p_logits, t_logits = head(x, t)
        losses = head.loss_and_target(p_logits, sampling_results, gts, cfg,
                                      threshold_preds=t_logits)['loss_mask']
        history.append({k: v.item() for k, v in losses.items()})
        opt.zero_grad()
        sum(losses.values()).sum().backward()
        opt.step()
    for key in ('loss_mask', 'loss_threshold', 'loss_binary'):
        assert history[-1][key] < 0.7 * history[0][key], key


def _toy_model_cfg():
    cfg = Config.fromfile(TOY_CFG)
    return copy.deepcopy(cfg.model)


def _build_roi_head(source):
    model_cfg = _toy_model_cfg()
    roi_cfg = model_cfg.roi_head
    roi_cfg.threshold_roi_source = source
    roi_cfg.train_cfg = model_cfg.train_cfg.rcnn
    roi_cfg.test_cfg = model_cfg.test_cfg.rcnn
    return MODELS.build(roi_cfg)


def test_threshold_roi_source():
    """'P2' pools every RoI from the finest level, 'all' maps large RoIs to
    coarser levels."""
    torch.manual_seed(4)
    feats = [torch.randn(1, 64, 32 // 2**i, 32 // 2**i) for i in range(4)]
    rois = torch.tensor([[0., 2., 2., 10., 10.], [0., 4., 4., 120., 124.]])
    coarse_changed = [feats[0]] + [f + 1 for f in feats[1:]]
    p2 = _build_roi_head('P2')
    with torch.no_grad():
        a = p2._threshold_roi_forward(feats, rois)
        assert a.shape == (2, 8, 28, 28)  # toy: 8-channel threshold branch
        assert torch.equal(a, p2._threshold_roi_forward(coarse_changed, rois))
        # equals an RoIAlign on (reduced) P2 alone
        from mmcv.ops import RoIAlign
        reduced_p2 = p2.mask_head.threshold_reduce(feats[0])
        ref = RoIAlign(28, spatial_scale=1 / 4, sampling_ratio=0)(reduced_p2,
                                                                  rois)
    torch.testing.assert_close(a, ref)

    all_levels = _build_roi_head('all')
    with torch.no_grad():
        b = all_levels._threshold_roi_forward(feats, rois)
        c = all_levels._threshold_roi_forward(coarse_changed, rois)
    assert torch.equal(b[0], c[0])  # small RoI: level 0 either way
    assert not torch.allclose(b[1], c[1])  # large RoI: a coarser level
    with pytest.raises(ValueError, match='threshold_roi_source'):
        _build_roi_head('P3')


def test_roi_head_config_errors():
    model_cfg = _toy_model_cfg()
    roi_cfg = model_cfg.roi_head
    # extractor width must match the (reduced) threshold branch input
    bad = copy.deepcopy(roi_cfg)
    bad.threshold_roi_extractor.out_channels = 64
    with pytest.raises(ValueError, match='out_channels'):
        MODELS.build(bad)
    bad = copy.deepcopy(roi_cfg)
    bad.threshold_roi_extractor = None
    with pytest.raises(ValueError, match='threshold_roi_extractor'):
        MODELS.build(bad)
    # branch off: no extractor needed, the head behaves like FCNMaskHead
    off = copy.deepcopy(roi_cfg)
    off.threshold_roi_extractor = None
    off.mask_head.update(
        with_threshold_branch=False,
        with_p2t_fusion=False,
        with_t2p_fusion=False)
    head = MODELS.build(off)
    assert not head.with_threshold_branch
    assert getattr(head, 'threshold_roi_extractor', None) is None


def test_toy_model_gradients_reach_both_branches_and_predict():
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(5)
    model_cfg = _toy_model_cfg()
    model = MODELS.build(model_cfg)
    model.init_weights()
    packed = demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, 128, 128)] * 2,
        num_items=[3, 2],
        num_classes=4,
        with_mask=True)
    data = model.data_preprocessor(packed, True)
    inputs, samples = data['inputs'], data['data_samples']
    losses = model.loss(inputs, samples)
    for key in ('loss_mask', 'loss_threshold', 'loss_binary'):
        assert key in losses and torch.isfinite(losses[key]).all()
    head = model.roi_head.mask_head
    # the threshold loss reaches the threshold branch and P2 (through the
    # threshold RoI features), not the probability logits
    watched = [
        head.threshold_logits.weight, head.conv_logits.weight,
        model.neck.fpn_convs[0].conv.weight
    ]
    thr_grads = torch.autograd.grad(
        losses['loss_threshold'].sum(),
        watched,
        retain_graph=True,
        allow_unused=True)
    assert thr_grads[0].abs().sum() > 0
    assert thr_grads[1] is None or thr_grads[1].abs().sum() == 0
    assert thr_grads[2].abs().sum() > 0
    total, _ = model.parse_losses(losses)
    total.backward()
    for name in ('convs.0.conv', 'conv_logits', 'threshold_convs.0.conv',
                 'p2t_fusion.conv', 't2p_fusion.conv', 'threshold_logits',
                 'upsample', 'threshold_upsample'):
        grad = head.get_submodule(name).weight.grad
        assert grad is not None and grad.abs().sum() > 0, name

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for res in results:
        masks = res.pred_instances.masks
        assert masks.dtype == torch.bool
        assert masks.shape[1:] == (128, 128)
        assert masks.shape[0] == res.pred_instances.bboxes.shape[0]
