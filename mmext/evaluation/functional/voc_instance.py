"""Mask IoU with void pixels, greedy matching and AP for mAP^r / ABO.

Helpers of :class:`mmext.evaluation.VOCInstanceMetric`; see its docstring
for the protocol.
"""
from typing import Optional, Sequence

import numpy as np
from mmdet.evaluation.functional import average_precision

#: Matching modes of :func:`match_detections`.
MATCHING_MODES = ('best_unmatched', 'best_any')


def mask_iou_matrix(pred_masks: np.ndarray,
                    gt_masks: np.ndarray,
                    void: Optional[np.ndarray] = None,
                    chunk: int = 64) -> np.ndarray:
    """IoU between every predicted and every ground-truth mask.

    Void pixels are removed from both masks before the IoU is taken, i.e.
    ``|P & G & ~V| / |(P | G) & ~V|``; an IoU whose union is empty is 0.

    Args:
        pred_masks (np.ndarray): Binary masks (P, H, W).
        gt_masks (np.ndarray): Binary masks (G, H, W).
        void (np.ndarray, optional): Binary (H, W) map of pixels to ignore.
        chunk (int): Predicted masks processed at once (bounds memory).

    Returns:
        np.ndarray: IoUs (P, G), float64.
    """
    pred_masks = np.asarray(pred_masks)
    gt_masks = np.asarray(gt_masks)
    if pred_masks.ndim != 3 or gt_masks.ndim != 3:
        raise ValueError('masks must be (N, H, W) arrays, got shapes '
                         f'{pred_masks.shape} and {gt_masks.shape}')
    if pred_masks.shape[1:] != gt_masks.shape[1:]:
        raise ValueError(f'predicted masks are {pred_masks.shape[1:]} but '
                         f'ground-truth masks are {gt_masks.shape[1:]}')
    num_pred, num_gt = pred_masks.shape[0], gt_masks.shape[0]
    ious = np.zeros((num_pred, num_gt), dtype=np.float64)
    if num_pred == 0 or num_gt == 0:
        return ious
    keep = slice(None)
    if void is not None:
        void = np.asarray(void, dtype=bool)
        if void.shape != gt_masks.shape[1:]:
            raise ValueError(f'void map is {void.shape} but masks are '
                             f'{gt_masks.shape[1:]}')
        keep = ~void.reshape(-1)
    gt = gt_masks.reshape(num_gt, -1)[:, keep].astype(bool)
    # Exact pixel counts: float32 sums are exact below 2**24 pixels.
    dtype = np.float32 if gt.shape[1] < 2**24 else np.float64
    gt_f = gt.astype(dtype)
    gt_area = gt_f.sum(axis=1)
    for start in range(0, num_pred, chunk):
        pred = pred_masks[start:start + chunk].reshape(
            -1, pred_masks.shape[1] * pred_masks.shape[2])[:, keep]
        pred_f = pred.astype(bool).astype(dtype)
        inter = (pred_f @ gt_f.T).astype(np.float64)
        union = pred_f.sum(
            axis=1, dtype=np.float64)[:, None] + gt_area[None, :] - inter
        with np.errstate(divide='ignore', invalid='ignore'):
            ious[start:start + chunk] = np.where(union > 0, inter / union, 0.)
    return ious


def match_detections(ious: np.ndarray,
                     scores: np.ndarray,
                     iou_thr: float,
                     gt_ignore: Optional[np.ndarray] = None,
                     mode: str = 'best_unmatched',
                     strict: bool = False) -> np.ndarray:
    """Greedy matching of one image's detections of one class.

    Detections are visited by descending score (stable for ties); each
    ground truth is matched at most once, and a match needs
    ``IoU >= iou_thr`` (``IoU > iou_thr`` with ``strict=True``, as in the
    SDS evaluation code of Hariharan et al.).

    * ``'best_unmatched'`` (SDS / PRM evaluation code): a detection takes the
      not yet matched, not ignored ground truth of highest IoU; if that fails
      but it overlaps an ignored ground truth by ``>= iou_thr`` it is
      ignored, else it is a false positive.
    * ``'best_any'`` (VOC devkit): a detection looks at the ground truth of
      highest IoU among all; ignored -> detection ignored, already matched
      -> false positive (duplicate), else true positive.

    Args:
        ious (np.ndarray): (P, G) IoUs.
        scores (np.ndarray): (P,) detection scores.
        iou_thr (float): IoU threshold.
        gt_ignore (np.ndarray, optional): (G,) bool, ground truths that
            neither count as positives nor make false positives
            (crowd / difficult).
        mode (str): ``'best_unmatched'`` or ``'best_any'``.
        strict (bool): Match at ``IoU > iou_thr`` instead of ``>=``.

    Returns:
        np.ndarray: (P,) int8 in input order: 1 true positive, 0 false
        positive, -1 ignored.
    """
    if mode not in MATCHING_MODES:
        raise ValueError(f'mode must be one of {MATCHING_MODES}, got {mode!r}')
    ious = np.asarray(ious, dtype=np.float64)
    num_pred, num_gt = ious.shape
    labels = np.zeros(num_pred, dtype=np.int8)
    if num_gt == 0:
        return labels
    if gt_ignore is None:
        gt_ignore = np.zeros(num_gt, dtype=bool)
    gt_ignore = np.asarray(gt_ignore, dtype=bool)
    matched = np.zeros(num_gt, dtype=bool)

    def passes(iou: float) -> bool:
        return iou > iou_thr if strict else iou >= iou_thr

    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    for p in order:
        row = ious[p]
        if mode == 'best_any':
            g = int(np.argmax(row))
            if passes(row[g]):
                if gt_ignore[g]:
                    labels[p] = -1
                elif not matched[g]:
                    matched[g] = True
                    labels[p] = 1
            continue
        candidates = np.where(~matched & ~gt_ignore, row, -1.)
        g = int(np.argmax(candidates))
        if passes(candidates[g]):
            matched[g] = True
            labels[p] = 1
        elif gt_ignore.any() and passes(row[gt_ignore].max()):
            labels[p] = -1
    return labels


def ap_from_matches(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                    num_gt: int) -> float:
    """All-point interpolated AP (VOC 2010+) from per-image match labels.

    Args:
        scores (Sequence[np.ndarray]): Detection scores, one array per image.
        labels (Sequence[np.ndarray]): Matching labels of
            :func:`match_detections`, same layout.
        num_gt (int): Number of (not ignored) ground truths.

    Returns:
        float: AP in [0, 1]; NaN when ``num_gt`` is 0.
    """
    if num_gt == 0:
        return float('nan')
    scores = np.concatenate(
        [np.asarray(s, np.float64).reshape(-1)
         for s in scores]) if len(scores) else np.zeros(0)
    labels = np.concatenate(
        [np.asarray(lb, np.int8).reshape(-1)
         for lb in labels]) if len(labels) else np.zeros(0, np.int8)
    kept = labels >= 0
    scores, labels = scores[kept], labels[kept]
    if scores.size == 0:
        return 0.
    order = np.argsort(-scores, kind='stable')
    tp = np.cumsum(labels[order] == 1).astype(np.float64)
    fp = np.cumsum(labels[order] == 0).astype(np.float64)
    recalls = tp / num_gt
    precisions = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return float(average_precision(recalls, precisions, mode='area'))
