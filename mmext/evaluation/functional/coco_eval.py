"""COCO evaluators for the claims of the papers: Boundary AP and AP on a
subset of the ground truth (e.g. huddled instances).

Both subclass pycocotools' ``COCOeval`` (through mmdet's wrapper) and change
one step only, so COCO's matching, area ranges, max detections and
101-point interpolated AP are kept as they are:

* :class:`BoundaryCOCOeval` replaces the IoU of every (detection, ground
  truth) pair by ``min(mask IoU, Boundary IoU)`` (Boundary AP, Cheng et al.
  2021, Sec. 6).
* :class:`SubsetCOCOeval` ignores the ground truths outside a subset, the
  way COCO ignores those outside an area range.
"""
from typing import Dict, List, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from mmdet.datasets.api_wrappers import COCOeval

from .boundary_iou import boundary_dilation, mask_to_boundary


class BoundaryCOCOeval(COCOeval):
    """COCO mask evaluation with Boundary AP's IoU.

    Each pair's IoU is ``min(mask IoU, Boundary IoU)``, the Boundary IoU
    taken between the inner boundary bands of the two masks
    (:func:`~mmext.evaluation.functional.mask_to_boundary`) with
    ``d = max(1, round(dilation_ratio * image diagonal))``; everything else
    is COCO's ``segm`` evaluation. Pairs with a crowd ground truth keep their
    mask IoU (COCO's intersection over detection area): a crowd region has
    no instance boundary to compare, and the reference implementation does
    the same.

    Boundary bands are computed once per annotation and cached.

    Args:
        cocoGt (COCO): Ground truth.
        cocoDt (COCO): Detections (``cocoGt.loadRes(...)``) with masks.
        iouType (str): Must be ``'segm'``.
        dilation_ratio (float): Band width as a fraction of the image
            diagonal. Defaults to 0.02.
    """

    def __init__(self,
                 cocoGt=None,
                 cocoDt=None,
                 iouType: str = 'segm',
                 dilation_ratio: float = 0.02) -> None:
        if iouType != 'segm':
            raise ValueError('Boundary AP compares masks: iouType must be '
                             f"'segm', got {iouType!r}")
        if dilation_ratio <= 0:
            raise ValueError(
                f'dilation_ratio must be > 0, got {dilation_ratio}')
        super().__init__(cocoGt, cocoDt, iouType)
        self.dilation_ratio = dilation_ratio
        # ground-truth and detection ids are separate id spaces
        self._gt_bands: Dict[int, dict] = {}
        self._dt_bands: Dict[int, dict] = {}

    def _band_rle(self, ann: dict, cache: Dict[int, dict]) -> dict:
        """RLE of the boundary band of an annotation whose ``segmentation``
        is already an RLE (``_prepare`` converts it)."""
        band = cache.get(ann['id'])
        if band is None:
            rle = ann['segmentation']
            height, width = rle['size']
            band = mask_to_boundary(
                mask_utils.decode(rle),
                boundary_dilation(height, width, self.dilation_ratio))
            band = mask_utils.encode(np.asfortranarray(band))
            cache[ann['id']] = band
        return band

    def _instances(self, imgId: int,
                   catId: int) -> Tuple[List[dict], List[dict]]:
        """Ground truths and detections in the order of COCO's IoU matrix:
        this mirrors ``COCOeval.computeIoU`` (detections by descending score,
        stable, cut at the largest ``maxDets``)."""
        p = self.params
        if p.useCats:
            gts = self._gts[imgId, catId]
            dts = self._dts[imgId, catId]
        else:
            gts = [g for c in p.catIds for g in self._gts[imgId, c]]
            dts = [d for c in p.catIds for d in self._dts[imgId, c]]
        order = np.argsort([-d['score'] for d in dts], kind='mergesort')
        dts = [dts[i] for i in order][:p.maxDets[-1]]
        return gts, dts

    def computeIoU(self, imgId: int, catId: int):
        """(D, G) ``min(mask IoU, Boundary IoU)`` of one image and class."""
        mask_ious = super().computeIoU(imgId, catId)
        gts, dts = self._instances(imgId, catId)
        if len(gts) == 0 or len(dts) == 0:
            return mask_ious  # COCO's empty value ([]) as it is
        dt_bands = [self._band_rle(d, self._dt_bands) for d in dts]
        gt_bands = [self._band_rle(g, self._gt_bands) for g in gts]
        boundary_ious = np.asarray(
            mask_utils.iou(dt_bands, gt_bands, [0] * len(gt_bands)))
        ious = np.array(mask_ious, dtype=np.float64, copy=True)
        plain = ~np.array([bool(g['iscrowd']) for g in gts])
        ious[:, plain] = np.minimum(ious[:, plain], boundary_ious[:, plain])
        return ious


class SubsetCOCOeval(COCOeval):
    """COCO evaluation restricted to the ground truths of a subset.

    A ground truth is in the subset when its annotation's ``subset_key``
    field is true (e.g. ``"huddled": true``, written by the toy generator).
    The others are *ignored*, exactly like COCO's ground truths outside an
    area range: they count neither as positives nor as misses, and a
    detection matched to one is neither a true nor a false positive
    (COCO prefers a match to a subset ground truth when both qualify).
    Detections matched to nothing stay false positives. Crowd annotations
    stay ignored as in COCO.

    ``COCOeval._prepare`` sets ``ignore`` from ``iscrowd``, so the subset
    is applied after it, on copies of the annotation dicts: ``iscrowd`` and
    the shared ``cocoGt`` are not modified, and later evaluations on it
    (e.g. the next epoch's) are not affected.

    Args:
        cocoGt (COCO): Ground truth; every annotation needs ``subset_key``.
        cocoDt (COCO): Detections.
        iouType (str): ``'segm'`` or ``'bbox'``. Defaults to ``'segm'``.
        subset_key (str): Boolean annotation field that selects the subset.
            Defaults to ``'huddled'``.
    """

    def __init__(self,
                 cocoGt=None,
                 cocoDt=None,
                 iouType: str = 'segm',
                 subset_key: str = 'huddled') -> None:
        super().__init__(cocoGt, cocoDt, iouType)
        self.subset_key = subset_key

    def _prepare(self) -> None:
        super()._prepare()
        key = self.subset_key
        missing: List[int] = []
        for img_cat, gts in self._gts.items():
            kept = []
            for gt in gts:
                if key not in gt:
                    missing.append(gt['id'])
                    continue
                # a copy: ``gt`` is cocoGt's own annotation dict, shared
                # with every later evaluation of it (some COCO API forks
                # even read a stored 'ignore' back in _prepare)
                kept.append(dict(gt, ignore=int(gt['ignore'] or not gt[key])))
            self._gts[img_cat] = kept
        if missing:
            raise ValueError(
                f'{len(missing)} ground-truth annotation(s) have no '
                f'{key!r} field (ids {missing[:10]}); the subset is '
                'undefined for them')
