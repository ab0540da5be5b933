"""InstanceQualityMetric end to end (process + evaluate) on a tiny COCO json.

One 40x40 image (band width d = max(1, round(0.02 * 56.6)) = 1), one
category, three 10x10 squares (100 px: COCO-small):
A (huddled), B (huddled), C (not huddled). Predictions, by score:

* 0.95: exactly C;
* 0.90: exactly A;
* 0.80: B shifted right by one column: mask IoU = box IoU = 90/110 = 0.818,
  Boundary IoU = 1/3 (rings of 36 px sharing the top and bottom rows but
  for one pixel each: 18 / (36 + 36 - 18)).

COCO AP = mean over the IoU thresholds .50:.05:.95 of the mean
interpolated precision at the recall thresholds 0, .01, ..., 1:

* bbox / segm: at t <= .80 (7 thresholds) all three are TPs, AP 1; at
  t >= .85 (3 thresholds) the ranking TP, TP, FP reaches recall 2/3 at
  precision 1: 67 of 101 recall thresholds -> 67/101. mAP =
  (7 + 3 * 67/101) / 10 = 0.899; AP50 = AP75 = 1.
* boundary: min(0.818, 1/3) = 1/3 < .5, so the B detection is a FP at
  every threshold: AP = 67/101 = 0.663 at all of them.
* huddled segm: C is ignored, its detection neither TP nor FP; at t <= .80
  A and B are TPs (AP 1), at t >= .85 the ranking TP, FP reaches recall 1/2
  at precision 1: 51/101. mAP = (7 + 3 * 51/101) / 10 = 0.851; AP50 = AP75
  = 1. (Counting the C detection as a FP would give 2/3 at t <= .80.)
"""
import json
import warnings

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from mmext.evaluation import InstanceQualityMetric

H = W = 40


def _rect(y0, x0, size=10):
    m = np.zeros((H, W), np.uint8)
    m[y0:y0 + size, x0:x0 + size] = 1
    return m


A, B, C = _rect(2, 2), _rect(2, 20), _rect(25, 2)
B_SHIFTED = _rect(2, 21)

COCO_KEYS = [
    f'coco/{m}_{k}' for m in ('bbox', 'segm')
    for k in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
]
EXTRA_KEYS = [
    'coco/boundary_mAP', 'coco/boundary_mAP_50', 'coco/boundary_mAP_75',
    'coco/huddled_segm_mAP', 'coco/huddled_segm_mAP_50',
    'coco/huddled_segm_mAP_75'
]


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle['counts'] = rle['counts'].decode()
    return rle


def _write_gt(path, huddled=(True, True, False)):
    """huddled: flag per square, None to leave the field out."""
    anns = []
    for i, (mask, flag) in enumerate(zip((A, B, C), huddled)):
        ann = dict(
            id=i + 1,
            image_id=1,
            category_id=1,
            segmentation=_rle(mask),
            area=100.,
            bbox=[float(v) for v in mask_utils.toBbox(_rle(mask))],
            iscrowd=0)
        if flag is not None:
            ann['huddled'] = flag
        anns.append(ann)
    coco = dict(
        images=[dict(id=1, height=H, width=W, file_name='1.png')],
        categories=[dict(id=1, name='a')],
        annotations=anns)
    path.write_text(json.dumps(coco))
    return str(path)


def _data_sample():
    masks = [C, A, B_SHIFTED]
    boxes = []
    for m in masks:
        x, y, w, h = mask_utils.toBbox(_rle(m))
        boxes.append([x, y, x + w, y + h])
    return dict(
        img_id=1,
        ori_shape=(H, W),
        pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            scores=torch.tensor([.95, .9, .8]),
            labels=torch.zeros(3, dtype=torch.long),
            masks=torch.from_numpy(np.stack(masks).astype(bool))))


def _evaluate(metric):
    metric.dataset_meta = dict(classes=('a', ))
    metric.process({}, [_data_sample()])
    return metric.evaluate(size=1)


def test_keys_and_values(tmp_path):
    ann_file = _write_gt(tmp_path / 'gt.json')
    metric = METRICS.build(
        dict(type='InstanceQualityMetric', ann_file=ann_file))
    assert isinstance(metric, InstanceQualityMetric)
    res = _evaluate(metric)
    assert sorted(res) == sorted(COCO_KEYS + EXTRA_KEYS)
    for metric_name in ('bbox', 'segm'):
        assert res[f'coco/{metric_name}_mAP'] == 0.899  # (7 + 3*67/101)/10
        assert res[f'coco/{metric_name}_mAP_50'] == 1.
        assert res[f'coco/{metric_name}_mAP_75'] == 1.
        assert res[f'coco/{metric_name}_mAP_s'] == 0.899
        assert res[f'coco/{metric_name}_mAP_m'] == -1.  # no medium gt
    assert res['coco/boundary_mAP'] == 0.663  # 67/101
    assert res['coco/boundary_mAP_50'] == 0.663
    assert res['coco/boundary_mAP_75'] == 0.663
    assert res['coco/huddled_segm_mAP'] == 0.851  # (7 + 3*51/101)/10
    assert res['coco/huddled_segm_mAP_50'] == 1.
    assert res['coco/huddled_segm_mAP_75'] == 1.

    # The bbox / segm results are CocoMetric's own.
    coco = CocoMetric(ann_file=ann_file, metric=['bbox', 'segm'])
    assert _evaluate(coco) == {k: res[k] for k in COCO_KEYS}

    # A second evaluation with the same metric object (the next validation
    # epoch) gives the same numbers: the cached ground truth is unchanged.
    assert _evaluate(metric) == res


def test_switches(tmp_path):
    ann_file = _write_gt(tmp_path / 'gt.json')
    res = _evaluate(
        InstanceQualityMetric(
            ann_file=ann_file, boundary=False, subset_key=None))
    assert sorted(res) == sorted(COCO_KEYS)
    # dilation_ratio 0.1: d = round(5.66) = 6 > half the square, so every
    # band is the whole mask and Boundary IoU = mask IoU: boundary AP =
    # segm AP.
    res = _evaluate(
        InstanceQualityMetric(
            ann_file=ann_file, dilation_ratio=0.1, subset_key=None))
    assert res['coco/boundary_mAP'] == res['coco/segm_mAP'] == 0.899
    assert 'coco/huddled_segm_mAP' not in res
    # CocoMetric's iou_thrs apply: at t = .85 alone segm and boundary AP are
    # 67/101 = 0.663 and huddled segm AP is 51/101 = 0.505.
    res = _evaluate(
        InstanceQualityMetric(ann_file=ann_file, iou_thrs=np.array([.85])))
    assert res['coco/segm_mAP'] == res['coco/boundary_mAP'] == 0.663
    assert res['coco/huddled_segm_mAP'] == 0.505
    with pytest.raises(ValueError, match="'segm' must be in metric"):
        InstanceQualityMetric(ann_file=ann_file, metric='bbox')
    InstanceQualityMetric(
        ann_file=ann_file, metric='bbox', boundary=False, subset_key=None)
    with pytest.raises(ValueError, match='dilation_ratio'):
        InstanceQualityMetric(ann_file=ann_file, dilation_ratio=0)


def test_missing_subset_field_warns_once(tmp_path):
    ann_file = _write_gt(tmp_path / 'plain.json', huddled=(None, None, None))
    metric = InstanceQualityMetric(ann_file=ann_file)
    with pytest.warns(UserWarning, match='plain.json.*huddled'):
        res = _evaluate(metric)
    assert sorted(res) == sorted(COCO_KEYS + EXTRA_KEYS[:3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        _evaluate(metric)
    assert not [w for w in caught if 'huddled' in str(w.message)]


def test_partial_subset_field_is_an_error(tmp_path):
    ann_file = _write_gt(tmp_path / 'gt.json', huddled=(True, None, False))
    metric = InstanceQualityMetric(ann_file=ann_file)
    with pytest.raises(ValueError, match=r'1 of 3 .*gt.json.*\[2\]'):
        _evaluate(metric)
