"""Mask AP on a subset of the ground truth (huddled instances), by hand.

One 40x40 image, one category, 10x10 squares A, B, C (100 px each, apart).
Every detection is an exact copy of a square or lies on the background, so
each IoU is 1 or 0 and COCO's AP is the same at all ten IoU thresholds:
``stats[0]`` (AP), AP50 and AP75 are equal.

COCO's AP is the mean of the interpolated precision at the 101 recall
thresholds 0, 0.01, ..., 1 (0 beyond the largest recall reached).
"""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO

from mmdet.datasets.api_wrappers import COCOeval
from mmext.evaluation.functional import SubsetCOCOeval

H = W = 40


def _rect(y0, x0, size=10):
    m = np.zeros((H, W), np.uint8)
    m[y0:y0 + size, x0:x0 + size] = 1
    return m


A, B, C = _rect(2, 2), _rect(2, 20), _rect(25, 2)
BACKGROUND = _rect(25, 25)  # overlaps no ground truth


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle['counts'] = rle['counts'].decode()
    return rle


def _coco_gt(objs):
    """objs: list of (mask, fields), fields e.g. dict(huddled=True)."""
    coco = COCO()
    coco.dataset = dict(
        images=[dict(id=1, height=H, width=W, file_name='1.png')],
        categories=[dict(id=1, name='a')],
        annotations=[
            dict(
                dict(
                    id=i + 1,
                    image_id=1,
                    category_id=1,
                    segmentation=_rle(m),
                    area=float(m.sum()),
                    bbox=list(mask_utils.toBbox(_rle(m))),
                    iscrowd=0), **fields) for i, (m, fields) in enumerate(objs)
        ])
    coco.createIndex()
    return coco


def _stats(coco_gt, dets, evaluator_cls=SubsetCOCOeval, **kwargs):
    """dets: list of (mask, score); returns (evaluator, AP, AP50, AP75)."""
    coco_dt = coco_gt.loadRes([
        dict(image_id=1, category_id=1, segmentation=_rle(m), score=s)
        for m, s in dets
    ])
    coco_eval = evaluator_cls(coco_gt, coco_dt, 'segm', **kwargs)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return (coco_eval, *coco_eval.stats[:3])


def test_detection_on_non_huddled_gt_is_not_a_false_positive():
    # A huddled, C not. The highest-scored detection is on C: ignored, so
    # the ranking is just the TP on A -> AP 1. Were it a false positive, the
    # ranking FP, TP would give precision 1/2 at every recall: AP 0.5.
    gt = _coco_gt([(A, dict(huddled=True)), (C, dict(huddled=False))])
    coco_eval, ap, ap50, ap75 = _stats(gt, [(C, .9), (A, .8)])
    assert (ap, ap50, ap75) == pytest.approx((1., 1., 1.))
    # COCO's own record: the detection on C is ignored at every threshold.
    img = next(e for e in coco_eval.evalImgs
               if e is not None and e['aRng'] == [0, 1e10])
    assert img['dtIgnore'][:, 0].all() and not img['dtIgnore'][:, 1].any()


def test_duplicate_on_non_huddled_gt_is_a_false_positive():
    # Ignored like an out-of-range gt, not like a crowd: it absorbs one
    # detection only. Detections C (.9, ignored), C again (.85, a duplicate:
    # FP), A (.8, TP): ranking FP, TP -> AP 0.5. (Turning C into a crowd
    # region would ignore both: AP 1.)
    gt = _coco_gt([(A, dict(huddled=True)), (C, dict(huddled=False))])
    _, ap, _, _ = _stats(gt, [(C, .9), (C, .85), (A, .8)])
    assert ap == pytest.approx(0.5)


def test_miss_on_huddled_gt_lowers_recall():
    # A, B huddled, C not; detections on A and C. Subset positives: A, B.
    # Ranking: TP (A); C's detection ignored. Recall 1/2 at precision 1:
    # 51 of the 101 recall thresholds (0..0.50) -> AP = 51/101; AR = 1/2.
    gt = _coco_gt([(A, dict(huddled=True)), (B, dict(huddled=True)),
                   (C, dict(huddled=False))])
    coco_eval, ap, ap50, ap75 = _stats(gt, [(A, .9), (C, .8)])
    assert ap == ap50 == ap75 == pytest.approx(51 / 101)
    assert coco_eval.stats[8] == pytest.approx(0.5)  # AR@100
    # Missing the non-huddled C instead costs nothing.
    gt = _coco_gt([(A, dict(huddled=True)), (B, dict(huddled=True)),
                   (C, dict(huddled=False))])
    _, ap, _, _ = _stats(gt, [(A, .9), (B, .8)])
    assert ap == pytest.approx(1.)


def test_unmatched_detection_is_a_false_positive():
    # A huddled; a background detection above the TP on A: ranking FP, TP,
    # precision 0 then 1/2 at recall 0 then 1 -> interpolated 1/2 at every
    # recall threshold: AP = 0.5.
    gt = _coco_gt([(A, dict(huddled=True)), (C, dict(huddled=False))])
    _, ap, ap50, ap75 = _stats(gt, [(BACKGROUND, .9), (A, .8)])
    assert ap == ap50 == ap75 == pytest.approx(0.5)


def test_crowd_stays_ignored():
    # A huddled crowd region, B huddled, one detection on A. The crowd is
    # not a positive (iscrowd is kept), so the only positive B is missed:
    # AP 0. (Counting A as a positive would give 51/101.)
    gt = _coco_gt([(A, dict(huddled=True, iscrowd=1)),
                   (B, dict(huddled=True))])
    _, ap, _, _ = _stats(gt, [(A, .9)])
    assert ap == 0.


def test_ground_truth_is_not_modified():
    # The subset is applied to copies: cocoGt keeps iscrowd and gets no
    # ignore flag for its non-huddled annotation, so a plain COCO evaluation
    # on the same object afterwards still counts C (some COCO API forks keep
    # a stored 'ignore' in _prepare). Detection on C only: the subset AP is
    # 0 (A missed, C ignored); plain AP has recall 1/2 at precision 1 ->
    # 51/101 (it would be 0 if C were left ignored).
    gt = _coco_gt([(A, dict(huddled=True)), (C, dict(huddled=False))])
    _, ap, _, _ = _stats(gt, [(C, .9)])
    assert ap == 0.
    ann_c = gt.anns[2]
    assert ann_c['iscrowd'] == 0 and not ann_c.get('ignore', 0)
    assert '_ignore' not in ann_c
    _, plain_ap, _, _ = _stats(gt, [(C, .9)], evaluator_cls=COCOeval)
    assert plain_ap == pytest.approx(51 / 101)


def test_other_subset_key_and_missing_field():
    gt = _coco_gt([(A, dict(big=False)), (C, dict(big=True))])
    _, ap, _, _ = _stats(gt, [(C, .9)], subset_key='big')
    assert ap == pytest.approx(1.)
    gt = _coco_gt([(A, dict(huddled=True)), (C, dict())])
    with pytest.raises(ValueError, match=r"'huddled'.*\[2\]"):
        _stats(gt, [(C, .9)])
