"""The toy set is deterministic and has what the four papers care about."""
import hashlib
import json
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_util

from mmext.datasets.toy import (TOY_CLASSES, generate_toy_dataset,
                                toy_dataset_summary)


def _digest(root):
    h = hashlib.sha256()
    for split in ('train', 'val'):
        with open(osp.join(root, 'annotations', f'instances_{split}.json'),
                  'rb') as f:
            h.update(f.read())
        with open(osp.join(root, split, f'{split}_00001.png'), 'rb') as f:
            h.update(f.read())
    return h.hexdigest()


def test_deterministic(tmp_path):
    a = generate_toy_dataset(str(tmp_path / 'a'), 4, 2, seed=3)
    b = generate_toy_dataset(str(tmp_path / 'b'), 4, 2, seed=3)
    c = generate_toy_dataset(str(tmp_path / 'c'), 4, 2, seed=4)
    assert set(a) == set(b) == {'train', 'val'}
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
    assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')


def test_contents(tmp_path):
    ann_files = generate_toy_dataset(str(tmp_path), 40, 4, seed=0)
    with open(ann_files['train']) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == list(TOY_CLASSES)
    labels = {a['category_id'] for a in coco['annotations']}
    assert labels == {1, 2, 3, 4}

    stats = toy_dataset_summary(ann_files['train'])
    assert stats['images'] == 40
    assert stats['small'] > 0 and stats['medium'] > 0 and stats['large'] > 0

    by_image = {}
    for ann in coco['annotations']:
        mask = mask_util.decode(ann['segmentation'])
        # RLE, bbox and area agree
        assert mask.sum() == ann['area'] > 0
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann['bbox']
        assert (xs.min(), ys.min()) == (x, y)
        assert (xs.max() + 1, ys.max() + 1) == (x + w, y + h)
        by_image.setdefault(ann['image_id'], []).append(ann)

    # huddled instances: boxes of different instances overlap, masks do not
    huddled = 0
    for anns in by_image.values():
        for i in range(len(anns)):
            for j in range(i + 1, len(anns)):
                iou = mask_util.iou([anns[i]['bbox']], [anns[j]['bbox']],
                                    [0])[0, 0]
                if iou > 0.1:
                    huddled += 1
                    inter = mask_util.area(
                        mask_util.merge([
                            anns[i]['segmentation'], anns[j]['segmentation']
                        ],
                                        intersect=True))
                    assert inter == 0  # visible masks are disjoint
    assert huddled >= 10

    # rings have holes, which polygons could not express: RLE keeps them
    def has_hole(ann):
        mask = mask_util.decode(ann['segmentation'])
        _, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP,
                                        cv2.CHAIN_APPROX_SIMPLE)
        return hierarchy is not None and (hierarchy[0][:, 3] >= 0).any()

    assert any(has_hole(a) for a in coco['annotations']
               if a['category_id'] == 4)


def test_mark_huddled_by_box_iou():
    from mmext.datasets.toy import HUDDLED_BOX_IOU, mark_huddled
    assert HUDDLED_BOX_IOU == 0.3
    anns = [
        dict(bbox=[0, 0, 10, 10]),
        # overlaps the first by 5x10: IoU 50 / (100 + 100 - 50) = 1/3 > 0.3
        dict(bbox=[5, 0, 10, 10]),
        # x 9-19 against the second's 5-15: 6 wide, IoU 60 / 140 = 0.43
        dict(bbox=[9, 0, 10, 10]),
        # overlaps the third by 3x10: IoU 30 / 170 = 0.18 -> not huddled
        dict(bbox=[16, 0, 10, 10]),
        dict(bbox=[100, 100, 5, 5]),  # alone
    ]
    mark_huddled(anns)
    assert [a['huddled'] for a in anns] == [True, True, True, False, False]
    anns = [dict(bbox=[0, 0, 10, 10]), dict(bbox=[7, 0, 10, 10])]
    mark_huddled(anns)  # 30 / 170 = 0.18
    assert [a['huddled'] for a in anns] == [False, False]
    single = [dict(bbox=[0, 0, 4, 4])]
    mark_huddled(single)
    assert single[0]['huddled'] is False


def test_generated_huddled_flags_match_the_boxes(tmp_path):
    ann_files = generate_toy_dataset(str(tmp_path), 30, 2, seed=1)
    with open(ann_files['train']) as f:
        coco = json.load(f)
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    flagged = 0
    for anns in by_image.values():
        boxes = [a['bbox'] for a in anns]
        ious = mask_util.iou(boxes, boxes, [0] * len(boxes))
        for i, ann in enumerate(anns):
            others = [ious[i, j] for j in range(len(anns)) if j != i]
            assert ann['huddled'] == any(v > 0.3 for v in others)
            flagged += ann['huddled']
    assert 0 < flagged < len(coco['annotations'])
