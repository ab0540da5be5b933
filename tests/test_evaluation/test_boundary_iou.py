"""Boundary IoU and Boundary AP on hand-computed cases.

Unless a test says otherwise the image is 20x20, whose band width is
d = max(1, round(0.02 * sqrt(20^2 + 20^2))) = max(1, round(0.566)) = 1, and
the "square" covers rows 5..14 and columns 5..14 (10x10 = 100 px).
"""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO

from mmdet.datasets.api_wrappers import COCOeval
from mmext.evaluation.functional import (BoundaryCOCOeval, boundary_dilation,
                                         boundary_iou, mask_to_boundary)

H = W = 20


def _rect(y0, y1, x0, x1, h=H, w=W):
    """Rows y0..y1-1, columns x0..x1-1 set."""
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


SQUARE = _rect(5, 15, 5, 15)


def _ragged_square():
    """SQUARE with a comb along its top edge, same area (100 px).

    The top row (row 5) loses its 5 pixels at even columns 6, 8, 10, 12, 14
    and row 4 gains 5 pixels at the odd columns 5, 7, 9, 11, 13: two-pixel
    teeth at the odd columns.
    """
    m = SQUARE.copy()
    m[5, 6:15:2] = 0
    m[4, 5:15:2] = 1
    return m


# ---------------------------------------------------------------- d


@pytest.mark.parametrize(
    'h, w, ratio, d',
    [
        (20, 20, 0.02, 1),  # 0.02 * 28.28 = 0.57 -> 1
        (10, 10, 0.02, 1),  # 0.02 * 14.14 = 0.28 -> round 0, clamped to 1
        (100, 100, 0.02, 3),  # 0.02 * 141.42 = 2.83 -> 3
        (128, 128, 0.02, 4),  # the toy images: 0.02 * 181.02 = 3.62 -> 4
        (30, 40, 0.1, 5),  # 0.1 * 50 = 5 exactly
        (50, 50, 0.2, 14),  # 0.2 * 70.71 = 14.14 -> 14
    ])
def test_boundary_dilation(h, w, ratio, d):
    assert boundary_dilation(h, w, ratio) == d


def test_boundary_dilation_rejects_non_positive_ratio():
    with pytest.raises(ValueError):
        boundary_dilation(20, 20, 0.)


# ---------------------------------------------------------------- bands


def test_band_of_square_is_mask_minus_erosion():
    # d=1: a pixel is boundary when one of its 8 neighbours is background,
    # i.e. the outer ring of the square: 10x10 - 8x8 = 36 px.
    band = mask_to_boundary(SQUARE, 1)
    assert band.dtype == np.uint8 and band.shape == (H, W)
    np.testing.assert_array_equal(band, SQUARE - _rect(6, 14, 6, 14))
    assert band.sum() == 36


@pytest.mark.parametrize(
    'd, count',
    [
        (2, 100 - 6 * 6),  # two-pixel ring: 64
        (4, 100 - 2 * 2),  # only the central 2x2 survives erosion: 96
        (5, 100),  # 10 px wide: erosion by 5 leaves nothing, all boundary
        (7, 100),
    ])
def test_band_width(d, count):
    assert mask_to_boundary(SQUARE, d).sum() == count


def test_band_is_chessboard_distance():
    # 16x16 square (rows/cols 2..17) with a one-pixel hole at (10, 10), d=2.
    # Outer band: 16^2 - 12^2 = 112 px (rows/cols 2, 3, 16, 17).
    # Around the hole: every pixel within chessboard distance 2 of it, the
    # 5x5 block rows/cols 8..12 minus the hole = 24 px (a Euclidean disc of
    # radius 2 would give 12). The two are disjoint: 136 px.
    m = _rect(2, 18, 2, 18)
    m[10, 10] = 0
    band = mask_to_boundary(m, 2)
    assert band.sum() == 136
    np.testing.assert_array_equal(band[8:13, 8:13],
                                  1 - (np.arange(25) == 12).reshape(5, 5))


def test_holes_have_boundaries():
    # SQUARE with a 2x2 hole at rows/cols 9..10, d=1: outer ring 36 px plus
    # the ring around the hole (4x4 block rows/cols 8..11 minus the hole)
    # 12 px = 48.
    m = SQUARE.copy()
    m[9:11, 9:11] = 0
    assert mask_to_boundary(m, 1).sum() == 48


def test_image_border_is_a_contour():
    # Square on the left image border (rows 5..14, cols 0..9), d=1. With the
    # reference's one-pixel background frame the column on the border is
    # boundary too: 36 px, as for the interior square. (Eroding without the
    # frame would leave it out: 36 - 8 = 28 px.)
    m = _rect(5, 15, 0, 10)
    band = mask_to_boundary(m, 1)
    assert band.sum() == 36
    assert band[5:15, 0].all()
    # Small images: a full 3x3 image is all boundary but its centre (8 px);
    # a full 5x5 one has a 16 px ring at d=1 and 24 px at d=2.
    assert mask_to_boundary(np.ones((3, 3)), 1).sum() == 8
    assert mask_to_boundary(np.ones((5, 5)), 1).sum() == 16
    assert mask_to_boundary(np.ones((5, 5)), 2).sum() == 24
    # A full image is boundary up to d from each side: 20x20 at d=3 leaves
    # the central 14x14, so 400 - 196 = 204 px.
    assert mask_to_boundary(np.ones((H, W)), 3).sum() == 204


def test_thin_and_empty_masks():
    line = _rect(10, 11, 3, 17)  # 1 px wide: no pixel survives erosion
    np.testing.assert_array_equal(mask_to_boundary(line, 1), line)
    empty = np.zeros((H, W), np.uint8)
    assert mask_to_boundary(empty, 3).sum() == 0
    # bool and non-0/1 inputs are binarised
    np.testing.assert_array_equal(
        mask_to_boundary(SQUARE.astype(bool), 1), mask_to_boundary(SQUARE, 1))
    np.testing.assert_array_equal(
        mask_to_boundary(SQUARE * 255, 1), mask_to_boundary(SQUARE, 1))


def test_mask_to_boundary_rejects_bad_input():
    with pytest.raises(ValueError):
        mask_to_boundary(SQUARE, 0)
    with pytest.raises(ValueError):
        mask_to_boundary(SQUARE[None], 1)


# ---------------------------------------------------------------- IoU


def test_boundary_iou_identity():
    assert boundary_iou(SQUARE, SQUARE) == 1.


def test_boundary_iou_shifted_square():
    # SQUARE vs the same square one column to the right (cols 6..15), d=1.
    # Bands: rings of 36 px. Shared: rows 5 and 14 over cols 6..14 (9 + 9);
    # the side columns (5, 14 vs 6, 15) do not meet: 18 px.
    # Boundary IoU = 18 / (36 + 36 - 18) = 1/3; mask IoU = 90/110 = 0.82.
    shifted = _rect(5, 15, 6, 16)
    assert boundary_iou(SQUARE, shifted) == pytest.approx(1 / 3)
    assert boundary_iou(shifted, SQUARE) == pytest.approx(1 / 3)


def test_boundary_iou_ragged_boundary_same_area():
    # Same area, mask IoU 95/105 = 19/21 = 0.905; d=1.
    # Band of the ragged mask: rows 4-5 teeth (10 px), all of row 6 (each
    # pixel has a removed row-5 pixel among its upper neighbours, 10 px),
    # cols 5 and 14 of rows 7..13 (14 px), row 14 (10 px): 44 px.
    # Band of SQUARE: 36 px. Shared: the 5 teeth pixels of row 5, row 14
    # (10), cols 5 and 14 of rows 6..13 (16): 31 px.
    # Boundary IoU = 31 / (36 + 44 - 31) = 31/49 = 0.633.
    ragged = _ragged_square()
    assert ragged.sum() == SQUARE.sum()
    assert mask_to_boundary(ragged, 1).sum() == 44
    assert boundary_iou(SQUARE, ragged) == pytest.approx(31 / 49)


def test_boundary_iou_uses_the_image_diagonal():
    # 100x100 image: d = 3. SQUARE placed at rows/cols 45..54 vs the same
    # square shifted right by one column. Bands are 3-px rings of
    # 100 - 16 = 84 px; shared: rows 45..47 and 52..54 over cols 46..54
    # (6 * 9 = 54) plus, in rows 48..51, cols 45..47 and 52..54 of the first
    # band against cols 46..48 and 53..55 of the second: cols 46, 47, 53, 54
    # (4 * 4 = 16): 70 px. Boundary IoU = 70 / (84 + 84 - 70) = 70/98.
    a = _rect(45, 55, 45, 55, 100, 100)
    b = _rect(45, 55, 46, 56, 100, 100)
    assert boundary_iou(a, b) == pytest.approx(70 / 98)
    # With a ratio giving d=1 it is the 1/3 of the 20x20 case.
    assert boundary_iou(a, b, dilation_ratio=0.005) == pytest.approx(1 / 3)


def test_boundary_iou_empty_masks():
    empty = np.zeros((H, W), np.uint8)
    assert boundary_iou(empty, SQUARE) == 0.
    assert boundary_iou(SQUARE, empty) == 0.
    assert boundary_iou(empty, empty) == 0.  # pycocotools' convention
    with pytest.raises(ValueError):
        boundary_iou(SQUARE, SQUARE[:10])


# ---------------------------------------------------------------- AP


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def _coco_gt(masks, crowd=(), h=H, w=W):
    """One image (id 1), one category (id 1), one annotation per mask."""
    coco = COCO()
    coco.dataset = dict(
        images=[dict(id=1, height=h, width=w, file_name='1.png')],
        categories=[dict(id=1, name='a')],
        annotations=[
            dict(
                id=i + 1,
                image_id=1,
                category_id=1,
                segmentation=_rle(m),
                area=float(m.sum()),
                bbox=list(mask_utils.toBbox(_rle(m))),
                iscrowd=int(i in crowd)) for i, m in enumerate(masks)
        ])
    coco.createIndex()
    return coco


def _run(evaluator_cls, coco_gt, dets, **kwargs):
    """dets: list of (mask, score). Returns the evaluator after summarize."""
    coco_dt = coco_gt.loadRes([
        dict(image_id=1, category_id=1, segmentation=_rle(m), score=s)
        for m, s in dets
    ])
    coco_eval = evaluator_cls(coco_gt, coco_dt, 'segm', **kwargs)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval


def test_boundary_ap_equals_mask_ap_on_perfect_predictions():
    masks = [SQUARE, _rect(0, 4, 0, 20)]  # the second touches the border
    dets = [(masks[0], .9), (masks[1], .8)]
    mask_ap = _run(COCOeval, _coco_gt(masks), dets).stats
    boundary_ap = _run(BoundaryCOCOeval, _coco_gt(masks), dets).stats
    # (COCO's precision is tp / (tp + fp + eps): 1 - 1e-16, not 1.)
    assert mask_ap[0] == pytest.approx(1.)
    np.testing.assert_allclose(boundary_ap[:3], mask_ap[:3])


def test_boundary_ap_below_mask_ap_for_wrong_boundary():
    # One gt (SQUARE), one detection (the ragged square): a single TP or a
    # single FP per IoU threshold, so AP at a threshold is 1 or 0.
    # Mask IoU 19/21 = 0.905 >= t for t = .50 .. .90: mask AP = 9/10.
    # min(mask IoU, Boundary IoU 31/49 = 0.633) >= t for t = .50, .55, .60:
    # Boundary AP = 3/10. AP50 = 1 for both; AP75 = 1 (mask), 0 (boundary).
    dets = [(_ragged_square(), .9)]
    mask_ap = _run(COCOeval, _coco_gt([SQUARE]), dets).stats
    boundary_ap = _run(BoundaryCOCOeval, _coco_gt([SQUARE]), dets).stats
    assert mask_ap[0] == pytest.approx(0.9)
    assert boundary_ap[0] == pytest.approx(0.3)
    assert (mask_ap[1], boundary_ap[1]) == pytest.approx((1., 1.))
    assert (mask_ap[2], boundary_ap[2]) == pytest.approx((1., 0.))


def test_boundary_ap_ious_are_min_of_mask_and_boundary_iou():
    ring = SQUARE.copy()
    ring[9:11, 9:11] = 0
    gts = [SQUARE, _rect(0, 4, 0, 12), ring]
    dets = [
        _rect(5, 15, 6, 16),
        _ragged_square(),
        _rect(0, 5, 0, 11),
        SQUARE,
        np.zeros((H, W), np.uint8),
    ]
    scores = [.6, .9, .5, .8, .7]  # COCO's rows go by descending score
    coco_eval = _run(BoundaryCOCOeval, _coco_gt(gts), list(zip(dets, scores)))
    ious = coco_eval.ious[1, 1]  # (D, G)
    assert ious.shape == (5, 3)
    for row, i in enumerate(np.argsort(scores)[::-1]):
        for j, gt in enumerate(gts):
            inter = np.logical_and(dets[i], gt).sum()
            union = np.logical_or(dets[i], gt).sum()
            mask_iou = inter / union if union else 0.
            assert ious[row, j] == pytest.approx(
                min(mask_iou, boundary_iou(gt, dets[i]))), (i, j)


def test_boundary_ap_keeps_mask_iou_for_crowd():
    # A crowd gt covering the left half; a 6x6 detection inside it. COCO's
    # crowd IoU is intersection / detection area = 36/36 = 1; the boundary
    # bands barely meet, so taking the min would make it 0.
    crowd = _rect(0, 20, 0, 10)
    dt = _rect(2, 8, 2, 8)
    coco_eval = _run(BoundaryCOCOeval, _coco_gt([crowd], crowd=(0, )),
                     [(dt, .9)])
    assert coco_eval.ious[1, 1][0, 0] == pytest.approx(1.)


def test_boundary_coco_eval_validates_arguments():
    gt = _coco_gt([SQUARE])
    with pytest.raises(ValueError):
        BoundaryCOCOeval(gt, gt, 'bbox')
    with pytest.raises(ValueError):
        BoundaryCOCOeval(gt, gt, 'segm', dilation_ratio=0)
