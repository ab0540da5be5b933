"""RoI head of MR R-CNN (Mask Refining R-CNN).

Ding et al., "Shape-aware Feature Extraction for Instance Segmentation".
A vanilla Mask R-CNN RoI head (box head + mask head) is followed by a
refining module:

* refining box head (rBoxHead) on ``SaRoIAlign(B, P, F)``: ``B`` are the
  vanilla-regressed boxes, ``P`` the vanilla mask head's sigmoid
  probabilities for ``B`` (one class channel, see "guide label" below),
  ``F`` the FPN features;
* refining mask head on ``RoIAlign(B^r, F) + F^-``: ``B^r`` the boxes
  regressed by rBoxHead, ``F^-`` a 1x1 conv over the output of the last
  (4th) conv of the vanilla mask head run on ``B`` (HTC's mask information
  flow: the refining mask head is an :class:`HTCMaskHead` whose
  ``conv_res`` is that 1x1 conv, followed by ReLU as in HTC).

Choices where the paper is silent (a reader may want them otherwise, so
most are options):

* **Guide label.** The mask channel that guides a RoI of the refining
  stage is its "guide label": in training, the label the box ``B`` gets when
  it is re-assigned to the ground truth in the refining stage (so a box that
  the vanilla regression moved onto another object is guided by that
  object's class), and, for the refining stage's background RoIs, the pseudo
  label = argmax over the foreground logits of the vanilla box head
  (:meth:`pseudo_labels`), as at inference. At inference no labels exist,
  so every proposal is guided by its argmax foreground class. The vanilla
  regression that turns a RoI into ``B`` uses the RoI's vanilla label
  (assigned, or the pseudo label for background RoIs), as mmdet's
  ``BBoxHead.refine_bboxes`` does in Cascade R-CNN.
* **Any protocol mask head.** The vanilla and the refining mask head are
  used only through the mask-head protocol of
  :mod:`mmext.models.mask_heads.feature_reuse`: ``P`` is the head's
  ``soft_masks`` (sigmoid of the logits; ATMask's ``B = sigmoid(k(P-T))``),
  ``F^-``'s source is the feature the head returns with ``return_feat``
  (the 4th conv output for ``HTCMaskHead``; after T2P fusion for ATMask,
  after the DPM for MaskPlus), and the losses and masks come from the heads'
  own ``loss_and_target`` / ``predict_by_feat``. Their extra inputs
  (ATMask's threshold RoI features from ``threshold_roi_extractor``,
  MaskPlus' full-image context) are prepared by :class:`MaskHeadInputsMixin`.
  The plain vanilla head is an ``HTCMaskHead`` with ``with_conv_res=False``
  (``FCNMaskHead`` plus ``return_feat``, same weights); a head that cannot
  return its feature (e.g. ``FCNMaskHead``) is rejected when the model is
  built.
* **Refinement is per proposal, cascade style.** At inference every
  proposal goes through both stages (vanilla box head -> ``B`` -> vanilla
  mask head -> rBoxHead); the fused score vector
  ``S = (S^b + alpha * S^r) / (1 + alpha)`` (logits, before softmax;
  ``alpha`` = ``test_cfg.refine_alpha``, default 1.0) and the rBoxHead boxes
  ``B^r`` then go through the usual single multi-class NMS, and the
  refining mask head segments the kept ``B^r`` (with ``F^-`` of the
  proposal each came from). The vanilla boxes and masks are not output.
  This runs the vanilla mask head on all test proposals (like HTC's
  cost per stage, but on ``rpn.max_per_img`` RoIs).
* **Refining-stage targets.** ``B`` (without the ground-truth boxes the
  vanilla sampler added) is re-assigned to the ground truth with
  ``train_cfg.refine.assigner`` and sampled with ``train_cfg.refine.sampler``
  (each key of ``train_cfg.refine`` replaces the one of the vanilla rcnn
  train cfg; absent -> same as the vanilla stage). The MR R-CNN configs use
  ``PseudoSampler`` so that all foreground and background RoIs of the
  vanilla stage train the refining module, as the paper describes. A
  ground-truth box added by a sampler is guided by its own label.
* **Refining mask head training** uses the refining-stage positives: the
  input is ``RoIAlign(B^r) + F^-(B)`` with ``B^r`` the rBoxHead regression
  of ``B`` for its assigned class (no gradient through ``B^r``), and the
  targets are the ground-truth masks cropped to ``B^r`` -- eq. (6) at test
  time uses ``B^r`` too.
* **Gradient through the mask guide.** ``detach_mask_guide=False``
  (default): the paper trains end to end and SaRoIAlign is differentiable
  w.r.t. the mask, so the refining box loss also reaches the vanilla mask
  head through ``P``. ``True`` stops that gradient.
* **Initialisation.** The paper fine-tunes from a trained Mask R-CNN and
  initialises the refining heads with the vanilla heads' weights. With
  ``init_refine_from_vanilla=True`` (default), loading a state dict that has
  ``bbox_head.*`` / ``mask_head.*`` but no ``refine_bbox_head.*`` /
  ``refine_mask_head.*`` (i.e. a Mask R-CNN checkpoint via ``load_from``)
  copies the vanilla weights into the refining heads; a full MR R-CNN
  checkpoint loads unchanged. ``tools/misc/init_refining_heads.py`` does
  the same offline.
* **Ablations.** Plain RoIAlign in the refining module (Table 3): give
  ``refine_bbox_roi_extractor`` a ``SingleRoIExtractor``; no mask is passed
  then. Classification-only / regression-only refinement (Table 4):
  ``refine_bbox_head=dict(with_reg=False)`` (``B^r = B``) or
  ``dict(with_cls=False)`` (``S = S^b``).
"""
import contextlib
import copy
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from ..mask_heads.feature_reuse import (check_feature_reuse_head,
                                        mask_forward_with_feat, mask_outputs,
                                        soft_masks)
from ..mask_heads.memory_format import cpu_channels_last
from ..roi_extractors import ShapeAwareRoIExtractor
from .mask_head_inputs import MaskHeadInputsMixin
from .state_dict_init import copy_missing_prefixes


@MODELS.register_module()
class MaskRefiningRoIHead(MaskHeadInputsMixin, StandardRoIHead):
    """Mask R-CNN RoI head with MR R-CNN's refining module.

    The vanilla part (``bbox_roi_extractor``, ``bbox_head``,
    ``mask_roi_extractor``, ``mask_head``) is configured exactly as in
    :class:`StandardRoIHead`, so Mask R-CNN checkpoints load into it. See the
    module docstring for the method and the choices made.

    Args:
        refine_bbox_roi_extractor (dict): RoI extractor of the refining box
            head, normally a :class:`ShapeAwareRoIExtractor` with
            ``SaRoIAlign``; any other extractor (e.g. ``SingleRoIExtractor``)
            is called without masks (plain-RoIAlign ablation).
        refine_bbox_head (dict): Refining box head (e.g.
            ``Shared2FCBBoxHead``); ``with_cls``/``with_reg`` select the
            classification-only / regression-only ablations.
        refine_mask_head (dict): Refining mask head, a protocol head
            (``HTCMaskHead``, ``AdaptiveThresholdMaskHead``,
            ``MaskPlusMaskHead``). With ``with_conv_res=True`` it adds
            ``F^-``; without, it ignores it.
        refine_mask_roi_extractor (dict, optional): RoI extractor of the
            refining mask head. Defaults to None: share the vanilla
            ``mask_roi_extractor`` (RoIAlign has no weights).
        detach_mask_guide (bool): Stop the gradient from the refining box
            head into the vanilla mask head through the guide mask.
            Defaults to False (end-to-end, as in the paper).
        init_refine_from_vanilla (bool): Copy vanilla head weights into the
            refining heads when a loaded state dict has none for them.
            Defaults to True.
        threshold_roi_extractor (dict, optional): Extractor of the threshold
            RoI features of ATMask mask heads (vanilla and/or refining);
            required iff one has its threshold branch on.
        threshold_roi_source (str): ``'P2'`` or ``'all'``, see
            :class:`AdaptiveThresholdRoIHead`. Defaults to ``'P2'``.
        cpu_channels_last (bool): On the CPU, give both mask heads their RoI
            features in channels-last memory format, so that a head of
            mmdet's (``HTCMaskHead``) skips the NCHW copy of its
            deconvolution's output, as mmext's heads do themselves (see
            :mod:`mmext.models.mask_heads.memory_format`). Same values up to
            float rounding. Defaults to True.
        mask_head (dict): The vanilla mask head, a protocol head:
            ``HTCMaskHead`` with ``with_conv_res=False`` (Mask R-CNN's),
            ``AdaptiveThresholdMaskHead`` or ``MaskPlusMaskHead``.
        train_cfg (dict, optional): The vanilla rcnn train cfg, optionally
            with a ``refine`` dict that overrides its keys (``assigner``,
            ``sampler``, ``pos_weight``, ``mask_size``) for the refining
            stage.
        test_cfg (dict, optional): The rcnn test cfg plus ``refine_alpha``
            (float >= 0, weight of the refining scores; default 1.0).
    """

    def __init__(self,
                 refine_bbox_roi_extractor: ConfigType,
                 refine_bbox_head: ConfigType,
                 refine_mask_head: ConfigType,
                 refine_mask_roi_extractor: OptConfigType = None,
                 detach_mask_guide: bool = False,
                 init_refine_from_vanilla: bool = True,
                 threshold_roi_extractor: OptConfigType = None,
                 threshold_roi_source: str = 'P2',
                 cpu_channels_last: bool = True,
                 bbox_roi_extractor: OptMultiConfig = None,
                 bbox_head: OptMultiConfig = None,
                 mask_roi_extractor: OptMultiConfig = None,
                 mask_head: OptMultiConfig = None,
                 shared_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if bbox_head is None or mask_head is None:
            raise ValueError(
                'MaskRefiningRoIHead needs both roi_head.bbox_head and '
                'roi_head.mask_head (the vanilla Mask R-CNN heads)')
        if shared_head is not None:
            raise ValueError(
                'MaskRefiningRoIHead does not support roi_head.shared_head')
        self.detach_mask_guide = detach_mask_guide
        self.init_refine_from_vanilla = init_refine_from_vanilla
        self.cpu_channels_last = cpu_channels_last
        super().__init__(
            bbox_roi_extractor=bbox_roi_extractor,
            bbox_head=bbox_head,
            mask_roi_extractor=mask_roi_extractor,
            mask_head=mask_head,
            shared_head=shared_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg)
        check_feature_reuse_head(self.mask_head, 'roi_head.mask_head',
                                 'MaskRefiningRoIHead')
        self.refine_bbox_roi_extractor = MODELS.build(
            refine_bbox_roi_extractor)
        self.refine_bbox_head = MODELS.build(refine_bbox_head)
        if refine_mask_roi_extractor is not None:
            self.refine_mask_roi_extractor = MODELS.build(
                refine_mask_roi_extractor)
        else:
            self.refine_mask_roi_extractor = self.mask_roi_extractor
        self.refine_mask_head = MODELS.build(refine_mask_head)
        check_feature_reuse_head(self.refine_mask_head,
                                 'roi_head.refine_mask_head',
                                 'MaskRefiningRoIHead')
        self._init_threshold_roi_extractor(
            threshold_roi_extractor, threshold_roi_source,
            [('roi_head.mask_head', self.mask_head),
             ('roi_head.refine_mask_head', self.refine_mask_head)])
        if self.refine_bbox_head.num_classes != self.bbox_head.num_classes:
            raise ValueError(
                'roi_head.refine_bbox_head.num_classes '
                f'({self.refine_bbox_head.num_classes}) must equal '
                f'roi_head.bbox_head.num_classes '
                f'({self.bbox_head.num_classes})')

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------
    @property
    def shape_aware(self) -> bool:
        """bool: whether the refining box head pools with a mask guide."""
        return isinstance(self.refine_bbox_roi_extractor,
                          ShapeAwareRoIExtractor)

    @property
    def refine_alpha(self) -> float:
        """float: weight of the refining scores, ``test_cfg.refine_alpha``."""
        alpha = 1.0 if self.test_cfg is None else self.test_cfg.get(
            'refine_alpha', 1.0)
        if alpha < 0:
            raise ValueError(
                f'test_cfg.rcnn.refine_alpha must be >= 0, got {alpha}')
        return float(alpha)

    def init_assigner_sampler(self) -> None:
        """Build the vanilla and the refining-stage assigner and sampler."""
        super().init_assigner_sampler()
        self.refine_train_cfg = None
        self.refine_assigner = None
        self.refine_sampler = None
        if self.train_cfg:
            cfg = ConfigDict(copy.deepcopy(dict(self.train_cfg)))
            overrides = cfg.pop('refine', None) or {}
            for key, value in overrides.items():
                cfg[key] = value  # replace, never merge, e.g. a sampler type
            self.refine_train_cfg = cfg
            self.refine_assigner = TASK_UTILS.build(cfg.assigner)
            self.refine_sampler = TASK_UTILS.build(
                cfg.sampler, default_args=dict(context=self))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Copy vanilla head weights into absent refining-head weights.

        Runs before the children load (``nn.Module`` and mmengine load
        recursively, parents first, with children reading this dict), so a
        Mask R-CNN state dict initialises the refining heads as in the paper.
        """
        if self.init_refine_from_vanilla:
            copy_missing_prefixes(
                state_dict,
                [(prefix + 'bbox_head.', prefix + 'refine_bbox_head.'),
                 (prefix + 'mask_head.', prefix + 'refine_mask_head.')],
                'MaskRefiningRoIHead')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------
    # shared building blocks
    # ------------------------------------------------------------------
    @staticmethod
    def pseudo_labels(cls_score: Tensor, labels: Tensor,
                      num_classes: int) -> Tensor:
        """Replace background labels by the argmax foreground class.

        Args:
            cls_score (Tensor): Vanilla box head logits, (K, num_classes+1).
            labels (Tensor): Assigned labels, (K, ); ``num_classes`` means
                background.
            num_classes (int): Number of foreground classes.

        Returns:
            Tensor: Guide labels in [0, num_classes), shape (K, ).
        """
        fg_argmax = cls_score[:, :num_classes].argmax(dim=1)
        return torch.where(labels == num_classes, fg_argmax, labels)

    @staticmethod
    def fuse_cls_scores(vanilla_scores: Tensor,
                        refine_scores: Optional[Tensor],
                        alpha: float) -> Tensor:
        """Fuse logits: ``S = (S^b + alpha * S^r) / (1 + alpha)``.

        Args:
            vanilla_scores (Tensor): Vanilla box head logits ``S^b``,
                (K, num_classes + 1).
            refine_scores (Tensor, optional): Refining box head logits
                ``S^r`` of the same RoIs; None when it does not classify
                (regression-only ablation), which returns ``S^b``.
            alpha (float): Weight of ``S^r``.

        Returns:
            Tensor: Fused logits, (K, num_classes + 1).
        """
        if refine_scores is None or alpha == 0:
            return vanilla_scores
        return (vanilla_scores + alpha * refine_scores) / (1 + alpha)

    def _to_mask_head_format(self, mask_feats: Tensor) -> Tensor:
        """RoI features (K, C, S, S) in the mask heads' memory format."""
        if self.cpu_channels_last:
            return cpu_channels_last(mask_feats)
        return mask_feats

    def _vanilla_mask_forward(self, x: Tuple[Tensor],
                              rois: Tensor) -> Tuple[object, Tensor]:
        """The vanilla mask head on ``rois`` through the mask-head protocol.

        Args:
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): RoIs (K, 5).

        Returns:
            tuple: The head's outputs (its ``forward``'s, e.g. the logits
            (K, num_classes, 28, 28)) and the feature it returns for reuse
            (K, C', 14, 14), the source of ``F^-``.
        """
        mask_feats = self._to_mask_head_format(
            self.mask_roi_extractor(x[:self.mask_roi_extractor.num_inputs],
                                    rois))
        inputs = self._mask_head_inputs(self.mask_head, x, rois,
                                        self.mask_roi_extractor)
        return mask_forward_with_feat(self.mask_head, mask_feats, **inputs)

    def _mask_forward(self,
                      x: Tuple[Tensor],
                      rois: Optional[Tensor] = None,
                      pos_inds: Optional[Tensor] = None,
                      bbox_feats: Optional[Tensor] = None) -> dict:
        """Vanilla mask head forward (``StandardRoIHead`` signature).

        The mask features are always pooled by ``mask_roi_extractor`` from
        ``rois`` (``pos_inds``/``bbox_feats`` are not used: the protocol
        heads may need the RoIs for their extra inputs).

        Returns:
            dict: ``mask_outputs`` (the head's outputs), the keyword
            arguments of its ``loss_and_target`` (``mask_preds``, ...) and
            ``mask_res_feats`` (the reused feature).
        """
        if rois is None:
            raise ValueError('MaskRefiningRoIHead._mask_forward needs rois')
        outputs, feat = self._vanilla_mask_forward(x, rois)
        return dict(
            mask_outputs=outputs,
            mask_res_feats=feat,
            **mask_outputs(self.mask_head, outputs))

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """Vanilla mask head losses on the positive RoIs (the head's own
        ``loss_and_target``, e.g. ATMask's three terms).

        Returns:
            dict: :meth:`_mask_forward` outputs plus ``loss_mask`` (dict)
            and ``mask_targets``.
        """
        pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
        mask_results = self._mask_forward(x, pos_rois)
        loss_and_target = self.mask_head.loss_and_target(
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.train_cfg,
            **mask_outputs(self.mask_head, mask_results['mask_outputs']))
        mask_results.update(
            loss_mask=loss_and_target['loss_mask'],
            mask_targets=loss_and_target['mask_targets'])
        return mask_results

    def _mask_guides(self, mask_outputs: object, labels: Tensor) -> Tensor:
        """Soft masks of each RoI's guide class, (K, Hp, Wp).

        Args:
            mask_outputs: The vanilla mask head's outputs.
            labels (Tensor): Guide labels (K, ).
        """
        probs = soft_masks(self.mask_head, mask_outputs)
        if self.mask_head.class_agnostic:
            guides = probs[:, 0]
        else:
            guides = probs[torch.arange(probs.size(0), device=probs.device),
                           labels]
        return guides.detach() if self.detach_mask_guide else guides

    def _refine_bbox_forward(self, x: Tuple[Tensor], rois: Tensor,
                             guide_labels: Tensor) -> dict:
        """Vanilla mask head on ``B``, then rBoxHead on SaRoIAlign(B, P, F).

        Args:
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): The boxes ``B`` as RoIs, (K, 5).
            guide_labels (Tensor): Class whose mask channel guides each RoI,
                (K, ).

        Returns:
            dict: ``cls_score`` (K, num_classes+1) or None, ``bbox_pred`` or
            None, ``bbox_feats``, ``mask_guides`` (K, Hp, Wp) or None (plain
            RoIAlign) and ``mask_res_feats`` (K, C', 14, 14), the vanilla
            mask head's reused feature for ``F^-``.
        """
        mask_outputs_, mask_res_feats = self._vanilla_mask_forward(x, rois)
        extractor = self.refine_bbox_roi_extractor
        feats = x[:extractor.num_inputs]
        if self.shape_aware:
            mask_guides = self._mask_guides(mask_outputs_, guide_labels)
            bbox_feats = extractor(feats, rois, mask_guides)
        else:
            mask_guides = None
            bbox_feats = extractor(feats, rois)
        cls_score, bbox_pred = self.refine_bbox_head(bbox_feats)
        return dict(
            cls_score=cls_score,
            bbox_pred=bbox_pred,
            bbox_feats=bbox_feats,
            mask_guides=mask_guides,
            mask_res_feats=mask_res_feats)

    def _refine_mask_forward(self, x: Tuple[Tensor], rois: Tensor,
                             res_feats: Tensor) -> object:
        """Refining mask head on ``RoIAlign(B^r, F) + F^-``.

        Args:
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): The boxes ``B^r`` as RoIs, (K, 5).
            res_feats (Tensor): The vanilla mask head's reused feature of
                the boxes ``B`` these RoIs were regressed from,
                (K, C', 14, 14); ignored by a head without ``conv_res``.

        Returns:
            The refining mask head's outputs (e.g. mask logits
            (K, num_classes, 28, 28); ATMask: logits and threshold logits).
        """
        mask_feats = self._to_mask_head_format(
            self.refine_mask_roi_extractor(
                x[:self.refine_mask_roi_extractor.num_inputs], rois))
        head = self.refine_mask_head
        inputs = self._mask_head_inputs(head, x, rois,
                                        self.refine_mask_roi_extractor)
        outputs, _ = mask_forward_with_feat(
            head,
            mask_feats,
            res_feat=res_feats if getattr(head, 'with_conv_res',
                                          False) else None,
            **inputs)
        return outputs

    def _regress(self, bbox_head, rois: Tensor, labels: Tensor,
                 bbox_pred: Optional[Tensor],
                 batch_img_metas: List[dict]) -> Tensor:
        """Regress RoIs with each one's class, image by image.

        Args:
            bbox_head (BBoxHead): The head whose deltas ``bbox_pred`` are.
            rois (Tensor): (K, 5) RoIs.
            labels (Tensor): (K, ) class of the deltas to apply.
            bbox_pred (Tensor, optional): (K, 4 * num_classes) or (K, 4)
                deltas; None keeps the boxes.
            batch_img_metas (list[dict]): Image metas (``img_shape`` clips).

        Returns:
            Tensor: Regressed RoIs, (K, 5).
        """
        if bbox_pred is None or rois.size(0) == 0:
            return rois.clone()
        new_rois = rois.clone()
        for i, img_meta in enumerate(batch_img_metas):
            inds = (rois[:, 0] == i).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() == 0:
                continue
            bboxes = bbox_head.regress_by_class(rois[inds, 1:], labels[inds],
                                                bbox_pred[inds], img_meta)
            new_rois[inds, 1:] = get_box_tensor(bboxes)
        return new_rois

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def _assign_and_sample(self, assigner, sampler, proposals: InstanceList,
                           batch_gt_instances: InstanceList,
                           batch_gt_instances_ignore: InstanceList,
                           x: Tuple[Tensor]) -> List[SamplingResult]:
        """Assign ``proposals[i].priors`` to the ground truth and sample."""
        sampling_results = []
        for i, results in enumerate(proposals):
            assign_result = assigner.assign(results, batch_gt_instances[i],
                                            batch_gt_instances_ignore[i])
            sampling_results.append(
                sampler.sample(
                    assign_result,
                    results,
                    batch_gt_instances[i],
                    feats=[lvl_feat[i][None] for lvl_feat in x]))
        return sampling_results

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """Losses of the vanilla heads and of the refining module.

        Args:
            x (tuple[Tensor]): Multi-level features, each (N, C, H, W).
            rpn_results_list (list[:obj:`InstanceData`]): Proposals.
            batch_data_samples (list[:obj:`DetDataSample`]): Ground truth.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``acc``, ``loss_bbox``,
            ``loss_mask`` of the vanilla heads and the same keys prefixed
            with ``refine.`` for the refining module (a key is absent when
            its head does not predict it, e.g. ``refine.loss_bbox`` with
            ``with_reg=False``).
        """
        assert len(rpn_results_list) == len(batch_data_samples)
        batch_gt_instances, batch_gt_instances_ignore, batch_img_metas = \
            unpack_gt_instances(batch_data_samples)
        with self._record_img_shapes(batch_img_metas):
            return self._loss(x, rpn_results_list, batch_gt_instances,
                              batch_gt_instances_ignore, batch_img_metas)

    def _loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
              batch_gt_instances: InstanceList,
              batch_gt_instances_ignore: InstanceList,
              batch_img_metas: List[dict]) -> dict:
        """Body of :meth:`loss` (with the image shapes recorded)."""
        for results in rpn_results_list:
            results.priors = results.pop('bboxes')
        sampling_results = self._assign_and_sample(
            self.bbox_assigner, self.bbox_sampler, rpn_results_list,
            batch_gt_instances, batch_gt_instances_ignore, x)

        losses = dict()
        bbox_results = self.bbox_loss(x, sampling_results)
        losses.update(bbox_results['loss_bbox'])
        mask_results = self.mask_loss(x, sampling_results,
                                      bbox_results['bbox_feats'],
                                      batch_gt_instances)
        losses.update(mask_results['loss_mask'])

        refine_proposals = self.refine_proposals(sampling_results,
                                                 bbox_results, batch_img_metas)
        refine_sampling_results = self._assign_and_sample(
            self.refine_assigner, self.refine_sampler, refine_proposals,
            batch_gt_instances, batch_gt_instances_ignore, x)
        guide_labels = [
            self._sampled_guide_labels(*args) for args in zip(
                refine_sampling_results, refine_proposals, batch_gt_instances)
        ]
        refine_results = self.refine_bbox_loss(x, refine_sampling_results,
                                               guide_labels)
        refine_mask_loss = self.refine_mask_loss(x, refine_sampling_results,
                                                 refine_results,
                                                 batch_gt_instances,
                                                 batch_img_metas)
        for name, value in {
                **refine_results['loss_bbox'],
                **refine_mask_loss
        }.items():
            losses[f'refine.{name}'] = value
        return losses

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Vanilla box head loss; also keeps ``rois`` and ``bbox_targets``.

        Returns:
            dict: ``cls_score``, ``bbox_pred``, ``bbox_feats``, ``rois``,
            ``bbox_targets`` (labels, label_weights, bbox_targets,
            bbox_weights) and ``loss_bbox`` (dict).
        """
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        loss_and_target = self.bbox_head.loss_and_target(
            cls_score=bbox_results['cls_score'],
            bbox_pred=bbox_results['bbox_pred'],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.train_cfg)
        bbox_results.update(
            rois=rois,
            loss_bbox=loss_and_target['loss_bbox'],
            bbox_targets=loss_and_target['bbox_targets'])
        return bbox_results

    @torch.no_grad()
    def refine_proposals(self, sampling_results: List[SamplingResult],
                         bbox_results: dict,
                         batch_img_metas: List[dict]) -> InstanceList:
        """The boxes ``B`` of the sampled vanilla RoIs.

        Each RoI is regressed with the vanilla deltas of its vanilla label:
        the assigned label of foreground RoIs, the pseudo label
        (:meth:`pseudo_labels`) of background RoIs. RoIs that are
        ground-truth boxes added by the sampler are dropped (as in Cascade
        R-CNN).

        Returns:
            list[:obj:`InstanceData`]: Per image ``priors`` (k, 4) and
            ``fg_argmax`` (k, ), the argmax foreground class of the vanilla
            box head, which guides the RoIs that the refining stage's
            assignment makes background.
        """
        rois = bbox_results['rois']
        labels = bbox_results['bbox_targets'][0]
        num_classes = self.bbox_head.num_classes
        vanilla_labels = self.pseudo_labels(bbox_results['cls_score'], labels,
                                            num_classes)
        fg_argmax = bbox_results['cls_score'][:, :num_classes].argmax(dim=1)
        regressed = self._regress(self.bbox_head, rois, vanilla_labels,
                                  bbox_results['bbox_pred'], batch_img_metas)
        proposals = []
        for i, res in enumerate(sampling_results):
            inds = (rois[:, 0] == i).nonzero(as_tuple=False).squeeze(1)
            keep = torch.ones_like(inds, dtype=torch.bool)
            keep[:len(res.pos_is_gt)] = ~res.pos_is_gt.bool()
            inds = inds[keep]
            proposals.append(
                InstanceData(
                    priors=regressed[inds, 1:], fg_argmax=fg_argmax[inds]))
        return proposals

    def _sampled_guide_labels(self, sampling_result: SamplingResult,
                              proposals: InstanceData,
                              gt_instances: InstanceData) -> Tensor:
        """Guide labels of the sampled refining RoIs (pos first, then neg).

        A positive is guided by the label of the ground truth the refining
        stage assigned it to (a box ``B`` that moved onto another object
        takes that object's class), a negative by the vanilla box head's
        argmax foreground class, as every RoI at inference. A sampler with
        ``add_gt_as_proposals`` puts the ground-truth boxes in front of
        ``proposals`` (see ``BaseSampler.sample``); they are positives of
        their own ground truth.

        Returns:
            Tensor: (num_pos + num_neg, ) labels in [0, num_classes).
        """
        fg_argmax = proposals.fg_argmax
        if getattr(self.refine_sampler, 'add_gt_as_proposals',
                   False) and len(gt_instances) > 0:
            fg_argmax = torch.cat([gt_instances.labels, fg_argmax])
        return torch.cat([
            sampling_result.pos_gt_labels.to(fg_argmax.dtype),
            fg_argmax[sampling_result.neg_inds]
        ])

    def refine_bbox_loss(self, x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         guide_labels: List[Tensor]) -> dict:
        """Refining box head forward and loss.

        Returns:
            dict: :meth:`_refine_bbox_forward` outputs plus ``rois`` and
            ``loss_bbox`` (dict).
        """
        rois = bbox2roi([res.priors for res in sampling_results])
        refine_results = self._refine_bbox_forward(x, rois,
                                                   torch.cat(guide_labels))
        loss_and_target = self.refine_bbox_head.loss_and_target(
            cls_score=refine_results['cls_score'],
            bbox_pred=refine_results['bbox_pred'],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.refine_train_cfg)
        refine_results.update(
            rois=rois, loss_bbox=loss_and_target['loss_bbox'])
        return refine_results

    def refine_mask_loss(self, x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         refine_results: dict,
                         batch_gt_instances: InstanceList,
                         batch_img_metas: List[dict]) -> dict:
        """Refining mask head loss on the refining-stage positives.

        Returns:
            dict: The refining mask head's loss terms (``loss_mask``; e.g.
            ``loss_threshold`` and ``loss_binary`` for ATMask).
        """
        rois = refine_results['rois']
        pos_rows, start = [], 0
        for res in sampling_results:
            pos_rows.append(
                torch.arange(
                    start, start + len(res.pos_priors), device=rois.device))
            start += len(res.pos_priors) + len(res.neg_priors)
        pos_rows = torch.cat(pos_rows)
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        bbox_pred = refine_results['bbox_pred']
        with torch.no_grad():
            mask_rois = self._regress(
                self.refine_bbox_head, rois[pos_rows], pos_labels,
                None if bbox_pred is None else bbox_pred[pos_rows],
                batch_img_metas)
        outputs = self._refine_mask_forward(
            x, mask_rois, refine_results['mask_res_feats'][pos_rows])
        # the head's own loss_and_target, with the targets cropped to B^r
        mask_sampling_results = []
        for i, res in enumerate(sampling_results):
            res = copy.copy(res)
            res.pos_priors = mask_rois[mask_rois[:, 0] == i, 1:]
            mask_sampling_results.append(res)
        head = self.refine_mask_head
        loss_and_target = head.loss_and_target(
            sampling_results=mask_sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.refine_train_cfg,
            **mask_outputs(head, outputs))
        return loss_and_target['loss_mask']

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def _refine_proposals_forward(self, x: Tuple[Tensor], rois: Tensor,
                                  batch_img_metas: List[dict]) -> dict:
        """Both stages on all proposals (inference and ``forward``).

        Returns:
            dict: ``rois`` (the boxes ``B``), ``guide_labels``,
            ``vanilla_cls_score``, ``vanilla_bbox_pred`` and the outputs of
            :meth:`_refine_bbox_forward`.
        """
        vanilla = self._bbox_forward(x, rois)
        num_classes = self.bbox_head.num_classes
        guide_labels = vanilla['cls_score'][:, :num_classes].argmax(dim=1)
        refine_rois = self._regress(self.bbox_head, rois, guide_labels,
                                    vanilla['bbox_pred'], batch_img_metas)
        results = self._refine_bbox_forward(x, refine_rois, guide_labels)
        results.update(
            rois=refine_rois,
            guide_labels=guide_labels,
            vanilla_cls_score=vanilla['cls_score'],
            vanilla_bbox_pred=vanilla['bbox_pred'])
        return results

    def predict_bbox(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     rpn_results_list: InstanceList,
                     rcnn_test_cfg: ConfigType,
                     rescale: bool = False) -> InstanceList:
        """Detections from the fused scores and the refined boxes ``B^r``.

        Returns:
            list[:obj:`InstanceData`]: Per image ``bboxes`` (k, 4),
            ``scores`` (k, ), ``labels`` (k, ) and ``mask_res_feats`` (the
            ``F^-`` source of each detection's proposal, consumed by
            :meth:`predict_mask`).
        """
        if rcnn_test_cfg is None:
            raise ValueError('MaskRefiningRoIHead needs test_cfg.rcnn')
        proposals = [res.bboxes for res in rpn_results_list]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            results_list = empty_instances(
                batch_img_metas,
                rois.device,
                task_type='bbox',
                box_type=self.refine_bbox_head.predict_box_type,
                num_classes=self.refine_bbox_head.num_classes)
            for results in results_list:
                results.mask_res_feats = rois.new_zeros(
                    0, self.mask_head.conv_out_channels, 1, 1)
            return results_list

        refined = self._refine_proposals_forward(x, rois, batch_img_metas)
        cls_scores = self.fuse_cls_scores(refined['vanilla_cls_score'],
                                          refined['cls_score'],
                                          self.refine_alpha)
        results_list = []
        for i, img_meta in enumerate(batch_img_metas):
            inds = (rois[:, 0] == i).nonzero(as_tuple=False).squeeze(1)
            bbox_pred = refined['bbox_pred']
            results, keep = self._predict_refined_single(
                refined['rois'][inds], cls_scores[inds],
                None if bbox_pred is None else bbox_pred[inds], img_meta,
                rcnn_test_cfg, rescale)
            results.mask_res_feats = refined['mask_res_feats'][inds[keep]]
            results_list.append(results)
        return results_list

    def _predict_refined_single(self, rois: Tensor, cls_score: Tensor,
                                bbox_pred: Optional[Tensor], img_meta: dict,
                                rcnn_test_cfg: ConfigType,
                                rescale: bool) -> Tuple[InstanceData, Tensor]:
        """Decode ``B^r`` and run multi-class NMS for one image.

        Like ``BBoxHead._predict_by_feat_single`` but also returns the RoI
        index of each detection.

        Returns:
            tuple: :obj:`InstanceData` with ``bboxes``, ``scores``,
            ``labels``; and the kept RoI indices (k, ).
        """
        head = self.refine_bbox_head
        scores = F.softmax(cls_score, dim=-1)
        img_shape = img_meta['img_shape']
        num_rois = rois.size(0)
        if bbox_pred is not None:
            num_reg = 1 if head.reg_class_agnostic else head.num_classes
            priors = rois[:, 1:].repeat_interleave(num_reg, dim=0)
            bboxes = head.bbox_coder.decode(
                priors,
                bbox_pred.view(-1, head.bbox_coder.encode_size),
                max_shape=img_shape)
            bboxes = get_box_tensor(bboxes).view(num_rois, -1)
        else:
            bboxes = rois[:, 1:].clone()
            bboxes[:, [0, 2]] = bboxes[:, [0, 2]].clamp(0, img_shape[1])
            bboxes[:, [1, 3]] = bboxes[:, [1, 3]].clamp(0, img_shape[0])
        if rescale and bboxes.size(0) > 0:
            scale = bboxes.new_tensor(img_meta['scale_factor']).repeat(
                bboxes.size(1) // 2)
            bboxes = bboxes / scale
        det_bboxes, det_labels, inds = multiclass_nms(
            bboxes,
            scores,
            rcnn_test_cfg.score_thr,
            rcnn_test_cfg.nms,
            rcnn_test_cfg.max_per_img,
            return_inds=True)
        results = InstanceData(
            bboxes=det_bboxes[:, :-1],
            scores=det_bboxes[:, -1],
            labels=det_labels)
        return results, inds // head.num_classes

    def predict_mask(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Refining mask head on the detections' ``B^r`` (with ``F^-``).

        Returns:
            list[:obj:`InstanceData`]: The detections with ``masks``.
        """
        if not all('mask_res_feats' in res for res in results_list):
            raise KeyError(
                'MaskRefiningRoIHead.predict_mask needs the detections of '
                'its own predict_bbox (field "mask_res_feats": the F^- '
                'source of each detection)')
        res_feats = [res.pop('mask_res_feats') for res in results_list]
        mask_rois = bbox2roi([res.bboxes for res in results_list])
        if mask_rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas,
                mask_rois.device,
                task_type='mask',
                instance_results=results_list,
                mask_thr_binary=self.test_cfg.mask_thr_binary)
        outputs = self._refine_mask_forward(x, mask_rois, torch.cat(res_feats))
        num_per_img = [len(res) for res in results_list]
        preds = {
            key: None if value is None else value.split(num_per_img, 0)
            for key, value in mask_outputs(self.refine_mask_head,
                                           outputs).items()
        }
        return self.refine_mask_head.predict_by_feat(
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale,
            **preds)

    def predict(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Detect and segment with the refining module.

        Args:
            x (tuple[Tensor]): Multi-level features, each (N, C, H, W).
            rpn_results_list (list[:obj:`InstanceData`]): Proposals.
            batch_data_samples (list[:obj:`DetDataSample`]): Image metas.
            rescale (bool): Return results in the original image space.

        Returns:
            list[:obj:`InstanceData`]: Per image ``bboxes`` (k, 4) = ``B^r``,
            ``scores`` (k, ) from the fused logits, ``labels`` (k, ) and
            ``masks`` (k, H, W) from the refining mask head.
        """
        batch_img_metas = [
            data_samples.metainfo for data_samples in batch_data_samples
        ]
        with self._record_img_shapes(batch_img_metas):
            # The mask head rescales the boxes together with the masks.
            results_list = self.predict_bbox(
                x,
                batch_img_metas,
                rpn_results_list,
                rcnn_test_cfg=self.test_cfg,
                rescale=False)
            return self.predict_mask(
                x, batch_img_metas, results_list, rescale=rescale)

    def forward(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList = None) -> tuple:
        """Raw outputs of all heads (``mode='tensor'``), no post-processing.

        Returns:
            tuple: vanilla ``cls_score`` and ``bbox_pred``, refining
            ``cls_score`` and ``bbox_pred`` (None when not predicted), and
            the refining mask head's outputs (mask logits) for the first 100
            boxes ``B``.
        """
        metas = [dict(img_shape=None)] * len(rpn_results_list)
        if batch_data_samples is not None:
            metas = [s.metainfo for s in batch_data_samples]
        rois = bbox2roi([res.bboxes for res in rpn_results_list])
        # without data samples there are no image shapes: a head with
        # contextual fusion then raises a clear error
        shapes = (
            self._record_img_shapes(metas)
            if batch_data_samples is not None else contextlib.nullcontext())
        with shapes:
            refined = self._refine_proposals_forward(x, rois, metas)
            mask_preds = self._refine_mask_forward(
                x, refined['rois'][:100], refined['mask_res_feats'][:100])
        return (refined['vanilla_cls_score'], refined['vanilla_bbox_pred'],
                refined['cls_score'], refined['bbox_pred'], mask_preds)
