"""VOCInstanceMetric (mAP^r, ABO) on hand-made cases with known answers."""
import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from mmext.evaluation import (VOCInstanceMetric, ap_from_matches,
                              mask_iou_matrix, match_detections)

H, W = 20, 60


def _rect(x0, x1, y0=0, y1=10):
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def _write_gt(path, images):
    """images: {img_id: (list of (mask, cat_id[, iscrowd]), void or None)}"""
    coco = dict(
        images=[],
        annotations=[],
        categories=[dict(id=1, name='a'),
                    dict(id=2, name='b')])
    for img_id, (objs, void) in images.items():
        img = dict(id=img_id, file_name=f'{img_id}.jpg', height=H, width=W)
        if void is not None:
            img['void_rle'] = _rle(void)
        coco['images'].append(img)
        for obj in objs:
            mask, cat = obj[:2]
            coco['annotations'].append(
                dict(
                    id=len(coco['annotations']) + 1,
                    image_id=img_id,
                    category_id=cat,
                    segmentation=_rle(mask),
                    area=float(mask.sum()),
                    bbox=[float(v) for v in mask_utils.toBbox(_rle(mask))],
                    iscrowd=obj[2] if len(obj) > 2 else 0))
    with open(path, 'w') as f:
        json.dump(coco, f)
    return str(path)


def _sample(img_id, preds):
    """preds: list of (mask, label, score)."""
    masks = torch.from_numpy(
        np.stack([p[0] for p in preds]).astype(bool) if preds else np.zeros((
            0, H, W), bool))
    return dict(
        img_id=img_id,
        ori_shape=(H, W),
        pred_instances=dict(
            masks=masks,
            labels=torch.tensor([p[1] for p in preds], dtype=torch.long),
            scores=torch.tensor([p[2] for p in preds], dtype=torch.float32),
            bboxes=torch.zeros((len(preds), 4))))


def _evaluate(ann_file, samples, classes=('a', 'b'), **kwargs):
    metric = VOCInstanceMetric(ann_file=ann_file, **kwargs)
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    return {k.split('/', 1)[1]: v for k, v in results.items()}


GT_A1, GT_A2, GT_B = _rect(0, 10), _rect(20, 30), _rect(40, 50)


def test_perfect_predictions(tmp_path):
    ann = _write_gt(tmp_path / 'gt.json', {
        1: ([(GT_A1, 1), (GT_A2, 1), (GT_B, 2)], None),
        2: ([(GT_B, 2)], None)
    })
    res = _evaluate(ann, [
        _sample(1, [(GT_A1, 0, .9), (GT_A2, 0, .8), (GT_B, 1, .7)]),
        _sample(2, [(GT_B, 1, .6)])
    ])
    assert res == {'mAPr_50': 1., 'mAPr_75': 1., 'ABO': 1.}


def test_ap_by_hand(tmp_path):
    """Class 'a', 2 GT; detections at known IoUs.

    By descending score: d1 IoU 0.3 with A1 (FP at both thresholds),
    d2 IoU 0.8 with A1 (TP), d3 IoU 0.6 with A2 (TP at 0.5, FP at 0.75).
    IoU 0.5: precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> AP = 2/3.
    IoU 0.75: precision 0, 1/2, 1/3 at recall 0, 1/2, 1/2 -> AP = 1/4.
    ABO = (0.8 + 0.6) / 2.
    """
    ann = _write_gt(tmp_path / 'gt.json',
                    {1: ([(GT_A1, 1), (GT_A2, 1)], None)})
    preds = [(_rect(0, 3), 0, .9), (_rect(0, 8), 0, .8), (_rect(20,
                                                                26), 0, .7)]
    res = _evaluate(ann, [_sample(1, preds)])
    assert res['mAPr_50'] == pytest.approx(2 / 3, abs=1e-6)
    assert res['mAPr_75'] == pytest.approx(1 / 4, abs=1e-6)
    assert res['ABO'] == pytest.approx(0.7)
    # Class 'b' has no ground truth: it does not enter the mean, even with
    # (false) detections of it.
    res = _evaluate(ann, [_sample(1, preds + [(GT_A1, 1, .95)])])
    assert res['mAPr_50'] == pytest.approx(2 / 3, abs=1e-6)


def test_ranking_across_images(tmp_path):
    """Detections of all images are ranked together by score."""
    ann = _write_gt(tmp_path / 'gt.json', {
        1: ([(GT_A1, 1)], None),
        2: ([(GT_A1, 1)], None)
    })
    # Image 1: TP (0.9); image 2: FP (0.95) then TP (0.5).
    # Ranked: FP, TP, TP -> precision 0, 1/2, 2/3 at recall 0, 1/2, 1.
    res = _evaluate(ann, [
        _sample(1, [(GT_A1, 0, .9)]),
        _sample(2, [(GT_A2, 0, .95), (GT_A1, 0, .5)])
    ])
    assert res['mAPr_50'] == pytest.approx(2 / 3, abs=1e-6)
    # Duplicates are false positives: each GT is matched once.
    res = _evaluate(ann, [
        _sample(1, [(GT_A1, 0, .9), (GT_A1, 0, .8)]),
        _sample(2, [(GT_A1, 0, .7)])
    ])
    # TP, FP, TP -> AP = 1/2 * 1 + 1/2 * 2/3.
    assert res['mAPr_50'] == pytest.approx(0.5 + 1 / 3, abs=1e-6)


def test_void_pixels_are_ignored(tmp_path):
    """A prediction spilling 20 px into void: IoU 80/120 without void
    handling, 80/100 with it (void removed from both masks)."""
    void = _rect(10, 12)  # 20 px right of GT_A1
    pred = _rect(2, 12)  # 80 px of GT_A1 + the 20 void px
    gt = {1: ([(GT_A1, 1)], void)}
    ann = _write_gt(tmp_path / 'gt.json', gt)
    res = _evaluate(ann, [_sample(1, [(pred, 0, .9)])])
    assert res['ABO'] == pytest.approx(0.8)
    assert res['mAPr_75'] == 1.
    res = _evaluate(ann, [_sample(1, [(pred, 0, .9)])], use_void=False)
    assert res['ABO'] == pytest.approx(80 / 120)
    assert res['mAPr_75'] == 0.
    # Void inside the ground truth is removed from it as well.
    ann = _write_gt(tmp_path / 'gt2.json', {1: ([(GT_A1, 1)], _rect(0, 5))})
    res = _evaluate(ann, [_sample(1, [(_rect(5, 10), 0, .9)])])
    assert res['ABO'] == pytest.approx(1.)


def test_abo_class_agnostic_and_same_class(tmp_path):
    ann = _write_gt(tmp_path / 'gt.json', {
        1: ([(GT_A1, 1), (GT_B, 2)], None),
        2: ([(GT_A2, 1)], None)
    })
    samples = [
        _sample(1, [(GT_A1, 1, .9), (_rect(40, 45), 1, .2)]),
        _sample(2, [])
    ]
    # Best overlaps: A1 1.0 (wrong-class prediction), B 0.5, A2 0 (nothing).
    res = _evaluate(ann, samples)
    assert res['ABO'] == pytest.approx(1.5 / 3)
    res = _evaluate(ann, samples, abo_same_class=True)
    assert res['ABO'] == pytest.approx(0.5 / 3)
    # mAP: class a has 2 GT and no detection of its own -> 0; class b: the
    # 0.9 detection is an FP, the 0.2 one a TP at 0.5 -> AP 1/2.
    assert res['mAPr_50'] == pytest.approx((0 + 0.5) / 2, abs=1e-6)


def test_crowd_annotations_are_ignored(tmp_path):
    ann = _write_gt(tmp_path / 'gt.json',
                    {1: ([(GT_A1, 1), (GT_A2, 1, 1)], None)})
    # The 0.95 detection on the crowd region is neither TP nor FP; the
    # crowd instance is not a positive and not part of ABO.
    res = _evaluate(ann, [_sample(1, [(GT_A2, 0, .95), (GT_A1, 0, .5)])])
    assert res == {'mAPr_50': 1., 'mAPr_75': 1., 'ABO': 1.}


def test_matching_modes(tmp_path):
    """d1 takes A1; d2 covers 80 px of A1 and 70 px of A2 (IoUs 80/170 and
    70/180, both above the 0.35 threshold, A1 the better)."""
    a1, a2 = _rect(0, 10), _rect(10, 20)
    d2 = _rect(2, 17)
    ious = mask_iou_matrix(np.stack([a1, d2]), np.stack([a1, a2]))
    np.testing.assert_allclose(ious, [[1, 0], [80 / 170, 70 / 180]])
    ann = _write_gt(tmp_path / 'gt.json', {1: ([(a1, 1), (a2, 1)], None)})
    samples = [_sample(1, [(a1, 0, .9), (d2, 0, .8)])]
    # SDS/PRM rule: d2 takes A2 (best unmatched) -> AP 1.
    res = _evaluate(ann, samples, iou_thrs=(0.35, ))
    assert res['mAPr_35'] == pytest.approx(1.)
    # VOC devkit rule: d2's best GT is A1, already taken -> duplicate.
    res = _evaluate(ann, samples, iou_thrs=(0.35, ), matching='best_any')
    assert res['mAPr_35'] == pytest.approx(0.5)


def test_labels_follow_dataset_meta_classes(tmp_path):
    ann = _write_gt(tmp_path / 'gt.json', {1: ([(GT_B, 2)], None)})
    # With classes ('b', 'a'), label 0 means category 'b' (id 2).
    res = _evaluate(ann, [_sample(1, [(GT_B, 0, .9)])], classes=('b', 'a'))
    assert res['mAPr_50'] == 1.
    res = _evaluate(ann, [_sample(1, [(GT_B, 0, .9)])])
    assert res['mAPr_50'] == 0.
    with pytest.raises(KeyError, match='zebra'):
        _evaluate(ann, [_sample(1, [])], classes=('a', 'zebra'))


def test_classwise_and_bad_input(tmp_path):
    ann = _write_gt(tmp_path / 'gt.json', {1: ([(GT_A1, 1), (GT_B, 2)], None)})
    res = _evaluate(ann, [_sample(1, [(GT_A1, 0, .9)])], classwise=True)
    assert res['a_APr_50'] == 1. and res['b_APr_50'] == 0.
    assert res['mAPr_50'] == 0.5
    bad = _sample(1, [])
    bad['pred_instances']['masks'] = torch.zeros((1, H + 1, W), dtype=bool)
    bad['pred_instances']['labels'] = torch.zeros(1, dtype=torch.long)
    bad['pred_instances']['scores'] = torch.ones(1)
    with pytest.raises(ValueError, match='image 1'):
        _evaluate(ann, [bad])
    with pytest.raises(KeyError, match='image id 7'):
        _evaluate(ann, [_sample(7, [])])


def test_functional_helpers():
    # AP from labels: TP, FP, TP with 2 GT -> 1/2 + 1/2 * 2/3.
    ap = ap_from_matches([np.array([.9, .8]),
                          np.array([.7])],
                         [np.array([1, 0]), np.array([1])], 2)
    assert ap == pytest.approx(0.5 + 1 / 3, abs=1e-6)
    assert np.isnan(ap_from_matches([], [], 0))
    assert ap_from_matches([], [], 3) == 0.
    # Ignored detections (-1) are dropped.
    assert ap_from_matches([np.array([.9, .8])], [np.array([-1, 1])],
                           1) == pytest.approx(1.)
    labels = match_detections(
        np.array([[0.9], [0.95]]), np.array([.1, .2]), 0.5)
    np.testing.assert_array_equal(labels, [0, 1])  # higher score matches
    # Empty inputs.
    assert mask_iou_matrix(np.zeros((0, 4, 4)), np.zeros((2, 4, 4))).shape \
        == (0, 2)
    # (4, 5) vs (5, 4): the same pixel count, so numpy alone would not
    # notice; the helper must name both shapes
    with pytest.raises(
            ValueError,
            match=r'predicted masks are \(4, 5\) but ground-truth masks are '
            r'\(5, 4\)'):
        mask_iou_matrix(np.zeros((1, 4, 5)), np.zeros((1, 5, 4)))
    with pytest.raises(ValueError, match=r'void map is \(4, 4\)'):
        mask_iou_matrix(
            np.zeros((1, 4, 5)), np.zeros((1, 4, 5)), void=np.zeros((4, 4)))


def test_agrees_with_coco_ap(toy_data_root):
    """On noisy predictions, mAP^r@0.5/0.75 is close to COCO's segm AP at
    the same IoU (same greedy matching; COCO interpolates at 101 recall
    points instead of all points, so they differ slightly)."""
    import cv2
    from mmengine.registry import DefaultScope
    from mmengine.evaluator import Evaluator
    from pycocotools.coco import COCO
    ann = toy_data_root + 'annotations/instances_val.json'
    coco = COCO(ann)
    cat_ids = coco.getCatIds()
    rng = np.random.default_rng(0)
    samples = []
    for img_id in coco.getImgIds():
        img = coco.imgs[img_id]
        shape = (img['height'], img['width'])
        preds = []
        for a in coco.imgToAnns[img_id]:
            m = coco.annToMask(a)
            k = int(rng.integers(1, 4))
            op = cv2.dilate if rng.random() < .5 else cv2.erode
            m = np.roll(
                op(m, np.ones((k, k), np.uint8)),
                int(rng.integers(-2, 3)),
                axis=1)
            preds.append((m, cat_ids.index(a['category_id']), rng.random()))
        fp = np.zeros(shape, np.uint8)
        fp[5:25, 5:25] = 1
        preds.append((fp, int(rng.integers(len(cat_ids))), rng.random()))
        sample = dict(
            img_id=img_id,
            ori_shape=shape,
            pred_instances=dict(
                masks=torch.from_numpy(
                    np.stack([p[0] for p in preds]).astype(bool)),
                labels=torch.tensor([p[1] for p in preds]),
                scores=torch.tensor([p[2] for p in preds],
                                    dtype=torch.float32),
                bboxes=torch.zeros((len(preds), 4))))
        samples.append(sample)
    with DefaultScope.overwrite_default_scope('mmdet'):
        evaluator = Evaluator([
            dict(type='VOCInstanceMetric', ann_file=ann),
            dict(type='CocoMetric', ann_file=ann, metric='segm')
        ])
    evaluator.dataset_meta = dict(
        classes=tuple(c['name'] for c in coco.loadCats(cat_ids)))
    for metric in evaluator.metrics:
        metric.process({}, samples)
    res = {}
    for metric in evaluator.metrics:
        res.update(metric.evaluate(len(samples)))
    assert 0.2 < res['voc/mAPr_50'] < 0.98
    assert res['voc/mAPr_50'] == pytest.approx(
        res['coco/segm_mAP_50'], abs=0.03)
    assert res['voc/mAPr_75'] == pytest.approx(
        res['coco/segm_mAP_75'], abs=0.03)


def test_strict_threshold_of_the_sds_code(tmp_path):
    """IoU exactly 0.5 (100 / 200 px) matches at ``IoU >= 0.5`` (default,
    MNC/chainercv) but not at ``IoU > 0.5`` (SDS, ``strict_thr=True``)."""
    ann = _write_gt(tmp_path / 'gt.json', {1: ([(GT_A1, 1)], None)})
    half = [_sample(1, [(_rect(0, 20), 0, .9)])]
    assert _evaluate(ann, half)['mAPr_50'] == 1.
    assert _evaluate(ann, half, strict_thr=True)['mAPr_50'] == 0.
    # the same for the VOC devkit assignment, and ABO does not change
    assert _evaluate(ann, half, strict_thr=True,
                     matching='best_any')['mAPr_50'] == 0.
    assert _evaluate(ann, half, strict_thr=True)['ABO'] == pytest.approx(.5)
    above = [_sample(1, [(_rect(0, 19), 0, .9)])]  # 100 / 190
    assert _evaluate(ann, above, strict_thr=True)['mAPr_50'] == 1.


def test_paper_configs_use_the_sds_protocol():
    """The VOC configs of the hybrid-network paper evaluate as the public
    SDS code does: void pixels not removed, IoU > thr, best unmatched gt."""
    import glob
    import os.path as osp

    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    files = sorted(glob.glob(osp.join(root, 'configs/weakly/*_voc-sbd.py')))
    assert files
    for path in files:
        cfg = Config.fromfile(path)
        for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
            assert evaluator['type'] == 'VOCInstanceMetric', path
            assert evaluator.get('use_void') is False, path
            assert evaluator.get('strict_thr') is True, path
            assert evaluator.get('matching',
                                 'best_unmatched') == 'best_unmatched', path
