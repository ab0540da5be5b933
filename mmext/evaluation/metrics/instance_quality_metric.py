"""COCO metric that also scores what the papers claim: Boundary AP and mask
AP on huddled instances."""
import os.path as osp
import tempfile
import warnings
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Union

from mmengine.fileio import load
from mmengine.logging import MMLogger

from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from ..functional import BoundaryCOCOeval, SubsetCOCOeval


@METRICS.register_module()
class InstanceQualityMetric(CocoMetric):
    """mmdet's ``CocoMetric`` plus Boundary AP and mask AP on a subset.

    Beside ``CocoMetric``'s bbox / segm results (same keys, same values) it
    reports, from the same mask predictions and with the same COCO
    parameters (``iou_thrs``, ``proposal_nums``, categories, images):

    * **Boundary AP** (Cheng et al., CVPR 2021): COCO mask AP whose
      (detection, ground truth) IoU is ``min(mask IoU, Boundary IoU)``, see
      :class:`~mmext.evaluation.functional.BoundaryCOCOeval`. It rewards
      mask quality at the contour (ATMask, MaskPlus), which mask AP barely
      sees on large objects. Keys ``boundary_mAP``, ``boundary_mAP_50``,
      ``boundary_mAP_75``.
    * **Subset mask AP**: COCO mask AP over the ground truths whose
      annotation field ``subset_key`` is true; the others are ignored like
      COCO ignores objects outside an area range (a detection on one is
      neither a true nor a false positive, a detection on nothing is a false
      positive), see :class:`~mmext.evaluation.functional.SubsetCOCOeval`.
      With the toy set's ``huddled`` flag this is MR R-CNN's claim (crowded
      instances). Keys ``<subset_key>_segm_mAP``, ``..._mAP_50``,
      ``..._mAP_75``. When no annotation of the ground truth has the field
      (e.g. a real COCO file, or ``ann_file=None``), the subset is skipped
      with one warning naming the file; when only some annotations have it,
      evaluation fails with a ``ValueError``.

    With the default prefix the keys are ``coco/bbox_mAP``, ...,
    ``coco/segm_mAP``, ..., ``coco/boundary_mAP``, ``coco/boundary_mAP_50``,
    ``coco/boundary_mAP_75``, ``coco/huddled_segm_mAP``,
    ``coco/huddled_segm_mAP_50``, ``coco/huddled_segm_mAP_75``; values are
    fractions rounded to 3 decimals, and -1 where COCO has no ground truth
    to score (e.g. no huddled instance at all), as in ``CocoMetric``.

    Both extras score masks, so they need ``'segm'`` in ``metric``; set
    ``boundary=False`` and ``subset_key=None`` for a box-only evaluation.

    Example:
        >>> val_evaluator = dict(
        ...     type='InstanceQualityMetric',
        ...     ann_file='data/toy/annotations/instances_val.json',
        ...     metric=['bbox', 'segm'],
        ...     boundary=True,
        ...     dilation_ratio=0.02,
        ...     subset_key='huddled')

    Args:
        ann_file (str, optional): COCO json of the ground truth. Defaults to
            None (converted from the dataset, as ``CocoMetric`` does; such
            ground truth has no subset field).
        metric (str | Sequence[str]): ``CocoMetric``'s metrics. Defaults to
            ``('bbox', 'segm')``.
        boundary (bool): Report Boundary AP. Defaults to True.
        dilation_ratio (float): Boundary band width as a fraction of the
            image diagonal. Defaults to 0.02 (the paper's).
        subset_key (str, optional): Boolean annotation field selecting the
            subset for subset mask AP; None disables it. Defaults to
            ``'huddled'``.
        **kwargs: The other arguments of ``CocoMetric`` (``classwise``,
            ``proposal_nums``, ``iou_thrs``, ``metric_items``,
            ``format_only``, ``outfile_prefix``, ``backend_args``,
            ``collect_device``, ``prefix``, ...).
    """

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, Sequence[str]] = ('bbox', 'segm'),
                 boundary: bool = True,
                 dilation_ratio: float = 0.02,
                 subset_key: Optional[str] = 'huddled',
                 **kwargs) -> None:
        # CocoMetric wraps anything but a list (a tuple too) into a list
        metric = [metric] if isinstance(metric, str) else list(metric)
        super().__init__(ann_file=ann_file, metric=metric, **kwargs)
        if (boundary or subset_key) and 'segm' not in self.metrics:
            raise ValueError(
                'InstanceQualityMetric: boundary AP and subset mask AP score '
                f"masks, so 'segm' must be in metric (got {self.metrics}); "
                'set boundary=False and subset_key=None to evaluate boxes '
                'only')
        if dilation_ratio <= 0:
            raise ValueError(
                f'dilation_ratio must be > 0, got {dilation_ratio}')
        self.ann_file = ann_file
        self.boundary = boundary
        self.dilation_ratio = dilation_ratio
        self.subset_key = subset_key or None
        self._subset_warned = False

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """CocoMetric's results, then Boundary AP and subset mask AP.

        Args:
            results (list): ``(gt, prediction)`` pairs of :meth:`process`.

        Returns:
            Dict[str, float]: Metric name (without prefix) to value.
        """
        eval_results = super().compute_metrics(results)
        if self.format_only or not (self.boundary or self.subset_key):
            return eval_results
        coco_dt = self._load_mask_predictions(results)
        if coco_dt is None:
            return eval_results
        if self.boundary:
            eval_results.update(
                self._evaluate(
                    BoundaryCOCOeval(
                        self._coco_api,
                        coco_dt,
                        'segm',
                        dilation_ratio=self.dilation_ratio), 'boundary'))
        if self.subset_key is not None and self._has_subset_field():
            eval_results.update(
                self._evaluate(
                    SubsetCOCOeval(
                        self._coco_api,
                        coco_dt,
                        'segm',
                        subset_key=self.subset_key),
                    f'{self.subset_key}_segm'))
        return eval_results

    def _load_mask_predictions(self, results: list):
        """The mask predictions as a COCO results object, encoded by
        ``CocoMetric.results2json``; None when there are none."""
        _, preds = zip(*results)
        with tempfile.TemporaryDirectory() as tmp_dir:
            result_files = self.results2json(preds,
                                             osp.join(tmp_dir, 'results'))
            predictions = load(result_files['segm'])
        if not predictions:
            # CocoMetric has already logged that the results are empty
            return None
        # As CocoMetric does: without 'bbox', loadRes takes each
        # detection's area from its mask (COCO's area ranges).
        for pred in predictions:
            pred.pop('bbox', None)
        return self._coco_api.loadRes(predictions)

    def _has_subset_field(self) -> bool:
        """Whether the ground truth defines the subset (warns once if not,
        raises if only some annotations do)."""
        key = self.subset_key
        source = self.ann_file or ('the ground truth converted from the '
                                   'dataset (ann_file=None)')
        anns = self._coco_api.dataset.get('annotations', [])
        num_with = sum(key in ann for ann in anns)
        if num_with == 0:
            if not self._subset_warned:
                warnings.warn(
                    f'{source} has no {key!r} field in its annotations: '
                    f'{key}_segm_mAP is not reported')
                self._subset_warned = True
            return False
        if num_with < len(anns):
            missing = [ann['id'] for ann in anns if key not in ann]
            raise ValueError(
                f'{len(missing)} of {len(anns)} annotations of {source} '
                f'have no {key!r} field (ids {missing[:10]}): the subset is '
                'undefined for them')
        return True

    def _evaluate(self, coco_eval, name: str) -> Dict[str, float]:
        """Run a COCO evaluator with CocoMetric's parameters; AP, AP50 and
        AP75 as ``<name>_mAP``, ``<name>_mAP_50``, ``<name>_mAP_75``."""
        logger: MMLogger = MMLogger.get_current_instance()
        logger.info(f'Evaluating {name}...')
        params = coco_eval.params
        params.catIds = self.cat_ids
        params.imgIds = self.img_ids
        params.maxDets = list(self.proposal_nums)
        params.iouThrs = self.iou_thrs
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
        stats = coco_eval.stats
        out = OrderedDict()
        for item, idx in (('mAP', 0), ('mAP_50', 1), ('mAP_75', 2)):
            # CocoMetric's rounding, so that all keys read alike
            out[f'{name}_{item}'] = float(f'{round(stats[idx], 3)}')
        logger.info(f'{name}_mAP_copypaste: {stats[0]:.3f} {stats[1]:.3f} '
                    f'{stats[2]:.3f} {stats[3]:.3f} {stats[4]:.3f} '
                    f'{stats[5]:.3f}')
        return out
