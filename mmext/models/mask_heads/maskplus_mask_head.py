"""MaskPlus mask head (Xu, Lan, Zhu: "MaskPlus: Improving Mask Generation
for Instance Segmentation", WACV 2020).

MaskPlus extends mmdet's :class:`FCNMaskHead` (4 convs, deconv, 28x28
logits) with four architectural techniques, each switched on by its own
config key and composable in any subset (all off = ``FCNMaskHead``):

* ``context_cfg`` - contextual fusion (Sec. 3.1): a full-image RoI, pooled
  by the mask RoI extractor, goes through a conv stack and is added to every
  RoI feature of that image. The pooling is done by :class:`MaskPlusRoIHead`
  (or its Cascade variant), which passes the result to :meth:`forward` as
  ``context``.
* ``dpm_cfg`` - deconvolutional pyramid module (Sec. 3.2), between the convs
  and the up-sampling deconv.
* ``boundary_refine_cfg`` - boundary refinement on the score map (Sec. 3.3):
  ``DenseBoundaryRefinement`` (MaskPlus' improved one) or
  ``ResidualBoundaryRefinement`` (Peng et al., the Table 3 baseline).
* ``qmt_scales`` - quasi-multitask learning (Sec. 3.4, 4.7): auxiliary mask
  branches at 0.5x (14x14, no deconv) and/or 2x (56x56, one more deconv),
  trained on their own targets and never run at inference.

The fifth technique, biased training (Sec. 3.5), is a schedule on the mask
loss weight: :class:`mmext.engine.hooks.BiasedLossHook`.

Data flow (K RoIs)::

    roi_feats (K, C, 14, 14) [+ context (K, C, 14, 14)]  ---> QMT branches
      -> convs -> [DPM] -> deconv -> conv_logits -> [BR] -> (K, n_cls, 28, 28)

Choices where the paper is silent (block-level ones are documented in
:mod:`.maskplus_blocks`):

* The DPM refines the conv features before the single up-sampling deconv
  ("instead of just delivering the original features to a single
  up-sampling layer", Sec. 3.2); the boundary refinement works on the
  score map and adds a residual to it, as Peng et al.'s BR that it extends.
* The QMT branches are copies of the original mask head (same number and
  width of convs, own weights) with one deconv fewer (0.5x) or one more
  (2x). They start from the same input as the main branch, i.e. after
  contextual fusion. Their losses use ``loss_mask`` times
  ``loss_qmt_weight`` (1.0: the paper adds them with no weight), so biased
  training scales them together with the main mask loss.
* During training (``self.training``) :meth:`forward` returns a tuple
  ``(main_logits, *aux_logits)`` and :meth:`loss_and_target` unpacks it;
  in eval mode only the main logits are computed. Because the aux
  predictions travel inside ``mask_preds``, the head also works in the
  stock ``StandardRoIHead``/``CascadeRoIHead`` when contextual fusion is
  off.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.config import ConfigDict
from mmengine.model import ModuleList, Sequential
from torch import Tensor
from torch.nn.modules.utils import _pair

from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.mask import mask_target
from mmdet.utils import InstanceList, OptConfigType

from .feature_reuse import FeatureReuseMaskHeadMixin
from .maskplus_blocks import ContextFusionBranch
from .memory_format import cpu_channels_last

MaskPreds = Union[Tensor, Tuple[Tensor, ...]]


@MODELS.register_module()
class MaskPlusMaskHead(FeatureReuseMaskHeadMixin, FCNMaskHead):
    """FCN mask head with MaskPlus' contextual fusion, deconvolutional pyramid
    module, boundary refinement and quasi-multitask branches.

    Args:
        context_cfg (dict, optional): Contextual fusion; None disables it.
            Keys: ``channels`` (filters of the conv stack, default
            ``(512, 256, 256)`` as in Sec. 3.1; the last must equal
            ``in_channels``), ``level`` (index into the mask RoI extractor's
            feature levels from which the full-image RoI is pooled; default
            None = let the extractor map the full-image box to a level with
            its own scale rule, i.e. "the same configuration" as the RoI
            branch - the coarsest level for COCO-sized images), and optional
            ``conv_cfg``/``norm_cfg``/``act_cfg`` of
            :class:`ContextFusionBranch`.
        dpm_cfg (dict, optional): Config of the deconvolutional pyramid
            module, e.g. ``dict(type='DeconvPyramidModule', num_levels=2)``;
            ``channels`` is filled in with the conv width. None disables it.
        boundary_refine_cfg (dict, optional): Config of the boundary
            refinement on the logits, ``dict(type='DenseBoundaryRefinement')``
            or ``dict(type='ResidualBoundaryRefinement')``; ``channels`` is
            filled in with the number of mask channels. None disables it.
        qmt_scales (Sequence[float]): Scales of the auxiliary QMT branches
            relative to the main output, each ``2**k`` (``0.5`` = 14x14,
            ``2`` = 56x56 for a 28x28 head). Empty disables QMT.
        loss_qmt_weight (float): Weight of each QMT loss relative to
            ``loss_mask``. Defaults to 1.0.
        with_conv_res (bool): Add an earlier stage's reused feature
            (``res_feat``, e.g. ``F^-`` in MR R-CNN's refining stage) to the
            RoI features through a 1x1 conv, as ``HTCMaskHead``; added
            together with the context, before the QMT branches. Defaults to
            False.
        cpu_channels_last (bool): On the CPU, run the head in channels-last
            memory format (the deconvolutions then skip their NCHW output
            copy; see :mod:`mmext.models.mask_heads.memory_format`). Same
            values up to float rounding; the outputs have channels-last
            strides. Defaults to True.
        **kwargs: Arguments of :class:`FCNMaskHead`.
    """

    def __init__(self,
                 context_cfg: OptConfigType = None,
                 dpm_cfg: OptConfigType = None,
                 boundary_refine_cfg: OptConfigType = None,
                 qmt_scales: Sequence[float] = (),
                 loss_qmt_weight: float = 1.0,
                 with_conv_res: bool = False,
                 cpu_channels_last: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._init_conv_res(with_conv_res)
        self.cpu_channels_last = cpu_channels_last
        feat_channels = (
            self.conv_out_channels if self.num_convs > 0 else self.in_channels)
        num_mask_channels = 1 if self.class_agnostic else self.num_classes

        self.context_level: Optional[int] = None
        self.context_branch: Optional[ContextFusionBranch] = None
        if context_cfg is not None:
            context_cfg = dict(context_cfg)
            self.context_level = context_cfg.pop('level', None)
            channels = tuple(context_cfg.pop('channels', (512, 256, 256)))
            if len(channels) == 0 or channels[-1] != self.in_channels:
                raise ValueError(
                    'MaskPlusMaskHead: context_cfg.channels must end with '
                    f'in_channels={self.in_channels} (the context is added '
                    f'to the RoI features), got {channels}')
            self.context_branch = ContextFusionBranch(
                in_channels=self.in_channels, channels=channels, **context_cfg)

        self.dpm = None
        if dpm_cfg is not None:
            dpm_cfg = dict(dpm_cfg)
            dpm_cfg.setdefault('type', 'DeconvPyramidModule')
            dpm_cfg.setdefault('channels', feat_channels)
            self.dpm = MODELS.build(dpm_cfg)

        self.boundary_refine = None
        if boundary_refine_cfg is not None:
            boundary_refine_cfg = dict(boundary_refine_cfg)
            boundary_refine_cfg.setdefault('channels', num_mask_channels)
            self.boundary_refine = MODELS.build(boundary_refine_cfg)

        self.qmt_scales = tuple(float(s) for s in qmt_scales)
        self.loss_qmt_weight = loss_qmt_weight
        self.qmt_branches = ModuleList()
        main_factor = self.scale_factor if self.upsample is not None else 1
        for scale in self.qmt_scales:
            num_deconvs = math.log2(main_factor * scale) if scale > 0 else -1
            if num_deconvs < 0 or not float(num_deconvs).is_integer():
                raise ValueError(
                    'MaskPlusMaskHead: every qmt_scales entry must be a power '
                    'of 2 that leaves an output at least as large as the RoI '
                    f'features (>= {1 / main_factor}), got {scale}')
            if scale == 1:
                raise ValueError('MaskPlusMaskHead: qmt_scales must differ '
                                 'from 1 (the main branch is the 1x output)')
            self.qmt_branches.append(
                self._build_qmt_branch(int(num_deconvs), num_mask_channels))

    def _build_qmt_branch(self, num_deconvs: int,
                          out_channels: int) -> Sequential:
        """A copy of the plain mask head with ``num_deconvs`` 2x deconvs."""
        layers: List[nn.Module] = []
        in_channels = self.in_channels
        for _ in range(self.num_convs):
            layers.append(
                ConvModule(
                    in_channels,
                    self.conv_out_channels,
                    self.conv_kernel_size,
                    padding=(self.conv_kernel_size - 1) // 2,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg))
            in_channels = self.conv_out_channels
        for _ in range(num_deconvs):
            layers.append(
                ConvModule(
                    in_channels,
                    self.conv_out_channels,
                    kernel_size=2,
                    stride=2,
                    conv_cfg=dict(type='deconv'),
                    act_cfg=dict(type='ReLU')))
            in_channels = self.conv_out_channels
        layers.append(
            build_conv_layer(self.predictor_cfg, in_channels, out_channels, 1))
        return Sequential(*layers)

    def init_weights(self) -> None:
        """Initialize the weights (FCNMaskHead's, plus the QMT logits)."""
        super().init_weights()
        for branch in self.qmt_branches:
            logits = branch[-1]
            nn.init.kaiming_normal_(
                logits.weight, mode='fan_out', nonlinearity='relu')
            nn.init.constant_(logits.bias, 0)

    @property
    def with_context(self) -> bool:
        return self.context_branch is not None

    @property
    def with_dpm(self) -> bool:
        return self.dpm is not None

    @property
    def with_boundary_refine(self) -> bool:
        return self.boundary_refine is not None

    @property
    def with_qmt(self) -> bool:
        return len(self.qmt_branches) > 0

    def forward_context(self, full_image_feats: Tensor) -> Tensor:
        """Turn pooled full-image RoI features into context features.

        Args:
            full_image_feats (Tensor): One full-image RoI per image, pooled
                like the RoI features, shape (N_img, C, S, S).

        Returns:
            Tensor: Context features, shape (N_img, C, S, S).
        """
        if not self.with_context:
            raise RuntimeError('MaskPlusMaskHead.forward_context needs '
                               'context_cfg to be set')
        return self.context_branch(full_image_feats)

    @property
    def extra_mask_inputs(self) -> Tuple[str, ...]:
        """tuple[str]: ``('context', )`` with contextual fusion."""
        return ('context', ) if self.with_context else ()

    def soft_masks(self, outputs: MaskPreds) -> Tensor:
        """Sigmoid of the main logits (the QMT outputs are training-only)."""
        if isinstance(outputs, (tuple, list)):
            outputs = outputs[0]
        return outputs.sigmoid()

    def forward(self,
                x: Tensor,
                context: Optional[Tensor] = None,
                res_feat: Optional[Tensor] = None,
                return_feat: bool = False):
        """Forward RoI features.

        Args:
            x (Tensor): RoI features, shape (K, C, S, S).
            context (Tensor, optional): Context features of the image of each
                RoI (the output of :meth:`forward_context` indexed by the RoI
                batch index), shape (K, C, S, S). Required iff contextual
                fusion is on.

        Returns:
            Tensor or tuple[Tensor]: Mask logits of shape
            (K, num_classes, 2S, 2S); in training mode with QMT, a tuple of
            them followed by each QMT branch's logits.
        """
        if self.with_context:
            if context is None:
                raise ValueError(
                    'MaskPlusMaskHead with context_cfg needs the full-image '
                    'context: use it in MaskPlusRoIHead or '
                    'MaskPlusCascadeRoIHead (roi_head.type)')
            x = x + context
        elif context is not None:
            raise ValueError('MaskPlusMaskHead got a context but context_cfg '
                             'is None')
        x = self._add_res_feat(x, res_feat)
        if self.cpu_channels_last:
            x = cpu_channels_last(x)
        qmt_inputs = x
        for conv in self.convs:
            x = conv(x)
        if self.with_dpm:
            x = self.dpm(x)
        feat = x
        if self.upsample is not None:
            x = self.upsample(x)
            if self.upsample_method == 'deconv':
                x = self.relu(x)
        mask_preds = self.conv_logits(x)
        if self.with_boundary_refine:
            mask_preds = self.boundary_refine(mask_preds)
        if self.training and self.with_qmt:
            mask_preds = (mask_preds, ) + tuple(
                branch(qmt_inputs) for branch in self.qmt_branches)
        if return_feat:
            return mask_preds, feat
        return mask_preds

    def loss_and_target(self, mask_preds: MaskPreds,
                        sampling_results: List[SamplingResult],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict) -> dict:
        """Mask loss, plus one ``loss_mask_qmt{size}`` per QMT branch.

        Args:
            mask_preds (Tensor or tuple[Tensor]): Output of :meth:`forward`:
                main logits (num_pos, num_classes, h, w), optionally followed
                by the QMT logits.
            sampling_results (list[:obj:`SamplingResult`]): Sampling results.
            batch_gt_instances (list[:obj:`InstanceData`]): Ground truth with
                ``masks``.
            rcnn_train_cfg (:obj:`ConfigDict`): ``train_cfg`` of the R-CNN
                stage; its ``mask_size`` is the size of the main output.

        Returns:
            dict: ``loss_mask`` (a dict of loss terms) and ``mask_targets``
            (targets of the main output).
        """
        aux_preds: Sequence[Tensor] = ()
        if isinstance(mask_preds, (tuple, list)):
            mask_preds, *aux_preds = mask_preds
            if len(aux_preds) != len(self.qmt_scales):
                raise ValueError(
                    f'MaskPlusMaskHead: got {len(aux_preds)} QMT predictions '
                    f'for qmt_scales={self.qmt_scales}')
        results = super().loss_and_target(mask_preds, sampling_results,
                                          batch_gt_instances, rcnn_train_cfg)
        if len(aux_preds) == 0:
            return results

        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if self.class_agnostic:
            pos_labels = torch.zeros_like(pos_labels)
        main_h, main_w = _pair(rcnn_train_cfg.mask_size)
        for scale, preds in zip(self.qmt_scales, aux_preds):
            size = (round(main_h * scale), round(main_w * scale))
            if preds.size(0) == 0:
                loss = preds.sum()
            else:
                if tuple(preds.shape[-2:]) != size:
                    raise ValueError(
                        f'MaskPlusMaskHead: QMT branch x{scale} predicts '
                        f'{tuple(preds.shape[-2:])} masks but '
                        f'train_cfg.mask_size={rcnn_train_cfg.mask_size} '
                        f'x{scale} is {size}')
                targets = self._get_targets_at(sampling_results,
                                               batch_gt_instances,
                                               rcnn_train_cfg, size)
                loss = self.loss_mask(preds, targets, pos_labels)
            name = f'loss_mask_qmt{size[0]}' if size[0] == size[1] else \
                f'loss_mask_qmt{size[0]}x{size[1]}'
            results['loss_mask'][name] = loss * self.loss_qmt_weight
        return results

    @staticmethod
    def _get_targets_at(sampling_results: List[SamplingResult],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict,
                        size: Tuple[int, int]) -> Tensor:
        """Mask targets of the positive RoIs at ``size`` (h, w)."""
        cfg = ConfigDict(
            mask_size=size,
            soft_mask_target=rcnn_train_cfg.get('soft_mask_target', False))
        return mask_target(
            [res.pos_priors for res in sampling_results],
            [res.pos_assigned_gt_inds for res in sampling_results],
            [res.masks for res in batch_gt_instances], cfg)
