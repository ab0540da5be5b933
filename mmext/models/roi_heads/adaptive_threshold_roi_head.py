"""RoI head of ATMask R-CNN: feeds the threshold branch its own RoI features.

The probability branch of ``AdaptiveThresholdMaskHead`` reads the usual mask
RoI features ``R_p`` (``mask_roi_extractor``, P2-P5 by FPN level mapping,
14x14). The threshold branch reads ``R_t`` from ``threshold_roi_extractor``,
a ``SingleRoIExtractor`` pooling at 2x resolution (28x28), with
``threshold_roi_source``:

* ``'P2'`` (the paper's RoI strategy): only the finest level ``x[0]`` is given
  to the extractor, so ``SingleRoIExtractor`` pools every RoI from P2 (its
  single-level path), whatever the RoI size;
* ``'all'``: the levels of the extractor's ``featmap_strides`` with FPN level
  mapping, like the probability branch (Table 4, "P2~P5").

When the threshold branch is narrower than the FPN, the mask head's 1x1
channel reduction is applied to those levels before pooling
(``AdaptiveThresholdMaskHead.reduce_threshold_features``).
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import empty_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList, OptConfigType
from .mask_head_inputs import ThresholdFeaturesMixin


@MODELS.register_module()
class AdaptiveThresholdRoIHead(ThresholdFeaturesMixin, StandardRoIHead):
    """``StandardRoIHead`` with the threshold RoI features of ATMask R-CNN.

    Its ``mask_head`` is an ``AdaptiveThresholdMaskHead``. Training logs the
    mask head's ``loss_mask``, ``loss_threshold`` and ``loss_binary``.

    Args:
        threshold_roi_extractor (dict, optional): Extractor of the threshold
            RoI features ``R_t`` (e.g. ``SingleRoIExtractor`` with
            ``output_size=28``). Required when the mask head has its threshold
            branch on, unused otherwise.
        threshold_roi_source (str): ``'P2'``: every RoI pooled from the finest
            level; ``'all'``: FPN level mapping over the extractor's levels.
            Defaults to ``'P2'``.
        **kwargs: ``StandardRoIHead`` arguments.
    """

    def __init__(self,
                 threshold_roi_extractor: OptConfigType = None,
                 threshold_roi_source: str = 'P2',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._init_threshold_roi_extractor(
            threshold_roi_extractor, threshold_roi_source,
            [('roi_head.mask_head', self.mask_head)] if self.with_mask else [])

    @property
    def with_threshold_branch(self) -> bool:
        """bool: whether the mask head predicts a threshold map."""
        return self.with_mask and getattr(self.mask_head,
                                          'with_threshold_branch', False)

    def _mask_forward(self,
                      x: Tuple[Tensor],
                      rois: Optional[Tensor] = None,
                      pos_inds: Optional[Tensor] = None,
                      bbox_feats: Optional[Tensor] = None,
                      threshold_rois: Optional[Tensor] = None) -> dict:
        """Mask head forward (training and testing).

        Args:
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor, optional): RoIs (n, 5).
            pos_inds (Tensor, optional): Positive indices into ``bbox_feats``
                when the mask head shares the box RoI features.
            bbox_feats (Tensor, optional): Box RoI features.
            threshold_rois (Tensor, optional): RoIs of the threshold features
                when ``rois`` is not given (shared box features).

        Returns:
            dict: ``mask_preds`` (probability logits), ``threshold_preds``
            (threshold logits or None), ``mask_feats``, ``threshold_feats``.
        """
        assert ((rois is not None) ^
                (pos_inds is not None and bbox_feats is not None))
        if rois is not None:
            mask_feats = self.mask_roi_extractor(
                x[:self.mask_roi_extractor.num_inputs], rois)
            if self.with_shared_head:
                mask_feats = self.shared_head(mask_feats)
        else:
            mask_feats = bbox_feats[pos_inds]

        threshold_feats = None
        if self.with_threshold_branch:
            threshold_rois = rois if rois is not None else threshold_rois
            if threshold_rois is None:
                raise ValueError('threshold_rois are required when the mask '
                                 'head shares the box RoI features')
            threshold_feats = self._threshold_roi_forward(x, threshold_rois)
        mask_preds, threshold_preds = self.mask_head(mask_feats,
                                                     threshold_feats)
        return dict(
            mask_preds=mask_preds,
            threshold_preds=threshold_preds,
            mask_feats=mask_feats,
            threshold_feats=threshold_feats)

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """Mask head forward and losses (``loss_mask``, ``loss_threshold``,
        ``loss_binary``) on the positive RoIs.

        Args:
            x (tuple[Tensor]): Multi-level features.
            sampling_results (list[:obj:`SamplingResult`]): Sampling results.
            bbox_feats (Tensor): Box RoI features.
            batch_gt_instances (list[:obj:`InstanceData`]): Ground truth.

        Returns:
            dict: ``_mask_forward`` outputs plus ``loss_mask`` (dict of the
            loss terms) and ``mask_targets``.
        """
        pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
        if not self.share_roi_extractor:
            mask_results = self._mask_forward(x, pos_rois)
        else:
            pos_inds = torch.cat([
                torch.cat([
                    bbox_feats.new_ones(
                        res.pos_priors.shape[0], dtype=torch.uint8),
                    bbox_feats.new_zeros(
                        res.neg_priors.shape[0], dtype=torch.uint8)
                ]) for res in sampling_results
            ])
            mask_results = self._mask_forward(
                x,
                pos_inds=pos_inds,
                bbox_feats=bbox_feats,
                threshold_rois=pos_rois)

        mask_loss_and_target = self.mask_head.loss_and_target(
            mask_preds=mask_results['mask_preds'],
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.train_cfg,
            threshold_preds=mask_results['threshold_preds'])
        mask_results.update(
            loss_mask=mask_loss_and_target['loss_mask'],
            mask_targets=mask_loss_and_target['mask_targets'])
        return mask_results

    def predict_mask(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Masks of the detections: foreground where ``P >= T``.

        Args:
            x (tuple[Tensor]): Multi-level features.
            batch_img_metas (list[dict]): Image meta information.
            results_list (list[:obj:`InstanceData`]): Detections per image.
            rescale (bool): Return results in the original image space.

        Returns:
            list[:obj:`InstanceData`]: Detections with ``masks`` (n, H, W).
        """
        bboxes = [res.bboxes for res in results_list]
        mask_rois = bbox2roi(bboxes)
        if mask_rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas,
                mask_rois.device,
                task_type='mask',
                instance_results=results_list,
                mask_thr_binary=self.test_cfg.mask_thr_binary)

        mask_results = self._mask_forward(x, mask_rois)
        num_mask_rois_per_img = [len(res) for res in results_list]
        mask_preds = mask_results['mask_preds'].split(num_mask_rois_per_img,
                                                      0)
        threshold_preds = mask_results['threshold_preds']
        if threshold_preds is not None:
            threshold_preds = threshold_preds.split(num_mask_rois_per_img, 0)
        return self.mask_head.predict_by_feat(
            mask_preds=mask_preds,
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale,
            threshold_preds=threshold_preds)
