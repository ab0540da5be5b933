"""MR R-CNN: ShapeAwareRoIExtractor, MaskRefiningRoIHead, refining-head init.

The heads are small (8 channels, 3 classes, two FPN levels) and some weights
are set by hand so that expected outputs are known exactly.
"""
import importlib.util
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.runner.checkpoint import load_state_dict
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks

import mmext  # noqa: F401
from _detector_cfgs import rcnn_train_cfg, shared2fc_bbox_head
from mmext.models.roi_extractors import ShapeAwareRoIExtractor
from mmext.models.roi_heads import MaskRefiningRoIHead

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES = 3
IMG_SIZE = 64
STRIDES = [4, 8]
CHANNELS = 8


def _bbox_head_cfg():
    return shared2fc_bbox_head(CHANNELS, NUM_CLASSES)


def _extractor_cfg(output_size,
                   layer='RoIAlign',
                   extractor='SingleRoIExtractor'):
    return dict(
        type=extractor,
        roi_layer=dict(type=layer, output_size=output_size, sampling_ratio=2),
        out_channels=CHANNELS,
        featmap_strides=STRIDES,
        finest_scale=16)


def _mask_head_cfg(head_type='FCNMaskHead', **kwargs):
    return dict(
        type=head_type,
        num_convs=4,
        in_channels=CHANNELS,
        conv_out_channels=CHANNELS,
        num_classes=NUM_CLASSES,
        loss_mask=dict(
            type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
        **kwargs)


def build_head(detach_mask_guide=False,
               alpha=1.0,
               refine_bbox_head=None,
               refine_bbox_roi_extractor=None,
               **kwargs):
    cfg = dict(
        type='MaskRefiningRoIHead',
        bbox_roi_extractor=_extractor_cfg(7),
        bbox_head=_bbox_head_cfg(),
        mask_roi_extractor=_extractor_cfg(14),
        mask_head=_mask_head_cfg('HTCMaskHead', with_conv_res=False),
        refine_bbox_roi_extractor=refine_bbox_roi_extractor
        or _extractor_cfg(7, 'SaRoIAlign', 'ShapeAwareRoIExtractor'),
        refine_bbox_head=refine_bbox_head or _bbox_head_cfg(),
        refine_mask_head=_mask_head_cfg('HTCMaskHead', with_conv_res=True),
        detach_mask_guide=detach_mask_guide,
        train_cfg=ConfigDict(
            rcnn_train_cfg(
                mask_size=28,
                refine=dict(sampler=dict(type='PseudoSampler')))),
        test_cfg=ConfigDict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100,
            mask_thr_binary=0.5,
            refine_alpha=alpha),
        **kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _feats(seed=0, num_imgs=1):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.rand(
            num_imgs, CHANNELS, IMG_SIZE // s, IMG_SIZE // s, generator=gen)
        for s in STRIDES)


def _metas(num_imgs=1):
    return [
        dict(
            img_shape=(IMG_SIZE, IMG_SIZE),
            ori_shape=(IMG_SIZE, IMG_SIZE),
            pad_shape=(IMG_SIZE, IMG_SIZE),
            batch_input_shape=(IMG_SIZE, IMG_SIZE),
            scale_factor=(1.0, 1.0)) for _ in range(num_imgs)
    ]


def _set_linear(layer: nn.Module, bias) -> None:
    nn.init.zeros_(layer.weight)
    with torch.no_grad():
        layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))


def _set_mask_logits(mask_head: nn.Module, value: float) -> None:
    nn.init.zeros_(mask_head.conv_logits.weight)
    nn.init.constant_(mask_head.conv_logits.bias, value)


# Three disjoint proposals (x1, y1, x2, y2), away from the border.
PROPOSALS = torch.tensor([[4., 4., 20., 24.], [30., 6., 58., 22.],
                          [10., 36., 40., 60.]])


def _rigged_head(alpha, refine_bbox_head=None):
    """Vanilla head: class 0, no regression, empty masks; refining head:
    class 2, dx = +0.5 (encoded), full masks."""
    head = build_head(alpha=alpha, refine_bbox_head=refine_bbox_head)
    head.eval()
    _set_linear(head.bbox_head.fc_cls, [5., 0., 0., 0.])
    _set_linear(head.bbox_head.fc_reg, torch.zeros(4 * NUM_CLASSES))
    if head.refine_bbox_head.with_cls:
        _set_linear(head.refine_bbox_head.fc_cls, [0., 0., 5., 0.])
    if head.refine_bbox_head.with_reg:
        _set_linear(head.refine_bbox_head.fc_reg,
                    torch.tensor([0.5, 0., 0., 0.]).repeat(NUM_CLASSES))
    _set_mask_logits(head.mask_head, -10.)
    _set_mask_logits(head.refine_mask_head, 10.)
    return head


def _predict(head, num_imgs=1, proposals=PROPOSALS):
    rpn_results = [InstanceData(bboxes=proposals.clone())] * num_imgs
    samples = [DetDataSample(metainfo=m) for m in _metas(num_imgs)]
    with torch.no_grad():
        return head.predict(
            _feats(num_imgs=num_imgs), rpn_results, samples, rescale=True)


def _shifted(boxes, dx):
    """DeltaXYWH decode of an x shift of ``dx`` (already times std)."""
    out = boxes.clone()
    shift = dx * (boxes[:, 2] - boxes[:, 0])
    out[:, 0] += shift
    out[:, 2] += shift
    return out


# ---------------------------------------------------------------------------
# ShapeAwareRoIExtractor
# ---------------------------------------------------------------------------
def test_shape_aware_extractor_equals_roi_align_with_ones_masks():
    feats = _feats(seed=1, num_imgs=2)
    rois = torch.tensor([[0, 2., 3., 14., 12.], [1, 5., 5., 60., 50.],
                         [0, 20., 10., 40., 44.], [1, 0., 0., 8., 9.]])
    sa = ShapeAwareRoIExtractor(**{
        k: v
        for k, v in _extractor_cfg(7, 'SaRoIAlign').items() if k != 'type'
    })
    plain = MODELS.build(_extractor_cfg(7))
    # the RoIs are spread over both levels
    assert set(sa.map_roi_levels(rois, 2).tolist()) == {0, 1}
    ones = torch.ones(len(rois), 28, 28)
    expected = plain(feats, rois)
    torch.testing.assert_close(sa(feats, rois, ones), expected)
    torch.testing.assert_close(sa(feats, rois, ones[:, None]),
                               expected)  # (K, 1, Hp, Wp) too
    assert sa(feats, rois, torch.zeros_like(ones)).abs().max() == 0
    half = ones.clone()
    half[:, :, 14:] = 0.
    assert not torch.allclose(sa(feats, rois, half), expected)
    with pytest.raises(ValueError, match='masks of shape'):
        sa(feats, rois, ones[:2])


def test_shape_aware_extractor_rescaled_masks():
    masks = torch.ones(2, 8, 8)
    expected = torch.zeros(2, 8, 8)
    expected[:, 2:6, 2:6] = 1.
    torch.testing.assert_close(
        ShapeAwareRoIExtractor.rescale_masks(masks, 2.0), expected)
    torch.testing.assert_close(
        ShapeAwareRoIExtractor.rescale_masks(masks, 1.0), masks)


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
def test_pseudo_labels_are_argmax_foreground_class():
    # 3 classes + background (index 3); background has the largest logit
    # in every row, but pseudo labels only look at foreground classes.
    cls_score = torch.tensor([[0.1, 2.0, 0.3, 9.0], [1.5, 0.2, 0.1, 9.0],
                              [0.0, 0.1, 0.7, 9.0], [3.0, 0.0, 0.0, 9.0]])
    labels = torch.tensor([3, 3, 3, 1])  # last RoI is foreground
    pseudo = MaskRefiningRoIHead.pseudo_labels(cls_score, labels, 3)
    assert pseudo.tolist() == [1, 0, 2, 1]


def test_fuse_cls_scores():
    s_b = torch.randn(5, 4)
    s_r = torch.randn(5, 4)
    fuse = MaskRefiningRoIHead.fuse_cls_scores
    assert torch.equal(fuse(s_b, s_r, 0.), s_b)
    torch.testing.assert_close(fuse(s_b, s_r, 1.), (s_b + s_r) / 2)
    torch.testing.assert_close(fuse(s_b, s_r, 1e6), s_r, atol=1e-5, rtol=0)
    assert torch.equal(fuse(s_b, None, 3.), s_b)


def test_negative_alpha_is_rejected():
    with pytest.raises(ValueError, match='refine_alpha'):
        _predict(_rigged_head(alpha=-1.))


def test_vanilla_mask_forward_is_fcn_mask_head_with_its_last_conv():
    """The vanilla head (HTCMaskHead without conv_res) through the
    protocol: FCNMaskHead's logits with the same weights, and its 4th conv
    output as the reused feature."""
    head = build_head()
    fcn = MODELS.build(_mask_head_cfg())
    fcn.load_state_dict(head.mask_head.state_dict())
    rois = torch.cat([torch.zeros(3, 1), PROPOSALS], dim=1)
    feats = _feats()
    logits, last_feat = head._vanilla_mask_forward(feats, rois)
    mask_feats = head.mask_roi_extractor(feats, rois)
    assert torch.equal(logits, fcn(mask_feats))
    x = mask_feats
    for conv in fcn.convs:
        x = conv(x)
    assert torch.equal(last_feat, x)


@pytest.mark.parametrize('key', ['mask_head', 'refine_mask_head'])
def test_head_without_the_protocol_is_rejected_at_build(key):
    cfg = dict(
        type='MaskRefiningRoIHead',
        bbox_roi_extractor=_extractor_cfg(7),
        bbox_head=_bbox_head_cfg(),
        mask_roi_extractor=_extractor_cfg(14),
        mask_head=_mask_head_cfg('HTCMaskHead', with_conv_res=False),
        refine_bbox_roi_extractor=_extractor_cfg(7, 'SaRoIAlign',
                                                 'ShapeAwareRoIExtractor'),
        refine_bbox_head=_bbox_head_cfg(),
        refine_mask_head=_mask_head_cfg('HTCMaskHead', with_conv_res=True))
    cfg[key] = _mask_head_cfg('FCNMaskHead')
    with pytest.raises(TypeError, match=rf'roi_head\.{key}: .*FCNMaskHead'):
        MODELS.build(cfg)


# ---------------------------------------------------------------------------
# inference
# ---------------------------------------------------------------------------
def test_alpha_zero_gives_vanilla_scores_and_refined_boxes_and_masks():
    head = _rigged_head(alpha=0.)
    res = _predict(head)[0]
    # alpha = 0: scores are exactly the vanilla softmax of class 0 ...
    vanilla_score = torch.softmax(torch.tensor([5., 0., 0., 0.]), 0)[0]
    assert res.labels.tolist() == [0, 0, 0]
    torch.testing.assert_close(res.scores, vanilla_score.expand(3))
    # ... while boxes come from the refining head: B (= proposals, the
    # vanilla head does not regress) shifted by 0.5 * std 0.1 * width.
    order = res.bboxes[:, 1].argsort()
    expected = _shifted(PROPOSALS, 0.05)[PROPOSALS[:, 1].argsort()]
    torch.testing.assert_close(res.bboxes[order], expected)
    # Masks come from the refining mask head (full boxes); the vanilla mask
    # head predicts empty masks.
    assert res.masks.shape == (3, IMG_SIZE, IMG_SIZE)
    for mask, box in zip(res.masks, res.bboxes):
        ys, xs = torch.nonzero(mask, as_tuple=True)
        assert abs(xs.min().item() - box[0].item()) <= 1
        assert abs(xs.max().item() + 1 - box[2].item()) <= 1
        assert abs(ys.min().item() - box[1].item()) <= 1
        assert abs(ys.max().item() + 1 - box[3].item()) <= 1


def test_large_alpha_approaches_refining_scores():
    res = _predict(_rigged_head(alpha=1e4))[0]
    refine_score = torch.softmax(torch.tensor([0., 0., 5., 0.]), 0)[2]
    assert res.labels.tolist() == [2, 2, 2]
    torch.testing.assert_close(
        res.scores, refine_score.expand(3), atol=1e-3, rtol=0)
    # alpha = 1: the two heads' classes tie
    res = _predict(_rigged_head(alpha=1.))[0]
    assert sorted(res.labels.tolist()) == [0, 0, 0, 2, 2, 2]
    fused = torch.softmax(torch.tensor([2.5, 0., 2.5, 0.]), 0)[0]
    torch.testing.assert_close(res.scores, fused.expand(6))


def test_cls_only_and_reg_only_refinement():
    cls_only = _rigged_head(
        alpha=1e4, refine_bbox_head=dict(_bbox_head_cfg(), with_reg=False))
    res = _predict(cls_only)[0]
    assert res.labels.tolist() == [2, 2, 2]  # refined classification
    torch.testing.assert_close(  # vanilla boxes B
        res.bboxes[res.bboxes[:, 1].argsort()],
        PROPOSALS[PROPOSALS[:, 1].argsort()])
    reg_only = _rigged_head(
        alpha=1e4, refine_bbox_head=dict(_bbox_head_cfg(), with_cls=False))
    res = _predict(reg_only)[0]
    assert res.labels.tolist() == [0, 0, 0]  # S = S^b whatever alpha
    torch.testing.assert_close(
        res.bboxes[res.bboxes[:, 1].argsort()],
        _shifted(PROPOSALS, 0.05)[PROPOSALS[:, 1].argsort()])


def test_predict_batch_and_empty_proposals():
    results = _predict(_rigged_head(alpha=1.), num_imgs=2)
    assert [len(r) for r in results] == [6, 6]
    assert all('mask_res_feats' not in r for r in results)
    results = _predict(_rigged_head(alpha=1.), proposals=torch.zeros(0, 4))
    assert len(results[0]) == 0
    assert results[0].masks.shape == (0, IMG_SIZE, IMG_SIZE)


def test_plain_roi_align_refining_module():
    head = build_head(refine_bbox_roi_extractor=_extractor_cfg(7))
    assert not head.shape_aware
    head.eval()
    rois = torch.cat([PROPOSALS.new_zeros(3, 1), PROPOSALS], 1)
    out = head._refine_bbox_forward(_feats(), rois, torch.tensor([0, 1, 2]))
    assert out['mask_guides'] is None
    torch.testing.assert_close(out['bbox_feats'],
                               head.refine_bbox_roi_extractor(_feats(), rois))


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------
def _train_batch(seed=0, num_imgs=2):
    gen = torch.Generator().manual_seed(seed)
    samples, rpn_results = [], []
    for i in range(num_imgs):
        gt_boxes = torch.tensor([[6., 8., 30., 34.], [34., 30., 60., 58.]])
        masks = np.zeros((2, IMG_SIZE, IMG_SIZE), dtype=np.uint8)
        masks[0, 10:32, 8:28] = 1
        yy, xx = np.mgrid[:IMG_SIZE, :IMG_SIZE]
        masks[1] = ((yy - 44)**2 + (xx - 47)**2) < 13**2
        sample = DetDataSample(metainfo=_metas(1)[0])
        sample.gt_instances = InstanceData(
            bboxes=gt_boxes,
            labels=torch.tensor([i % NUM_CLASSES, 2]),
            masks=BitmapMasks(masks, IMG_SIZE, IMG_SIZE))
        samples.append(sample)
        jitter = torch.randn(6, 4, generator=gen) * 3
        xy = torch.rand(10, 2, generator=gen) * 40
        wh = torch.rand(10, 2, generator=gen) * 20 + 6
        proposals = torch.cat(
            [gt_boxes.repeat(3, 1) + jitter,
             torch.cat([xy, xy + wh], 1)]).clamp(0, IMG_SIZE)
        rpn_results.append(InstanceData(bboxes=proposals))
    return _feats(seed=seed, num_imgs=num_imgs), rpn_results, samples


def test_loss_keys():
    head = build_head()
    head.train()
    feats, rpn_results, samples = _train_batch()
    losses = head.loss(feats, rpn_results, samples)
    for key in ('loss_cls', 'loss_bbox', 'loss_mask', 'refine.loss_cls',
                'refine.loss_bbox', 'refine.loss_mask'):
        assert torch.isfinite(losses[key]) and losses[key] > 0, key


def test_loss_with_an_image_without_objects():
    head = build_head()
    head.train()
    feats, rpn_results, samples = _train_batch()
    samples[1].gt_instances = InstanceData(
        bboxes=torch.zeros(0, 4),
        labels=torch.zeros(0, dtype=torch.long),
        masks=BitmapMasks(
            np.zeros((0, IMG_SIZE, IMG_SIZE), dtype=np.uint8), IMG_SIZE,
            IMG_SIZE))
    losses = head.loss(feats, rpn_results, samples)
    assert all(torch.isfinite(v).all() for v in losses.values())
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_tensor_mode_forward():
    head = build_head()
    head.eval()
    rpn_results = [InstanceData(bboxes=PROPOSALS.clone())]
    samples = [DetDataSample(metainfo=_metas(1)[0])]
    with torch.no_grad():
        outs = head.forward(_feats(), rpn_results, samples)
    cls_b, reg_b, cls_r, reg_r, masks = outs
    assert cls_b.shape == cls_r.shape == (3, NUM_CLASSES + 1)
    assert reg_b.shape == reg_r.shape == (3, 4 * NUM_CLASSES)
    assert masks.shape == (3, NUM_CLASSES, 28, 28)


@pytest.mark.parametrize('detach', [False, True])
def test_refining_box_loss_reaches_vanilla_mask_head(detach):
    torch.manual_seed(0)
    head = build_head(detach_mask_guide=detach)
    head.train()
    feats, rpn_results, samples = _train_batch()
    losses = head.loss(feats, rpn_results, samples)
    (losses['refine.loss_cls'] + losses['refine.loss_bbox']).backward()
    # conv_logits of the vanilla mask head only shapes the guide masks P, so
    # it gets a gradient from the refining box head only through SaRoIAlign.
    grad = head.mask_head.conv_logits.weight.grad
    if detach:
        assert grad is None or grad.abs().max() == 0
    else:
        assert grad is not None and grad.abs().max() > 0
    # the refining box head itself is trained either way
    assert head.refine_bbox_head.fc_cls.weight.grad.abs().max() > 0


def test_refining_mask_loss_uses_vanilla_mask_features():
    torch.manual_seed(0)
    head = build_head()
    head.train()
    feats, rpn_results, samples = _train_batch()
    losses = head.loss(feats, rpn_results, samples)
    losses['refine.loss_mask'].backward()
    # F^-: the refining mask loss reaches the vanilla mask head's convs ...
    assert head.mask_head.convs[0].conv.weight.grad.abs().max() > 0
    assert head.refine_mask_head.conv_res.conv.weight.grad.abs().max() > 0
    # ... but not its logits layer (not part of F^-)
    grad = head.mask_head.conv_logits.weight.grad
    assert grad is None or grad.abs().max() == 0


def test_sampled_guide_labels_with_gt_added_as_proposals():
    head = build_head()
    head.refine_sampler = head.bbox_sampler  # adds gts in front
    feats, rpn_results, samples = _train_batch(num_imgs=1)
    gt = samples[0].gt_instances
    proposals = InstanceData(
        priors=rpn_results[0].bboxes,
        fg_argmax=torch.arange(len(rpn_results[0])) % NUM_CLASSES)
    assign = head.refine_assigner.assign(proposals, gt)
    res = head.refine_sampler.sample(assign, proposals, gt)
    labels = head._sampled_guide_labels(res, proposals, gt)
    # positives: their refining-stage label; negatives: the argmax class
    all_argmax = torch.cat([gt.labels, proposals.fg_argmax])
    expected = torch.cat([res.pos_gt_labels, all_argmax[res.neg_inds]])
    assert torch.equal(labels, expected)
    # sampled gts are guided by their own label
    num_pos_gt = int(res.pos_is_gt.sum())
    assert num_pos_gt > 0
    assert torch.equal(labels[:len(res.pos_inds)][res.pos_is_gt.bool()],
                       res.pos_gt_labels[res.pos_is_gt.bool()])


def test_box_moved_onto_another_object_is_guided_by_its_class():
    """Two overlapping objects of different classes. A vanilla RoI on
    object A (class 0) whose vanilla regression moves it onto object B
    (class 2) is re-assigned to B in the refining stage, so the guide mask of
    the refining box head is B's class channel, not its vanilla label. A
    vanilla RoI on object D (class 0) that the regression moves off D
    becomes background in the refining stage and is guided by the vanilla
    argmax class (1), as at inference, not by its vanilla label."""
    head = build_head()
    head.train()
    box_a = torch.tensor([[8., 8., 40., 40.]])
    box_b = torch.tensor([[20., 8., 52., 40.]])  # IoU(A, B) = 0.45
    box_d = torch.tensor([[16., 44., 40., 60.]])
    masks = np.zeros((3, IMG_SIZE, IMG_SIZE), dtype=np.uint8)
    masks[0, 8:40, 8:40] = 1
    masks[1, 8:40, 20:52] = 1
    masks[2, 44:60, 16:40] = 1
    sample = DetDataSample(metainfo=_metas(1)[0])
    sample.gt_instances = InstanceData(
        bboxes=torch.cat([box_a, box_b, box_d]),
        labels=torch.tensor([0, 2, 0]),
        masks=BitmapMasks(masks, IMG_SIZE, IMG_SIZE))
    # the vanilla box head: every RoI is class 1 by its scores, and class 0's
    # deltas shift a box right by 12/32 of its width (onto B)
    _set_linear(head.bbox_head.fc_cls, [0., 5., 0., 0.])
    reg = torch.zeros(4 * NUM_CLASSES)
    reg[0] = 12. / 32. / 0.1  # dx / target std
    _set_linear(head.bbox_head.fc_reg, reg)
    # only A's and D's boxes are proposed (the vanilla sampler adds the
    # gts, which the refining stage drops); they are vanilla positives of
    # class 0
    rpn_results = [InstanceData(bboxes=torch.cat([box_a, box_d]))]
    captured = {}
    forward = head._refine_bbox_forward

    def spy(x, rois, guide_labels):
        captured.update(rois=rois, guide_labels=guide_labels)
        return forward(x, rois, guide_labels)

    head._refine_bbox_forward = spy
    head.loss(_feats(), rpn_results, [sample])
    rois, labels = captured['rois'], captured['guide_labels']
    # A's proposal became B: vanilla label 0, refining label 2
    moved = (rois[:, 1:] - box_b).abs().sum(1) < 1e-3
    assert moved.sum() == 1
    assert labels[moved].tolist() == [2]
    # D's proposal moved by 9 px: IoU 15/33 < 0.5 with D, background
    moved_off = (rois[:, 1:] - (box_d + torch.tensor([9., 0., 9., 0.]))).abs(
    ).sum(1) < 1e-3
    assert moved_off.sum() == 1
    assert labels[moved_off].tolist() == [1]


# ---------------------------------------------------------------------------
# initialising the refining heads from a Mask R-CNN checkpoint
# ---------------------------------------------------------------------------
class _Detector(nn.Module):

    def __init__(self, roi_head):
        super().__init__()
        self.roi_head = roi_head


def _mask_rcnn_state_dict(head):
    """A Mask R-CNN-like state dict: vanilla heads only, random values."""
    gen = torch.Generator().manual_seed(3)
    return {
        f'roi_head.{k}':
        torch.randn(v.shape, generator=gen).to(v.dtype)
        if v.is_floating_point() else v
        for k, v in head.state_dict().items() if not k.startswith('refine_')
    }


def test_refining_heads_initialised_from_vanilla_on_load():
    detector = _Detector(build_head())
    state = _mask_rcnn_state_dict(detector.roi_head)
    load_state_dict(detector, state)
    head = detector.roi_head
    for name, param in head.refine_bbox_head.state_dict().items():
        torch.testing.assert_close(
            param, state[f'roi_head.bbox_head.{name}'], msg=name)
    for name, param in head.mask_head.state_dict().items():
        torch.testing.assert_close(head.refine_mask_head.state_dict()[name],
                                   state[f'roi_head.mask_head.{name}'])
    # A full MR R-CNN state dict loads unchanged.
    full = {
        f'roi_head.{k}': v.clone() + 1.
        for k, v in head.state_dict().items()
    }
    detector.load_state_dict(full)
    torch.testing.assert_close(head.refine_bbox_head.fc_cls.weight,
                               full['roi_head.refine_bbox_head.fc_cls.weight'])
    # Switched off: the refining heads keep their own weights.
    detector = _Detector(build_head(init_refine_from_vanilla=False))
    before = detector.roi_head.refine_bbox_head.fc_cls.weight.clone()
    load_state_dict(detector, state)
    torch.testing.assert_close(
        detector.roi_head.refine_bbox_head.fc_cls.weight, before)


def _load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'misc', 'init_refining_heads.py')
    spec = importlib.util.spec_from_file_location('init_refining_heads', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_init_refining_heads_tool(tmp_path, monkeypatch):
    tool = _load_tool()
    head = build_head(init_refine_from_vanilla=False)
    state = _mask_rcnn_state_dict(head)
    src = tmp_path / 'mask_rcnn.pth'
    torch.save(
        dict(
            state_dict=state,
            meta=dict(epoch=12, seed=np.int64(0)),
            optimizer=dict(state={})), src)
    dst = tmp_path / 'out' / 'mrrcnn_init.pth'
    monkeypatch.setattr(sys, 'argv', ['x', str(src), str(dst)])
    tool.main()
    out = torch.load(dst, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    detector = _Detector(head)
    load_state_dict(detector, out['state_dict'])
    torch.testing.assert_close(head.refine_mask_head.convs[2].conv.weight,
                               state['roi_head.mask_head.convs.2.conv.weight'])
    torch.testing.assert_close(head.refine_bbox_head.fc_reg.bias,
                               state['roi_head.bbox_head.fc_reg.bias'])
    # converting twice needs --overwrite; a non-Mask R-CNN dict is refused
    with pytest.raises(KeyError, match='--overwrite'):
        tool.init_refining_heads(out['state_dict'])
    with pytest.raises(KeyError, match='Mask R-CNN'):
        tool.init_refining_heads({'backbone.conv1.weight': torch.ones(1)})


# ---------------------------------------------------------------------------
# the toy config
# ---------------------------------------------------------------------------
def _toy_batch():
    """Two 128x128 images with a square and a disk, normalised."""
    size = 128
    yy, xx = np.mgrid[:size, :size]
    samples, images = [], []
    for i in range(2):
        square = np.zeros((size, size), dtype=np.uint8)
        square[20 + 8 * i:60 + 8 * i, 16:56] = 1
        disk = (((yy - 84)**2 + (xx - 80 + 6 * i)**2) < 26**2).astype(np.uint8)
        masks = np.stack([square, disk])
        boxes = []
        for m in masks:
            ys, xs = np.nonzero(m)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        image = torch.full((3, size, size), -1.)
        image[0][torch.from_numpy(square).bool()] = 1.
        image[1][torch.from_numpy(disk).bool()] = 1.
        images.append(image)
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size),
                batch_input_shape=(size, size),
                scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            labels=torch.tensor([1, 0]),
            masks=BitmapMasks(masks, size, size))
        samples.append(sample)
    return torch.stack(images), samples


def test_toy_config_loss_decreases():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'mrrcnn', 'mrrcnn_r18_fpn_1x_toy.py'))
    # fewer RoIs keep the CPU test short
    cfg.model.train_cfg.rpn_proposal.max_per_img = 64
    cfg.model.train_cfg.rcnn.sampler.num = 32
    cfg.model.test_cfg.rpn.max_per_img = 64
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert isinstance(model.roi_head, MaskRefiningRoIHead)
    assert model.roi_head.shape_aware
    model.train()
    inputs, samples = _toy_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    totals, refine_totals = [], []
    for _ in range(6):
        total, log_vars = model.parse_losses(model.loss(inputs, samples))
        optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10)
        optimizer.step()
        totals.append(total.item())
        refine_totals.append(
            sum(
                float(v) for k, v in log_vars.items()
                if k.startswith('refine.loss')))
    assert np.mean(totals[-2:]) < 0.8 * totals[0], totals
    assert np.mean(refine_totals[-2:]) < refine_totals[0], refine_totals
    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert len(results) == 2
    assert results[0].pred_instances.masks.shape[1:] == (128, 128)
