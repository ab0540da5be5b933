"""PASCAL VOC instance segmentation metric: mAP^r and ABO.

The evaluation of the weakly supervised hybrid networks paper (Liao et al.,
Table 1) and of the box-supervised work it compares with (Khoreva et al.
2017, Zhou et al. 2018): region mAP at mask IoU 0.5 and 0.75 (SDS,
Hariharan et al. 2014) and the Average Best Overlap (Pont-Tuset and Van
Gool 2015) on PASCAL VOC 2012 val.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger
from pycocotools.coco import COCO

from mmdet.registry import METRICS
from mmdet.structures.mask import encode_mask_results
from ..functional import ap_from_matches, mask_iou_matrix, match_detections


@METRICS.register_module()
class VOCInstanceMetric(BaseMetric):
    """mAP^r at several mask IoUs and ABO, with VOC void pixels ignored.

    Protocol. The paper names the metrics only. The public evaluation code
    of the mAP^r lineage it compares with was checked (the box-supervised
    rows it reports, DeepMask/DeepLabBOX of Khoreva et al. 2017, cite SDS
    for mAP^r; neither they nor PRM published evaluation code):

    ====================  ===========  ==============  ====================
    code                  void pixels  match           assignment
    ====================  ===========  ==============  ====================
    SDS (Hariharan 2014,  none on SBD  ``IoU > thr``   best still unmatched
    ``evaluation/                                      gt
    generalized_det_eval
    .m``)
    MNC ``voc_eval_sds``  none on SBD  ``IoU >= thr``  best gt (VOC devkit)
    chainercv/FCIS        not removed  ``IoU >= thr``  best gt (VOC devkit)
    (VOC 2012 val)        (in union)
    ====================  ===========  ==============  ====================

    None removes VOC's void (255) pixels from the IoU, so the
    paper-comparable protocol is ``use_void=False, strict_thr=True,
    matching='best_unmatched'`` (SDS, which defines mAP^r); the paper
    configs (``configs/weakly/*_voc-sbd.py``) use it. The class defaults
    (void removed, ``IoU >= thr``) are the other protocol, kinder to thin
    structures whose boundary falls in the void band; on the toy set, which
    has no void, the two differ only at ``IoU == thr`` exactly.

    * **IoU**: mask IoU at the original image size; with ``use_void=True``
      after removing the image's void pixels from both masks (``void_rle``
      of the image entry, written by
      ``tools/dataset_converters/voc_sbd_to_coco.py``; images without it
      have no void).
    * **mAP^r**: per class, detections of all images are ranked by score;
      each is matched greedily (descending score) to a ground truth of its
      class with ``IoU >= thr`` (``IoU > thr`` with ``strict_thr=True``),
      each ground truth at most once
      (``matching='best_unmatched'``: the best still unmatched one, as in
      the SDS/PRM code; ``'best_any'``: VOC devkit's rule, where a
      detection whose best ground truth is already taken is a duplicate).
      AP is the all-point interpolated area under the precision/recall
      curve (VOC 2010+); mAP^r averages it over the classes that have
      ground truth. Crowd annotations (``iscrowd=1``) are ignored: they are
      not positives, and a detection matching one is neither true nor false.
    * **ABO**: for every (non-crowd) ground-truth instance, the best IoU
      with any predicted mask of the image, averaged over all instances of
      all evaluated images (instances with no prediction count 0). The best
      overlap is taken over predictions of any class (the proposal-quality
      reading of Pont-Tuset and Van Gool, and what the weakly supervised
      evaluation code does); ``abo_same_class=True`` restricts it to
      predictions of the instance's class. ABO uses all predictions,
      whatever their score.

    Ground truth comes from ``ann_file`` (COCO json; mmdet's ``PackDetInputs``
    does not keep masks for evaluation), like mmdet's ``CocoMetric``.
    Predicted labels index ``dataset_meta['classes']``, which are mapped to
    the json's categories by name; without ``dataset_meta`` label ``i`` is
    the ``i``-th category in id order.

    Results (fractions in [0, 1]): ``mAPr_50``, ``mAPr_75`` (one key per
    ``iou_thrs`` entry, ``mAPr_<100*thr>``) and ``ABO``; with
    ``classwise=True`` also ``<class>_APr_<100*thr>``.

    Args:
        ann_file (str): COCO-format ground truth with masks.
        iou_thrs (Sequence[float]): Mask IoU thresholds. Defaults to
            (0.5, 0.75).
        matching (str): ``'best_unmatched'`` or ``'best_any'``, see above.
        abo_same_class (bool): Best overlap over same-class predictions only.
            Defaults to False.
        use_void (bool): Ignore void pixels. Defaults to True.
        strict_thr (bool): Match at ``IoU > thr`` (SDS code) instead of
            ``IoU >= thr``. Defaults to False.
        classwise (bool): Also report per-class AP. Defaults to False.
        backend_args (dict, optional): Arguments of the file backend.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'voc'`` (keys ``voc/mAPr_50``, which make_table.py reads).
    """
    default_prefix: Optional[str] = 'voc'

    def __init__(self,
                 ann_file: str,
                 iou_thrs: Sequence[float] = (0.5, 0.75),
                 matching: str = 'best_unmatched',
                 abo_same_class: bool = False,
                 use_void: bool = True,
                 strict_thr: bool = False,
                 classwise: bool = False,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if ann_file is None:
            raise ValueError('VOCInstanceMetric needs ann_file (COCO json '
                             'with the ground-truth masks)')
        if matching not in ('best_unmatched', 'best_any'):
            raise ValueError("matching must be 'best_unmatched' or "
                             f"'best_any', got {matching!r}")
        self.iou_thrs = [float(t) for t in np.atleast_1d(iou_thrs)]
        if not self.iou_thrs or not all(0 < t <= 1 for t in self.iou_thrs):
            raise ValueError(f'iou_thrs must be in (0, 1], got {iou_thrs}')
        self.matching = matching
        self.abo_same_class = abo_same_class
        self.use_void = use_void
        self.strict_thr = strict_thr
        self.classwise = classwise
        self.ann_file = ann_file
        with get_local_path(ann_file, backend_args=backend_args) as path:
            self._coco = COCO(path)

    # ------------------------------------------------------------ process

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store each image's predictions as RLE (ground truth is read from
        ``ann_file`` in :meth:`compute_metrics`)."""
        for data_sample in data_samples:
            pred = data_sample['pred_instances']
            if 'masks' not in pred:
                raise KeyError('VOCInstanceMetric needs pred_instances.masks '
                               f'(image id {data_sample["img_id"]})')
            masks = pred['masks']
            if isinstance(masks, torch.Tensor):
                masks = encode_mask_results(masks.detach().cpu().numpy())
            scores = pred.get('mask_scores', pred['scores'])
            self.results.append(
                dict(
                    img_id=data_sample['img_id'],
                    masks=list(masks),
                    scores=_to_numpy(scores).astype(np.float64),
                    labels=_to_numpy(pred['labels']).astype(np.int64)))

    # ------------------------------------------------------------ compute

    def _label_to_cat_id(self) -> List[int]:
        categories = self._coco.dataset.get('categories', [])
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None:
            return sorted(c['id'] for c in categories)
        by_name = {c['name']: c['id'] for c in categories}
        missing = [c for c in classes if c not in by_name]
        if missing:
            raise KeyError(f'classes {missing} of dataset_meta are not '
                           f'categories of {self.ann_file}')
        return [by_name[c] for c in classes]

    def _ground_truth(self, img_id):
        """(G, H, W) masks, (G,) category ids, (G,) ignore flags, void."""
        if img_id not in self._coco.imgs:
            raise KeyError(f'image id {img_id} is not in {self.ann_file}')
        img = self._coco.imgs[img_id]
        height, width = img['height'], img['width']
        anns = self._coco.imgToAnns.get(img_id, [])
        masks = np.zeros((len(anns), height, width), dtype=np.uint8)
        for i, ann in enumerate(anns):
            masks[i] = self._coco.annToMask(ann)
        cat_ids = np.array([a['category_id'] for a in anns], dtype=np.int64)
        ignore = np.array([bool(a.get('iscrowd', 0)) for a in anns],
                          dtype=bool)
        void = None
        if self.use_void and img.get('void_rle'):
            rle = dict(img['void_rle'])
            if isinstance(rle['counts'], list):
                rle = mask_utils.frPyObjects(rle, *rle['size'])
            void = mask_utils.decode(rle).astype(bool)
        return masks, cat_ids, ignore, void

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        label_to_cat = self._label_to_cat_id()
        num_classes = len(label_to_cat)
        # per threshold, per class: lists of per-image scores / labels
        det_scores = defaultdict(list)
        det_labels = defaultdict(list)
        num_gt = np.zeros(num_classes, dtype=np.int64)
        best_overlaps = []
        seen = set()
        for result in results:
            img_id = result['img_id']
            if img_id in seen:  # e.g. padded duplicates in distributed eval
                continue
            seen.add(img_id)
            gt_masks, gt_cats, gt_ignore, void = self._ground_truth(img_id)
            height, width = gt_masks.shape[1:]
            labels = result['labels']
            if labels.size and (labels.min() < 0
                                or labels.max() >= num_classes):
                raise ValueError(f'image {img_id}: predicted labels must be '
                                 f'in [0, {num_classes}), got {labels}')
            pred_cats = np.array([label_to_cat[i] for i in labels],
                                 dtype=np.int64)
            pred_masks = np.zeros((len(result['masks']), height, width),
                                  dtype=np.uint8)
            for i, rle in enumerate(result['masks']):
                mask = mask_utils.decode(rle)
                if mask.shape != (height, width):
                    raise ValueError(
                        f'image {img_id}: predicted mask is {mask.shape} '
                        f'but the image is {(height, width)} in '
                        f'{self.ann_file}')
                pred_masks[i] = mask
            ious = mask_iou_matrix(pred_masks, gt_masks, void)

            for g in np.flatnonzero(~gt_ignore):
                column = ious[:, g]
                if self.abo_same_class:
                    column = column[pred_cats == gt_cats[g]]
                best_overlaps.append(column.max() if column.size else 0.)

            for label, cat_id in enumerate(label_to_cat):
                p_idx = np.flatnonzero(pred_cats == cat_id)
                g_idx = np.flatnonzero(gt_cats == cat_id)
                num_gt[label] += int((~gt_ignore[g_idx]).sum())
                if p_idx.size == 0:
                    continue
                sub = ious[np.ix_(p_idx, g_idx)]
                for thr in self.iou_thrs:
                    det_scores[thr, label].append(result['scores'][p_idx])
                    det_labels[thr, label].append(
                        match_detections(
                            sub,
                            result['scores'][p_idx],
                            thr,
                            gt_ignore=gt_ignore[g_idx],
                            mode=self.matching,
                            strict=self.strict_thr))

        metrics = {}
        classes = (self.dataset_meta or {}).get('classes') or [
            self._coco.cats[c]['name'] for c in label_to_cat
        ]
        table = []
        for thr in self.iou_thrs:
            key = f'{int(round(thr * 100))}'
            aps = np.array([
                ap_from_matches(det_scores[thr, label], det_labels[thr, label],
                                int(num_gt[label]))
                for label in range(num_classes)
            ])
            has_gt = num_gt > 0
            metrics[f'mAPr_{key}'] = float(
                aps[has_gt].mean()) if has_gt.any() else 0.
            if self.classwise:
                for name, ap in zip(classes, aps):
                    if not np.isnan(ap):
                        metrics[f'{name}_APr_{key}'] = float(ap)
            table.append(aps)
        metrics['ABO'] = float(np.mean(best_overlaps)) if best_overlaps else 0.

        header = 'class'.ljust(14) + ' num_gt ' + ' '.join(
            f'APr@{t:.2f}' for t in self.iou_thrs)
        lines = [header]
        for label, name in enumerate(classes):
            aps = ' '.join(f'{100 * a[label]:8.2f}' for a in table)
            lines.append(f'{str(name)[:14].ljust(14)} {num_gt[label]:6d} '
                         f'{aps}')
        logger.info(
            'VOC instance segmentation (%d images):\n%s\n%s', len(seen),
            '\n'.join(lines), ', '.join(f'{k}: {v:.4f}'
                                        for k, v in metrics.items()
                                        if '_APr_' not in k))
        return metrics


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)
