"""Tests of the weakly supervised hybrid networks: EnhancedFPN, the
HybridWeakDetector (instance routing, losses, fusion, GrabCut fallback) and
the pseudo-mask dataset / transforms that feed it."""
import json
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.necks import FPN
from mmdet.registry import MODELS, TRANSFORMS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes, get_box_tensor
from mmdet.structures.mask import BitmapMasks
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmext  # noqa: F401
from _detector_cfgs import (rcnn_train_cfg, rpn_train_cfg,
                            shared2fc_bbox_head)
from mmext.datasets import PseudoMaskCocoDataset
from mmext.datasets.pseudo_masks import inscribed_ellipse_mask
from mmext.models.necks import EnhancedFPN

init_default_scope('mmdet')

IN_CHANNELS = [8, 16, 32, 64]


# ------------------------------------------------------------ EnhancedFPN
def _pyramid(size: int, batch: int = 1, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    sizes = [size]
    for _ in range(3):
        sizes.append((sizes[-1] + 1) // 2)  # ResNet's stride-2 rounding
    return [
        torch.rand(batch, c, s, s, generator=gen)
        for c, s in zip(IN_CHANNELS, sizes)
    ]


def _fpn_pair(**kwargs):
    torch.manual_seed(0)
    enhanced = EnhancedFPN(IN_CHANNELS, 16, 5, **kwargs)
    enhanced.init_weights()
    plain = FPN(IN_CHANNELS, 16, 5)
    # FPN's parameters have the same names in EnhancedFPN.
    missing, unexpected = plain.load_state_dict(
        enhanced.state_dict(), strict=False), None
    assert all(k.startswith('shortcut_convs') for k in missing.unexpected_keys)
    assert not missing.missing_keys
    return enhanced.eval(), plain.eval()


@pytest.mark.parametrize('size', [64, 50, 37])
def test_enhanced_fpn_shapes_match_fpn(size):
    enhanced, plain = _fpn_pair()
    inputs = _pyramid(size, batch=2)
    outs = enhanced(inputs)
    ref = plain(inputs)
    assert len(outs) == 5
    for out, r in zip(outs, ref):
        assert out.shape == r.shape
        assert out.shape[:2] == (2, 16)


def test_enhanced_fpn_reduces_to_fpn_with_zero_shortcuts():
    enhanced, plain = _fpn_pair()
    inputs = _pyramid(40)
    for conv in enhanced.shortcut_convs:
        torch.nn.init.zeros_(conv.conv.weight)
        torch.nn.init.zeros_(conv.conv.bias)
    for out, ref in zip(enhanced(inputs), plain(inputs)):
        torch.testing.assert_close(out, ref)


def test_enhanced_fpn_top_level_matches_manual_connection():
    """P5 = fpn_conv(L5 + ReLU(conv9x9/s8(L2))) - the documented pattern."""
    enhanced, _ = _fpn_pair()
    inputs = _pyramid(64)
    lateral2 = enhanced.lateral_convs[0](inputs[0])
    shortcut = enhanced.shortcut_convs[2].conv
    assert shortcut.kernel_size == (9, 9) and shortcut.stride == (8, 8)
    expected_lateral5 = enhanced.lateral_convs[3](inputs[3]) + F.relu(
        F.conv2d(lateral2, shortcut.weight, shortcut.bias, stride=8,
                 padding=4))
    expected_p5 = enhanced.fpn_convs[3](expected_lateral5)
    torch.testing.assert_close(enhanced(inputs)[3], expected_p5)


def test_enhanced_fpn_extra_connections_matter():
    enhanced, plain = _fpn_pair()
    inputs = _pyramid(64)
    outs, ref = enhanced(inputs), plain(inputs)
    for level in range(5):  # the top-down pass spreads the change to P2
        assert not torch.allclose(outs[level], ref[level])
    # In FPN the top level depends on C5 only; EnhancedFPN links it to C2.
    for neck, connected in ((plain, False), (enhanced, True)):
        inputs = [x.clone().requires_grad_() for x in _pyramid(64)]
        neck(inputs)[3].sum().backward()
        grad_c2 = inputs[0].grad
        if connected:
            assert grad_c2 is not None and grad_c2.abs().sum() > 0
        else:
            assert grad_c2 is None or grad_c2.abs().sum() == 0


def test_enhanced_fpn_input_source_and_errors():
    neck = EnhancedFPN(IN_CHANNELS, 16, 5, shortcut_source='input')
    assert neck.shortcut_convs[0].conv.in_channels == IN_CHANNELS[0]
    assert [tuple(o.shape[2:]) for o in neck(_pyramid(32))] == [
        (32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    with pytest.raises(ValueError, match='shortcut_kernel_sizes'):
        EnhancedFPN(IN_CHANNELS, 16, 5, shortcut_kernel_sizes=[3, 5])
    with pytest.raises(ValueError, match='shortcut_source'):
        EnhancedFPN(IN_CHANNELS, 16, 5, shortcut_source='output')


# ---------------------------------------------------- HybridWeakDetector
NUM_CLASSES = 3


def _branch_cfg(with_mask: bool,
                neck: str = 'EnhancedFPN',
                ignoring: bool = True) -> dict:
    roi_head = dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=16,
            featmap_strides=[4, 8, 16, 32],
            finest_scale=16),
        bbox_head=shared2fc_bbox_head(16, NUM_CLASSES))
    rcnn_train = rcnn_train_cfg()
    rcnn_test = dict(
        score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=10)
    if with_mask:
        roi_head.update(
            mask_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=14, sampling_ratio=0),
                out_channels=16,
                featmap_strides=[4, 8, 16, 32],
                finest_scale=16),
            mask_head=dict(
                type='FCNMaskHead',
                num_convs=1,
                in_channels=16,
                conv_out_channels=16,
                num_classes=NUM_CLASSES,
                loss_mask=dict(
                    type='CrossEntropyLoss', use_mask=True,
                    loss_weight=1.0)))
        rcnn_train['mask_size'] = 28
        rcnn_test['mask_thr_binary'] = 0.5
    rpn_train = rpn_train_cfg()
    if ignoring:
        # the other branch's instances are ignore regions (the default
        # train_cfg.unselected_as_ignored=True needs ignoring assigners)
        for train in (rpn_train, rcnn_train):
            train['assigner'].update(
                type='IgnoreRegionMaxIoUAssigner', ignore_iof_thr=0.5)
    return dict(
        type='MaskRCNN' if with_mask else 'FasterRCNN',
        backbone=dict(
            type='ResNet',
            depth=18,
            base_channels=8,
            stem_channels=8,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            frozen_stages=-1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False,
            init_cfg=None),
        neck=dict(
            type=neck, in_channels=IN_CHANNELS, out_channels=16,
            num_outs=5),
        rpn_head=dict(
            type='RPNHead',
            in_channels=16,
            feat_channels=16,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[4],
                ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=roi_head,
        train_cfg=dict(
            rpn=rpn_train,
            rpn_proposal=dict(
                nms_pre=200,
                max_per_img=50,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=rcnn_train),
        test_cfg=dict(
            rpn=dict(
                nms_pre=200,
                max_per_img=50,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=rcnn_test),
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_size_divisor=32))


def _hybrid(train_cfg=None, test_cfg=None, with_preprocessor=True):
    torch.manual_seed(0)
    cfg = dict(
        type='HybridWeakDetector',
        large_branch=_branch_cfg(True),
        small_branch=_branch_cfg(False, neck='FPN'),
        train_cfg=train_cfg,
        test_cfg=test_cfg)
    if with_preprocessor:
        cfg['data_preprocessor'] = _branch_cfg(True)['data_preprocessor']
    model = MODELS.build(cfg)
    model.init_weights()
    return model


# Each image: instances with hand-set validity flags; boxes are x1y1x2y2.
BOXES = [[[4., 4., 40., 44.], [44., 8., 52., 16.], [10., 48., 60., 62.]],
         [[20., 20., 58., 60.], [2., 2., 9., 10.]]]
VALID = [[True, False, True], [False, True]]
LABELS = [[0, 1, 2], [1, 2]]
SIZE = 64


def _batch(tmp_path=None, with_flags=True, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    inputs, samples = [], []
    for i, (boxes, valid, labels) in enumerate(zip(BOXES, VALID, LABELS)):
        img = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
        masks = np.zeros((len(boxes), SIZE, SIZE), np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            masks[k, int(y1):int(y2), int(x1):int(x2)] = 1
        metainfo = dict(
            img_id=i,
            ori_shape=(SIZE, SIZE),
            img_shape=(SIZE, SIZE),
            pad_shape=(SIZE, SIZE),
            scale_factor=(1.0, 1.0),
            flip=False,
            flip_direction=None)
        if tmp_path is not None:
            metainfo['img_path'] = str(tmp_path / f'img_{i}.png')
            cv2.imwrite(metainfo['img_path'], img)
        sample = DetDataSample(metainfo=metainfo)
        sample.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.tensor(boxes)),
            labels=torch.tensor(labels),
            masks=BitmapMasks(masks, SIZE, SIZE))
        if with_flags:
            sample.gt_instances.pseudo_valid = torch.tensor(valid)
        sample.ignored_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.zeros((0, 4))),
            labels=torch.zeros((0, ), dtype=torch.long),
            masks=BitmapMasks(np.zeros((0, SIZE, SIZE), np.uint8), SIZE,
                              SIZE),
            pseudo_valid=torch.zeros((0, ), dtype=torch.bool))
        inputs.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _record_branch_inputs(model):
    """Wrap each branch's ``loss`` to record the data samples it receives."""
    received = {}
    for name in ('large_branch', 'small_branch'):
        branch = getattr(model, name)
        original = branch.loss

        def recorder(inputs, data_samples, _name=name, _orig=original):
            received[_name] = data_samples
            return _orig(inputs, data_samples)

        branch.loss = recorder
    return received


def _boxes_of(samples, field='gt_instances'):
    return [
        get_box_tensor(getattr(s, field).bboxes).tolist()
        if len(getattr(s, field))
        else [] for s in samples
    ]


def test_hybrid_loss_has_both_branches_and_routes_instances():
    model = _hybrid()
    received = _record_branch_inputs(model)
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    assert {'large.loss_rpn_cls', 'large.loss_rpn_bbox', 'large.loss_cls',
            'large.loss_bbox', 'large.loss_mask', 'small.loss_rpn_cls',
            'small.loss_rpn_bbox', 'small.loss_cls',
            'small.loss_bbox'} <= set(losses)
    assert not any(k.startswith('small.') and 'mask' in k for k in losses)
    assert all(k.startswith(('large.', 'small.')) for k in losses)
    # default: large branch <- valid pseudo masks, small <- invalid ones
    expect_large = [[b for b, v in zip(bs, vs) if v]
                    for bs, vs in zip(BOXES, VALID)]
    expect_small = [[b for b, v in zip(bs, vs) if not v]
                    for bs, vs in zip(BOXES, VALID)]
    assert _boxes_of(received['large_branch']) == expect_large
    assert _boxes_of(received['small_branch']) == expect_small
    for sample in received['small_branch']:
        assert not sample.gt_instances.pseudo_valid.any()
    # the caller's samples are not modified
    assert [len(s.gt_instances) for s in data['data_samples']] == [3, 2]
    # mmengine sums every prefixed loss
    total, log_vars = model.parse_losses(losses)
    assert torch.isfinite(total) and total > 0
    assert total.item() == pytest.approx(
        sum(float(v.detach()) for k, v in log_vars.items()
            if 'loss' in k and k != 'loss'),
        rel=1e-5)


def test_hybrid_small_branch_on_all_and_unselected_as_ignored():
    model = _hybrid(
        train_cfg=dict(
            small_branch_instances='all', unselected_as_ignored=True))
    received = _record_branch_inputs(model)
    model(**model.data_preprocessor(_batch(), True), mode='loss')
    assert _boxes_of(received['small_branch']) == BOXES
    # large branch: invalid instances passed as ignored instead of dropped
    assert _boxes_of(received['large_branch'], 'ignored_instances') == [
        [b for b, v in zip(bs, vs) if not v] for bs, vs in zip(BOXES, VALID)
    ]


def test_ignore_region_assigner_holds_in_images_without_gt():
    from mmdet.registry import TASK_UTILS
    cfg = dict(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
               ignore_iof_thr=0.5)
    priors = InstanceData(priors=torch.tensor(
        [[0., 0., 10., 10.], [2., 2., 8., 8.], [40., 40., 60., 60.],
         [0., 0., 30., 30.]]))
    ignore = InstanceData(bboxes=torch.tensor([[0., 0., 12., 12.]]))
    no_gt = InstanceData(
        bboxes=torch.zeros((0, 4)), labels=torch.zeros((0, )).long())
    ours = TASK_UTILS.build(dict(cfg, type='IgnoreRegionMaxIoUAssigner'))
    mmdet = TASK_UTILS.build(dict(cfg, type='MaxIoUAssigner'))
    # without gt: mmdet makes every prior a negative, ignore regions too
    assert mmdet.assign(priors, no_gt, ignore).gt_inds.tolist() == [0] * 4
    # priors inside the region (IoF 1, 1) ignored; IoF 0 and 0.16 negative
    assert ours.assign(priors, no_gt, ignore).gt_inds.tolist() == [
        -1, -1, 0, 0]
    # with gt the result equals mmdet's, positives are kept
    gt = InstanceData(
        bboxes=torch.tensor([[40., 40., 61., 61.]]), labels=torch.tensor([1]))
    for a in (ours, mmdet):
        assert a.assign(priors, gt, ignore).gt_inds.tolist() == [-1, -1, 1, 0]
    with pytest.raises(ValueError, match='ignore_iof_thr'):
        TASK_UTILS.build(
            dict(cfg, type='IgnoreRegionMaxIoUAssigner', ignore_iof_thr=-1))


def _iof(boxes: torch.Tensor, region) -> torch.Tensor:
    """Intersection of (N, 4) boxes with one region over the boxes' area."""
    region = torch.tensor(region, dtype=boxes.dtype)
    wh = (torch.min(boxes[:, 2:], region[2:]) -
          torch.max(boxes[:, :2], region[:2])).clamp(min=0)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(1).clamp(min=1e-6)
    return wh.prod(1) / area


@pytest.mark.parametrize('unselected_as_ignored', [True, False])
def test_other_branch_instances_give_no_negative_cls_loss(
        unselected_as_ignored):
    """An image whose only objects are valid: for the small branch the
    object is an ignore region, so no anchor or RoI inside it is a
    negative (no negative classification loss), while with
    ``unselected_as_ignored=False`` it is background."""
    model = _hybrid(
        train_cfg=dict(unselected_as_ignored=unselected_as_ignored))
    small = model.small_branch
    batch = _batch()
    region = [4., 4., 40., 44.]
    batch['data_samples'] = batch['data_samples'][:1]
    batch['inputs'] = batch['inputs'][:1]
    sample = batch['data_samples'][0]
    sample.gt_instances = sample.gt_instances[:1]  # the valid box only
    assert get_box_tensor(sample.gt_instances.bboxes)[0].tolist() == region
    # sample every negative, so that none can be missed by chance
    small.rpn_head.sampler.num = 10**6
    small.roi_head.bbox_sampler.num = 10**6
    recorded = {}
    rpn_get_targets = small.rpn_head.get_targets

    def record_targets(anchor_list, *args, **kwargs):
        targets = rpn_get_targets(anchor_list, *args, **kwargs)
        recorded['anchors'] = torch.cat(anchor_list[0])
        recorded['label_weights'] = torch.cat(
            [w[0] for w in targets[1]])
        return targets

    rpn_loss_and_predict = small.rpn_head.loss_and_predict

    def add_region_as_proposal(*args, **kwargs):
        losses, results = rpn_loss_and_predict(*args, **kwargs)
        extra = InstanceData(
            bboxes=torch.tensor([region, [5., 6., 30., 40.]]),
            scores=torch.ones(2), labels=torch.zeros(2, dtype=torch.long))
        return losses, [InstanceData.cat([r, extra]) for r in results]

    roi_bbox_loss = small.roi_head.bbox_loss

    def record_sampling(x, sampling_results):
        recorded['neg_priors'] = sampling_results[0].neg_priors
        return roi_bbox_loss(x, sampling_results)

    small.rpn_head.get_targets = record_targets
    small.rpn_head.loss_and_predict = add_region_as_proposal
    small.roi_head.bbox_loss = record_sampling
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert torch.isfinite(losses['small.loss_cls'])

    anchors, weights = recorded['anchors'], recorded['label_weights']
    anchors_in_region = _iof(anchors, region) > 0.5
    assert anchors_in_region.sum() > 10
    neg_rois_in_region = _iof(recorded['neg_priors'], region) > 0.5
    if unselected_as_ignored:
        # zero weight in the RPN classification loss, no negative RoI
        assert (weights[anchors_in_region] == 0).all()
        assert (weights[~anchors_in_region] > 0).any()
        assert not neg_rois_in_region.any()
        assert len(recorded['neg_priors']) > 0
    else:
        assert (weights[anchors_in_region] > 0).all()
        assert neg_rois_in_region.sum() >= 2  # the two added proposals


def test_hybrid_recomputes_or_requires_missing_flags():
    batch = _batch(with_flags=False)
    # make instance 1 of image 0 a poor mask: a 2x2 blob in a 8x8 box
    masks = batch['data_samples'][0].gt_instances.masks.masks
    masks[1] = 0
    masks[1, 8:10, 44:46] = 1
    model = _hybrid()
    received = _record_branch_inputs(model)
    model(**model.data_preprocessor(batch, True), mode='loss')
    assert _boxes_of(received['small_branch']) == [[BOXES[0][1]], []]
    strict = _hybrid(train_cfg=dict(missing_valid_flag='error'))
    with pytest.raises(KeyError, match='pseudo_valid'):
        strict(**strict.data_preprocessor(_batch(with_flags=False), True),
               mode='loss')


def test_hybrid_small_branch_lr_via_custom_keys():
    model = _hybrid()
    optim_wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(
                type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0002),
            paramwise_cfg=dict(
                custom_keys={'small_branch': dict(lr_mult=1.5)})))
    small_params = {id(p) for p in model.small_branch.parameters()}
    lrs = {'small': set(), 'large': set()}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            key = 'small' if id(param) in small_params else 'large'
            lrs[key].add(round(group['lr'], 8))
    assert lrs == {'small': {0.0075}, 'large': {0.005}}


def test_hybrid_config_errors():
    with pytest.raises(KeyError, match='small_size'):
        _hybrid(test_cfg=dict(small_size=64))
    with pytest.raises(ValueError, match='small_branch_instances'):
        _hybrid(train_cfg=dict(small_branch_instances='small'))
    # ignore regions need assigners that ignore (mmdet's default does not)
    with pytest.raises(ValueError,
                       match=r'small_branch\.train_cfg\.rpn\.assigner'):
        MODELS.build(
            dict(
                type='HybridWeakDetector',
                large_branch=_branch_cfg(True),
                small_branch=_branch_cfg(False, ignoring=False)))
    MODELS.build(  # fine when nothing is ignored
        dict(
            type='HybridWeakDetector',
            large_branch=_branch_cfg(True, ignoring=False),
            small_branch=_branch_cfg(False, ignoring=False),
            train_cfg=dict(unselected_as_ignored=False)))
    with pytest.raises(ValueError, match='must predict masks'):
        MODELS.build(
            dict(
                type='HybridWeakDetector',
                large_branch=_branch_cfg(False),
                small_branch=_branch_cfg(False)))


def _instances(boxes, scores, labels, masks=None):
    data = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.long))
    if masks is not None:
        data.masks = masks
    return data


def test_fusion_by_size_and_duplicate_suppression():
    model = _hybrid(
        test_cfg=dict(
            small_size_thr=16, max_grabcut_per_image=0,
            fusion_nms_type='box'))
    h, w = 80, 100
    large_masks = torch.zeros((4, h, w), dtype=torch.bool)
    large_masks[0, 10:50, 10:50] = True
    large_masks[1, 60:68, 60:68] = True
    large_masks[2, 0:17, 80:97] = True
    large_masks[3, 40:80, 55:95] = True
    large = _instances(
        [[10, 10, 50, 50],  # big -> kept
         [60, 60, 68, 68],  # 8x8 from the large branch -> dropped
         [80, 0, 97, 17],  # 17x17 (289 >= 256), duplicates small #2
         [55, 40, 95, 80]],  # big, label 1
        [0.9, 0.8, 0.6, 0.5], [0, 0, 2, 1], large_masks)
    small = _instances(
        [[60, 60, 68, 68],  # small -> kept (GrabCut capped: ellipse)
         [10, 10, 50, 50],  # big from the small branch -> dropped
         [80, 0, 95, 16],  # 15x16 < 256, IoU 240/289 with large #2
         [0, 60, 12, 72]],  # small, no overlap
        [0.7, 0.95, 0.65, 0.3], [1, 0, 2, 0])
    image = np.zeros((h, w, 3), np.uint8)
    out = model.fuse_results(large, small, image, (h, w))
    # sorted by score: large#0 .9, small#0 .7, small#2 .65 (suppresses the
    # lower-scored large#2 of the same class), large#3 .5, small#3 .3
    assert out.scores.tolist() == pytest.approx([0.9, 0.7, 0.65, 0.5, 0.3])
    assert out.bboxes.tolist() == [[10, 10, 50, 50], [60, 60, 68, 68],
                                   [80, 0, 95, 16], [55, 40, 95, 80],
                                   [0, 60, 12, 72]]
    assert out.labels.tolist() == [0, 1, 2, 1, 0]
    assert out.masks.shape == (5, h, w) and out.masks.dtype == torch.bool
    assert torch.equal(out.masks[0], large_masks[0])
    assert torch.equal(out.masks[3], large_masks[3])
    for k, box in ((1, [60, 60, 68, 68]), (2, [80, 0, 95, 16]),
                   (4, [0, 60, 12, 72])):
        ellipse = torch.from_numpy(inscribed_ellipse_mask(h, w, box) > 0)
        assert torch.equal(out.masks[k], ellipse)

    # class-aware by default: a different label is not a duplicate ...
    small.labels[2] = 1
    out = model.fuse_results(large, small, image, (h, w))
    assert len(out) == 6
    # ... unless the fusion is class-agnostic
    model.test_cfg['fusion_class_agnostic'] = True
    out = model.fuse_results(large, small, image, (h, w))
    assert len(out) == 5 and 0.6 not in out.scores.tolist()
    # mask NMS finds the same duplicate (mask IoU 240/289 > 0.5)
    model.test_cfg['fusion_nms_type'] = 'mask'
    out_mask = model.fuse_results(large, small, image, (h, w))
    assert out_mask.scores.tolist() == pytest.approx(out.scores.tolist())
    # max_per_img keeps the best
    model.test_cfg['max_per_img'] = 2
    assert model.fuse_results(large, small, image,
                              (h, w)).scores.tolist() == pytest.approx(
                                  [0.9, 0.7])


def test_default_fusion_is_the_papers(monkeypatch):
    """Paper, Sec. 2: split by size, no suppression across the branches,
    GrabCut for every small detection, the ellipse only when it is poor."""
    from mmext.models.detectors import hybrid_weak_detector as module
    model = _hybrid(test_cfg=dict(small_size_thr=16))
    assert model.test_cfg['fusion_nms_type'] == 'none'
    h, w = 80, 100
    large_masks = torch.zeros((2, h, w), dtype=torch.bool)
    large_masks[0, 0:17, 80:97] = True
    large_masks[1, 40:80, 55:95] = True
    large = _instances([[80, 0, 97, 17], [55, 40, 95, 80]], [0.6, 0.5],
                       [2, 1], large_masks)
    num_small = 25  # more than the optional cap of 20
    small_boxes = [[4 * (i % 12), 20 + 30 * (i // 12) % 60,
                    4 * (i % 12) + 12, 32 + 30 * (i // 12) % 60]
                   for i in range(num_small - 1)] + [[80, 0, 95, 16]]
    small = _instances(small_boxes,
                       [0.01 * i for i in range(num_small - 1)] + [0.65],
                       [0] * (num_small - 1) + [2])
    calls = []
    real = module.pseudo_mask_for_box

    def counting(image, box, **kwargs):
        calls.append(list(box))
        return real(image, box, **kwargs)

    monkeypatch.setattr(module, 'pseudo_mask_for_box', counting)
    image = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    out = model.fuse_results(large, small, image, (h, w))
    # the small #24 / large #0 duplicate (box IoU 0.83, same class) is kept
    assert len(out) == 2 + num_small
    assert out.scores[:2].tolist() == pytest.approx([0.65, 0.6])
    assert len(calls) == num_small  # every small detection, no cap
    # the extras are options: cap and NMS
    calls.clear()
    model.test_cfg.update(fusion_nms_type='box', max_grabcut_per_image=20)
    out = model.fuse_results(large, small, image, (h, w))
    assert len(out) == 1 + num_small
    assert out.scores[:2].tolist() == pytest.approx([0.65, 0.5])
    assert len(calls) == 20
    with pytest.raises(ValueError, match='fusion_nms_type'):
        _hybrid(test_cfg=dict(fusion_nms_type='soft'))


def test_grabcut_at_test_time_and_ellipse_fallback():
    """A clear object gets GrabCut's mask; poor results become ellipses."""
    model = _hybrid(test_cfg=dict(small_size_thr=64))
    h, w = 96, 96
    image = np.full((h, w, 3), 120, np.uint8)
    image[20:44, 20:44] = (20, 20, 230)  # a red square object
    image[70:73, 70:73] = (230, 20, 20)  # a 3x3 blue blob in a larger box
    square = np.zeros((h, w), bool)
    square[20:44, 20:44] = True
    calls = []
    empty = _instances([], [], [], torch.zeros((0, h, w), dtype=torch.bool))
    small = _instances(
        [[16, 16, 48, 48],  # GrabCut finds the square: kept
         [66, 66, 90, 90],  # GrabCut finds only the blob: invalid -> ellipse
         [2, 80, 8, 86]],  # 6x6 < grabcut_min_size 8: ellipse
        [0.9, 0.8, 0.7], [0, 1, 2])

    def loader():
        calls.append(1)
        return image

    out = model.fuse_results(empty, small, loader, (h, w))
    assert len(calls) == 1  # the image is loaded once, lazily
    masks = out.masks.numpy()
    iou = (masks[0] & square).sum() / (masks[0] | square).sum()
    assert iou > 0.9
    assert not np.array_equal(
        masks[0], inscribed_ellipse_mask(h, w, [16, 16, 48, 48]) > 0)
    for k, box in ((1, [66, 66, 90, 90]), (2, [2, 80, 8, 86])):
        assert np.array_equal(masks[k], inscribed_ellipse_mask(h, w, box) > 0)
    # no small results: the image is never needed
    model.fuse_results(empty, empty, lambda: pytest.fail('loaded'), (h, w))


def test_image_from_inputs_undoes_preprocessing():
    model = _hybrid()
    rng = np.random.default_rng(1)
    ori = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    flipped = ori[:, ::-1].copy()  # a test-time horizontal flip
    sample = DetDataSample(
        metainfo=dict(
            ori_shape=(30, 40),
            img_shape=(30, 40),
            flip=True,
            flip_direction='horizontal'))
    data = model.data_preprocessor(
        dict(
            inputs=[torch.from_numpy(flipped).permute(2, 0, 1)],
            data_samples=[sample]), False)
    assert data['inputs'].shape[-2:] == (32, 64)  # padded to 32
    rebuilt = model.image_from_inputs(data['inputs'][0],
                                      data['data_samples'][0].metainfo)
    assert rebuilt.dtype == np.uint8 and rebuilt.shape == ori.shape
    assert np.abs(rebuilt.astype(int) - ori).max() <= 1


def test_hybrid_predict_end_to_end(tmp_path):
    model = _hybrid(test_cfg=dict(small_size_thr=24))
    model.eval()
    with torch.no_grad():
        results = model.test_step(_batch(tmp_path))
        results_inputs = _hybrid(
            test_cfg=dict(small_size_thr=24, image_source='inputs')).eval(
            ).test_step(_batch(tmp_path))
    for result, other in zip(results, results_inputs):
        pred = result.pred_instances
        assert set(pred.keys()) >= {'bboxes', 'scores', 'labels', 'masks'}
        assert pred.masks.shape[1:] == (SIZE, SIZE)
        assert len(pred) == len(pred.scores) == len(pred.labels)
        assert len(pred) > 0
        assert torch.all(pred.scores[:-1] >= pred.scores[1:])
        # the image reloaded from img_path equals the one rebuilt from the
        # inputs here (no resize), so both sources give the same masks
        assert torch.equal(pred.masks, other.pred_instances.masks)
    with pytest.raises(ValueError, match='rescale'):
        data = model.data_preprocessor(_batch(tmp_path), False)
        model.predict(data['inputs'], data['data_samples'], rescale=False)


# ------------------------------------------------- dataset and transforms
def _write_pseudo_set(root, with_valid=True):
    img_dir = osp.join(root, 'img')
    import os
    os.makedirs(img_dir, exist_ok=True)
    images, anns = [], []
    # image 1 starts with a degenerate box that the dataset skips: the flags
    # of the others must stay with their instances
    specs = {1: [(False, [0, 0, 0, 5]), (True, [2, 2, 20, 20]),
                 (False, [30, 30, 6, 6])],
             2: [(False, [5, 5, 8, 8])],
             3: [(True, [10, 10, 30, 30])]}
    ann_id = 1
    for img_id, insts in specs.items():
        file_name = f'{img_id}.png'
        cv2.imwrite(osp.join(img_dir, file_name),
                    np.zeros((48, 48, 3), np.uint8))
        images.append(
            dict(id=img_id, file_name=file_name, height=48, width=48))
        for valid, (x, y, w, h) in insts:
            mask = np.zeros((48, 48), np.uint8, order='F')
            mask[y:y + h, x:x + w] = 1
            rle = mask_utils.encode(mask)
            rle['counts'] = rle['counts'].decode()
            ann = dict(
                id=ann_id,
                image_id=img_id,
                category_id=1,
                bbox=[x, y, w, h],
                area=w * h,
                iscrowd=0,
                segmentation=rle)
            if with_valid:
                ann['valid'] = valid
            anns.append(ann)
            ann_id += 1
    ann_file = osp.join(root, 'pseudo.json')
    with open(ann_file, 'w') as f:
        json.dump(
            dict(
                images=images,
                annotations=anns,
                categories=[dict(id=1, name='disk')]), f)
    return ann_file, img_dir + '/'


def _dataset(ann_file, img_dir, **kwargs):
    return PseudoMaskCocoDataset(
        ann_file=ann_file,
        data_prefix=dict(img=img_dir),
        metainfo=dict(classes=('disk', )),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='LoadPseudoMaskAnnotations',
                with_bbox=True,
                with_mask=True),
            dict(type='RandomFlip', prob=1.0),
            dict(type='PackPseudoMaskInputs')
        ],
        **kwargs)


def test_pseudo_mask_dataset_subsets_and_packing(tmp_path):
    ann_file, img_dir = _write_pseudo_set(str(tmp_path))
    dataset = _dataset(ann_file, img_dir)
    assert len(dataset) == 3
    flags = [[inst['pseudo_valid'] for inst in dataset.get_data_info(i)[
        'instances']] for i in range(3)]
    assert flags == [[True, False], [False], [True]]
    sample = dataset[0]['data_samples']
    assert sample.gt_instances.pseudo_valid.tolist() == [True, False]
    assert sample.gt_instances.pseudo_valid.dtype == torch.bool
    # flipped boxes stay aligned with their flags
    assert sample.gt_instances.bboxes.tensor[1].tolist() == [12., 30., 18.,
                                                             36.]

    valid = _dataset(ann_file, img_dir, pseudo_mask_subset='valid',
                     unselected='drop', filter_cfg=dict(filter_empty_gt=True))
    assert len(valid) == 2  # image 2 has no valid instance
    assert all(inst['pseudo_valid'] for i in range(len(valid))
               for inst in valid.get_data_info(i)['instances'])
    invalid = _dataset(ann_file, img_dir, pseudo_mask_subset='invalid',
                       unselected='drop')
    assert [len(invalid.get_data_info(i)['instances'])
            for i in range(3)] == [1, 1, 0]
    # default: the other subset stays as ignore regions
    valid = _dataset(ann_file, img_dir, pseudo_mask_subset='valid',
                     filter_cfg=dict(filter_empty_gt=True))
    assert len(valid) == 2  # image 2 has no valid instance to train on
    assert [[(inst['pseudo_valid'], inst['ignore_flag'])
             for inst in valid.get_data_info(i)['instances']]
            for i in range(2)] == [[(True, 0), (False, 1)], [(True, 0)]]
    sample = valid[0]['data_samples']
    assert sample.gt_instances.pseudo_valid.tolist() == [True]
    assert len(sample.ignored_instances) == 1
    with pytest.raises(ValueError, match='pseudo_mask_subset'):
        _dataset(ann_file, img_dir, pseudo_mask_subset='small')
    with pytest.raises(ValueError, match='unselected'):
        _dataset(ann_file, img_dir, unselected='background')


def test_pseudo_mask_dataset_requires_valid_flag(tmp_path):
    ann_file, img_dir = _write_pseudo_set(str(tmp_path), with_valid=False)
    with pytest.raises(KeyError, match='annotation id 2 .*"valid"'):
        _dataset(ann_file, img_dir)
    load = TRANSFORMS.build(
        dict(type='LoadPseudoMaskAnnotations', with_bbox=True))
    with pytest.raises(KeyError, match='PseudoMaskCocoDataset'):
        load.transform(
            dict(
                img_path='x.png',
                instances=[dict(bbox=[0, 0, 4, 4], bbox_label=0,
                                ignore_flag=0)]))
