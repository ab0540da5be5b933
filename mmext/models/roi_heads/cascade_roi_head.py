"""A Cascade Mask R-CNN RoI head whose stages take any mmext mask head.

mmdet's :class:`CascadeRoIHead` calls each stage's mask head as
``mask_head(mask_feats)`` and averages the sigmoid of its logits over the
stages. :class:`MMExtCascadeRoIHead` uses the mask-head protocol of
:mod:`mmext.models.mask_heads.feature_reuse` instead, so the stages may be
ATMask heads (threshold branch: its RoI features come from
``threshold_roi_extractor``), MaskPlus heads (full-image context) or plain
FCN heads, in any mix:

* training: each stage's loss is its head's own ``loss_and_target`` (ATMask:
  ``loss_mask``, ``loss_threshold``, ``loss_binary``; MaskPlus: QMT terms);
* inference: every map a head predicts (``mask_preds``; ATMask also
  ``threshold_preds``) is turned into probabilities and averaged over the
  stages as mmdet averages the masks, and the last stage's head decides
  with the averages (``activate_map=True``): for ATMask, foreground where the
  mean ``P`` is >= the mean ``T``. (The paper of ATMask has no cascade;
  averaging both maps keeps "P >= T" the rule of the ensemble.)

With FCN or MaskPlus heads it computes exactly what ``CascadeRoIHead`` (and
the former ``MaskPlusCascadeRoIHead``) computed.
"""
from typing import Dict, List, Optional, Tuple

from torch import Tensor

from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.test_time_augs import merge_aug_masks
from mmdet.models.utils import empty_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList, OptConfigType
from ..mask_heads.feature_reuse import (mask_forward_with_feat, mask_outputs,
                                        provides_feature_reuse)
from .mask_head_inputs import MaskHeadInputsMixin
from .state_dict_init import StagesFromSingleStageMixin


@MODELS.register_module()
class MMExtCascadeRoIHead(StagesFromSingleStageMixin, MaskHeadInputsMixin,
                          CascadeRoIHead):
    """:class:`CascadeRoIHead` with mmext mask heads in its stages.

    Args:
        *args: :class:`CascadeRoIHead`'s arguments.
        init_stages_from_single_stage (bool): When a state dict of a
            single-stage model (a Mask R-CNN: ``bbox_head.*``,
            ``mask_head.*``) is loaded, copy its box and mask heads into
            every stage, as a cascade fine-tuned from a trained Mask R-CNN
            starts (the toy benchmark's protocol; see
            :class:`~.state_dict_init.StagesFromSingleStageMixin`). Layers
            whose shapes differ (the class-agnostic regression layer, layers
            only the mmext heads have) keep their own initialisation. A
            cascade checkpoint loads as usual. Defaults to False.
        threshold_roi_extractor (dict, optional): Extractor of the threshold
            RoI features of ATMask stage heads (shared by the stages: RoI
            pooling has no weights; each head applies its own channel
            reduction first). Required iff a stage head has its threshold
            branch on.
        threshold_roi_source (str): ``'P2'`` or ``'all'``, as in
            :class:`AdaptiveThresholdRoIHead`. Defaults to ``'P2'``.
        **kwargs: :class:`CascadeRoIHead`'s keyword arguments.
    """

    def __init__(self,
                 *args,
                 init_stages_from_single_stage: bool = False,
                 threshold_roi_extractor: OptConfigType = None,
                 threshold_roi_source: str = 'P2',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_stages_from_single_stage = init_stages_from_single_stage
        heads = [(f'roi_head.mask_head[{i}]', head)
                 for i, head in enumerate(self.mask_head)
                 ] if self.with_mask else []
        self._init_threshold_roi_extractor(threshold_roi_extractor,
                                           threshold_roi_source, heads)

    def _mask_forward(self, stage: int, x: Tuple[Tensor],
                      rois: Tensor) -> dict:
        """Stage ``stage`` mask head forward with its extra inputs.

        Args:
            stage (int): Cascade stage.
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): RoIs (K, 5), ``[batch_ind, x1, y1, x2, y2]``.

        Returns:
            dict: ``mask_outputs`` (the head's outputs) and its
            ``loss_and_target`` keyword arguments (``mask_preds``, ...).
        """
        mask_head = self.mask_head[stage]
        mask_roi_extractor = self.mask_roi_extractor[stage]
        mask_feats = mask_roi_extractor(x[:mask_roi_extractor.num_inputs],
                                        rois)
        inputs = self._mask_head_inputs(mask_head, x, rois,
                                        mask_roi_extractor)
        if provides_feature_reuse(mask_head):
            # e.g. an HTCMaskHead, whose plain call returns its feature too
            outputs, _ = mask_forward_with_feat(mask_head, mask_feats,
                                                **inputs)
        else:
            outputs = mask_head(mask_feats, **inputs)
        return dict(mask_outputs=outputs, **mask_outputs(mask_head, outputs))

    def mask_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: InstanceList) -> dict:
        """Stage ``stage`` mask losses from its head's ``loss_and_target``.

        Returns:
            dict: :meth:`_mask_forward` outputs plus ``loss_mask`` (dict) and
            ``mask_targets``.
        """
        pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
        mask_results = self._mask_forward(stage, x, pos_rois)
        mask_head = self.mask_head[stage]
        mask_results.update(
            mask_head.loss_and_target(
                sampling_results=sampling_results,
                batch_gt_instances=batch_gt_instances,
                rcnn_train_cfg=self.train_cfg[stage],
                **mask_outputs(mask_head, mask_results['mask_outputs'])))
        return mask_results

    def predict_mask(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Masks from the stage-averaged probability maps (see the module
        docstring).

        Returns:
            list[:obj:`InstanceData`]: Detections with ``masks`` (n, H, W).
        """
        with self._record_img_shapes(batch_img_metas):
            return self._predict_mask(x, batch_img_metas, results_list,
                                      rescale)

    def _predict_mask(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                      results_list: InstanceList,
                      rescale: bool) -> InstanceList:
        mask_rois = bbox2roi([res.bboxes for res in results_list])
        if mask_rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas,
                mask_rois.device,
                task_type='mask',
                instance_results=results_list,
                mask_thr_binary=self.test_cfg.mask_thr_binary)
        num_per_img = [len(res) for res in results_list]
        stage_maps: List[Dict[str, Optional[Tuple[Tensor, ...]]]] = []
        for stage in range(self.num_stages):
            outputs = self._mask_forward(stage, x, mask_rois)['mask_outputs']
            stage_maps.append({
                key: None if value is None else tuple(
                    m.sigmoid().detach() for m in value.split(num_per_img))
                for key, value in mask_outputs(self.mask_head[stage],
                                               outputs).items()
            })
        merged = {}
        for key in stage_maps[-1]:
            per_stage = [maps.get(key) for maps in stage_maps]
            per_stage = [maps for maps in per_stage if maps is not None]
            if not per_stage:
                merged[key] = None
                continue
            merged[key] = [
                merge_aug_masks([maps[i] for maps in per_stage], meta)
                for i, meta in enumerate(batch_img_metas)
            ]
        return self.mask_head[-1].predict_by_feat(
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale,
            activate_map=True,
            **merged)
