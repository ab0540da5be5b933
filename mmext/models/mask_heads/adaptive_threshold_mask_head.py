"""Adaptive-threshold mask head of ATMask R-CNN.

Liu et al., "Supervised adaptive threshold network for instance segmentation"
(``papers/atmask-rcnn_adaptive-threshold.md``). Mask R-CNN binarises its mask
probabilities with one fixed threshold (0.5). ATMask R-CNN adds a threshold
branch that predicts a per-pixel threshold map ``T`` beside the probability map
``P`` and trains both through a differentiable binarisation
``B = sigmoid(k (P - T))`` (Eq. 2).

Choices where the paper is vague (each is a constructor argument):

* **Threshold branch layout.** The paper says ``R_t`` is pooled from P2,
  brought down to the resolution of ``R_p`` by a 3x3 convolution and then
  fused. Here the branch is: 3x3 conv with stride
  ``threshold_roi_feat_size // roi_feat_size`` (2 for 28x28 features, 1 when
  the threshold features are already 14x14), then ``num_threshold_convs``
  further 3x3 convs (default 0: the text fuses ``R_t`` directly), fusion,
  then its own upsampling layer (same ``upsample_cfg`` as the probability
  branch) and 1x1 logits conv.
  Its width ``threshold_channels`` defaults to the probability branch's; a
  narrower branch (the toy configs, for speed) reduces the FPN maps with a
  bias-free 1x1 conv *before* RoI pooling, which equals reducing the pooled
  features because both are linear, and makes the 28x28 pooling cheaper.
* **Fusion.** P2T: ``F_T <- conv(concat(F_P, F_T))``, the threshold features
  see the probability features after the four convs. T2P (applied after P2T):
  ``F_P <- conv(concat(F_P, F_T))``, the fused threshold features are fed back
  into the probability features before upsampling. The fusion conv is a 3x3
  ``ConvModule`` (the paper's dotted arrows) with ReLU; ``fusion_kernel_size``
  makes it 1x1 when cost matters.
* **Threshold map per class.** ``T`` has as many channels as ``P`` (one per
  class, or one when ``class_agnostic``), so the class selection of
  ``FCNMaskHead`` applies to both maps.
* **Threshold target** (``threshold_target``), the BCE target of ``T``:

  - ``'inverse_mask'`` (default, used by all configs): ``1 - mask``. Section
    3.3 states that the threshold map is low on the object and high on the
    background.
  - ``'boundary'``: a band of ``boundary_width`` target pixels on both sides
    of the mask edge (dilation minus erosion), mapped to
    ``boundary_target_range`` (default ``(0.3, 0.7)``: 0.3 off the band, 0.7
    on it, DBNet's threshold-map range). Pixels near the edge need a higher
    probability to become foreground; elsewhere a low threshold suffices.
  - ``'none'``: no threshold loss, ``T`` is learned through ``B`` only.

* **Losses** (Eq. 4-5). ``loss_mask`` is FCNMaskHead's BCE on ``P``,
  ``loss_threshold`` the BCE of ``T`` against the threshold target and
  ``loss_binary`` the BCE of ``B`` against the mask target, weighted by
  lambda = 2 through its ``loss_weight``. All three use mmdet's
  ``CrossEntropyLoss(use_mask=True)`` on logits (``k (P - T)`` is the logit
  of ``B``), which selects the ground-truth class channel.
* **Inference.** A pixel is foreground where ``P >= T``, decided at image
  resolution on the pasted maps, the way mmdet's ``_do_paste_mask`` pastes.
  ``P_img`` is pasted exactly as ``FCNMaskHead`` pastes it (zero outside the
  RoI, so it fades over the half pixel around the box); ``T_img`` extends the
  threshold map's border outwards (normalised paste), like the constant
  ``mask_thr_binary`` of ``FCNMaskHead``, and pixels the RoI does not reach are
  background. Hence a constant ``T = 0.5`` reproduces ``FCNMaskHead`` with
  ``mask_thr_binary=0.5`` exactly. ``k`` does not change the decision.
  Pasting is linear, so the difference ``P_img - T_img`` is computed as one
  paste of the RoI-resolution difference map, padded by one RoI pixel (zeros
  for ``P``, the border for ``T``; ``paste_threshold_difference``); this is
  the three-map paste (``paste_multichannel_masks`` of P, T and the
  footprint) up to float rounding at ties, at a third of the cost.
  ``rcnn_test_cfg.mask_thr_binary`` is not used as a threshold; a negative
  value still asks for soft masks (uint8, ``255 * B``) as in ``FCNMaskHead``.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer, build_upsample_layer
from mmengine.config import ConfigDict
from mmengine.model import ModuleList
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.roi_heads.mask_heads.fcn_mask_head import (BYTES_PER_FLOAT,
                                                             GPU_MEM_LIMIT,
                                                             FCNMaskHead,
                                                             _do_paste_mask)
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import empty_instances
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, InstanceList
from .feature_reuse import FeatureReuseMaskHeadMixin
from .memory_format import cpu_channels_last

THRESHOLD_TARGETS = ('inverse_mask', 'boundary', 'none')


@MODELS.register_module()
class AdaptiveThresholdMaskHead(FeatureReuseMaskHeadMixin, FCNMaskHead):
    """FCN mask head with an adaptive threshold branch (ATMask R-CNN).

    The probability branch is ``FCNMaskHead`` unchanged (``num_convs`` convs
    on the ``roi_feat_size`` RoI features ``R_p``, upsampling, logits). The
    threshold branch reads its own RoI features ``R_t``, given by the RoI head
    (``AdaptiveThresholdRoIHead``: P2 only, or P2-P5, pooled at
    ``threshold_roi_feat_size``). See the module docstring for the design.

    Args:
        threshold_roi_feat_size (int): Side of the threshold RoI features.
            Must be a multiple of ``roi_feat_size``; the first threshold conv
            has that ratio as its stride. Defaults to 28 (2x of 14).
        threshold_in_channels (int, optional): Channels of the feature maps
            the threshold features come from (FPN channels). Defaults to
            ``in_channels``.
        threshold_channels (int, optional): Width of the threshold branch.
            Defaults to ``conv_out_channels``. When it is smaller than
            ``threshold_in_channels``, a bias-free 1x1 conv
            (``threshold_reduce``) reduces the feature maps before RoI
            pooling (see ``reduce_threshold_features``), and the threshold RoI
            extractor must output ``threshold_channels``.
        num_threshold_convs (int): Extra 3x3 convs after the downsampling
            conv. Defaults to 0.
        with_threshold_branch (bool): If False the head has no threshold
            branch and uses the constant ``constant_threshold`` as ``T``: it
            then predicts exactly what ``FCNMaskHead`` predicts with
            ``mask_thr_binary=constant_threshold`` and trains exactly like
            it (``loss_mask`` only: no ``loss_binary`` on
            ``k (P - constant_threshold)``, whose gradient would change
            ``P``). Defaults to True.
        constant_threshold (float): ``T`` when the branch is off.
            Defaults to 0.5.
        with_p2t_fusion (bool): Probability-to-threshold fusion.
            Defaults to True.
        with_t2p_fusion (bool): Threshold-to-probability fusion.
            Defaults to True.
        fusion_kernel_size (int): Kernel of the fusion convs. Defaults to 3.
        k (float): Amplifying factor of the differentiable binarisation
            ``B = sigmoid(k (P - T))`` (the paper's k, Eq. 2; 2 in the final
            model, 1 in the ablations). Defaults to 2.0.
        threshold_target (str): Target of ``T`` for ``loss_threshold``:
            ``'inverse_mask'`` (``1 - mask``), ``'boundary'`` (dilated mask
            edge, see ``boundary_width`` and ``boundary_target_range``) or
            ``'none'`` (no threshold loss, ``T`` learned through ``B`` only).
            Defaults to ``'inverse_mask'``.
        boundary_width (int): Half width, in target pixels, of the edge band
            of the ``'boundary'`` target. Defaults to 1.
        boundary_target_range (tuple[float, float]): Threshold target off and
            on the edge band for ``'boundary'``. Defaults to (0.3, 0.7).
        loss_threshold (dict): BCE on ``T`` (Eq. 4). Defaults to
            ``CrossEntropyLoss(use_mask=True, loss_weight=1.0)``.
        loss_binary (dict): BCE on ``B`` (Eq. 4); its ``loss_weight`` is the
            paper's lambda (Eq. 5). Defaults to
            ``CrossEntropyLoss(use_mask=True, loss_weight=2.0)``. Unused
            without the threshold branch.
        with_conv_res (bool): Add an earlier stage's reused feature
            (``res_feat``, HTC's mask information flow, e.g. ``F^-`` in MR
            R-CNN's refining stage) to ``R_p`` through a 1x1 conv, as
            ``HTCMaskHead``. Defaults to False.
        cpu_channels_last (bool): On the CPU, run the head in channels-last
            memory format (the deconvolutions then skip their NCHW output
            copy; see :mod:`mmext.models.mask_heads.memory_format`). Same
            values up to float rounding; the outputs have channels-last
            strides. Defaults to True.
        **kwargs: ``FCNMaskHead`` arguments (``num_convs``, ``roi_feat_size``,
            ``in_channels``, ``conv_out_channels``, ``num_classes``,
            ``class_agnostic``, ``upsample_cfg``, ``conv_cfg``, ``norm_cfg``,
            ``predictor_cfg``, ``loss_mask`` = BCE on ``P``, ``init_cfg``).
    """

    def __init__(self,
                 threshold_roi_feat_size: int = 28,
                 threshold_in_channels: Optional[int] = None,
                 threshold_channels: Optional[int] = None,
                 num_threshold_convs: int = 0,
                 with_threshold_branch: bool = True,
                 constant_threshold: float = 0.5,
                 with_p2t_fusion: bool = True,
                 with_t2p_fusion: bool = True,
                 fusion_kernel_size: int = 3,
                 k: float = 2.0,
                 threshold_target: str = 'inverse_mask',
                 boundary_width: int = 1,
                 boundary_target_range: Sequence[float] = (0.3, 0.7),
                 loss_threshold: ConfigType = dict(
                     type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
                 loss_binary: ConfigType = dict(
                     type='CrossEntropyLoss', use_mask=True, loss_weight=2.0),
                 with_conv_res: bool = False,
                 cpu_channels_last: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._init_conv_res(with_conv_res)
        self.cpu_channels_last = cpu_channels_last
        if threshold_target not in THRESHOLD_TARGETS:
            raise ValueError(
                f'mask_head.threshold_target must be one of '
                f'{THRESHOLD_TARGETS}, got {threshold_target!r}')
        if k <= 0:
            raise ValueError(f'mask_head.k must be positive, got {k}')
        if not with_threshold_branch and (with_p2t_fusion or with_t2p_fusion):
            raise ValueError(
                'mask_head.with_p2t_fusion/with_t2p_fusion need the threshold '
                'branch (with_threshold_branch=True)')
        self.with_threshold_branch = with_threshold_branch
        self.constant_threshold = float(constant_threshold)
        self.with_p2t_fusion = with_p2t_fusion
        self.with_t2p_fusion = with_t2p_fusion
        self.k = float(k)
        self.threshold_target = threshold_target
        self.boundary_width = int(boundary_width)
        self.boundary_target_range = tuple(float(v)
                                           for v in boundary_target_range)
        if not with_threshold_branch:
            return
        self.loss_binary = MODELS.build(loss_binary)

        if threshold_roi_feat_size % self.roi_feat_size[0] != 0:
            raise ValueError(
                f'mask_head.threshold_roi_feat_size '
                f'({threshold_roi_feat_size}) must be a multiple of '
                f'roi_feat_size ({self.roi_feat_size[0]})')
        self.threshold_roi_feat_size = threshold_roi_feat_size
        self.threshold_in_channels = (
            self.in_channels
            if threshold_in_channels is None else threshold_in_channels)
        self.threshold_channels = (
            self.conv_out_channels
            if threshold_channels is None else threshold_channels)
        self.num_threshold_convs = num_threshold_convs
        if threshold_target != 'none':
            self.loss_threshold = MODELS.build(loss_threshold)

        channels = self.threshold_channels
        if channels < self.threshold_in_channels:
            # Linear and bias-free, so it commutes with RoIAlign: applied to
            # the feature maps before pooling it equals reducing the pooled
            # 28x28 RoI features, and the pooling handles fewer channels.
            self.threshold_reduce = nn.Conv2d(
                self.threshold_in_channels, channels, 1, bias=False)
            first_in_channels = channels
        else:
            self.threshold_reduce = None
            first_in_channels = self.threshold_in_channels
        padding = (self.conv_kernel_size - 1) // 2
        self.threshold_convs = ModuleList()
        # The first conv brings R_t down to the resolution of R_p.
        self.threshold_convs.append(
            ConvModule(
                first_in_channels,
                channels,
                self.conv_kernel_size,
                stride=threshold_roi_feat_size // self.roi_feat_size[0],
                padding=padding,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg))
        for _ in range(num_threshold_convs):
            self.threshold_convs.append(
                ConvModule(
                    channels,
                    channels,
                    self.conv_kernel_size,
                    padding=padding,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg))
        # Concatenation, not summation: P is high where T is low (Sec. 3.3).
        fusion_kwargs = dict(
            padding=(fusion_kernel_size - 1) // 2,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg)
        fused_channels = self.conv_out_channels + channels
        self.p2t_fusion = ConvModule(
            fused_channels, channels, fusion_kernel_size, **
            fusion_kwargs) if with_p2t_fusion else None
        self.t2p_fusion = ConvModule(
            fused_channels, self.conv_out_channels, fusion_kernel_size, **
            fusion_kwargs) if with_t2p_fusion else None

        self.threshold_upsample = self._build_upsample(channels)
        out_channels = 1 if self.class_agnostic else self.num_classes
        self.threshold_logits = build_conv_layer(self.predictor_cfg, channels,
                                                 out_channels, 1)

    def _build_upsample(self, in_channels: int) -> Optional[nn.Module]:
        """Upsampling layer of the threshold branch, as in ``FCNMaskHead``."""
        upsample_cfg = self.upsample_cfg.copy()
        if self.upsample_method is None:
            return None
        if self.upsample_method == 'deconv':
            upsample_cfg.update(
                in_channels=in_channels,
                out_channels=in_channels,
                kernel_size=self.scale_factor,
                stride=self.scale_factor)
        elif self.upsample_method == 'carafe':
            upsample_cfg.update(
                channels=in_channels, scale_factor=self.scale_factor)
        else:
            align_corners = (None
                             if self.upsample_method == 'nearest' else False)
            upsample_cfg.update(
                scale_factor=self.scale_factor,
                mode=self.upsample_method,
                align_corners=align_corners)
        return build_upsample_layer(upsample_cfg)

    def init_weights(self) -> None:
        """Initialize the weights (threshold layers like FCNMaskHead's)."""
        super().init_weights()
        if not self.with_threshold_branch:
            return
        for m in [self.threshold_upsample, self.threshold_logits]:
            if m is None:
                continue
            if hasattr(m, 'init_weights'):
                m.init_weights()
            elif hasattr(m, 'weight') and hasattr(m, 'bias'):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu')
                nn.init.constant_(m.bias, 0)

    def _upsample_and_predict(self, x: Tensor, upsample: Optional[nn.Module],
                              logits: nn.Module) -> Tensor:
        if upsample is not None:
            x = upsample(x)
            if self.upsample_method == 'deconv':
                x = self.relu(x)
        return logits(x)

    @property
    def threshold_roi_channels(self) -> int:
        """int: channels the threshold RoI extractor must output."""
        if self.threshold_reduce is not None:
            return self.threshold_channels
        return self.threshold_in_channels

    def reduce_threshold_features(self,
                                  feats: Sequence[Tensor]) -> List[Tensor]:
        """Channel reduction of the threshold branch, before RoI pooling.

        Pooling is linear per channel and the reduction is a bias-free 1x1
        conv, so ``RoIAlign(reduce(P2)) == reduce(RoIAlign(P2))``; reducing
        first pools ``threshold_channels`` instead of ``threshold_in_channels``
        channels at 28x28, which is where the threshold branch spends most.

        Args:
            feats (Sequence[Tensor]): Feature maps (B, threshold_in_channels,
                H, W) the threshold features are pooled from.

        Returns:
            list[Tensor]: The maps with ``threshold_roi_channels`` channels
            (unchanged when the branch is as wide as its input).
        """
        if self.threshold_reduce is None:
            return list(feats)
        return [self.threshold_reduce(f) for f in feats]

    @property
    def extra_mask_inputs(self) -> Tuple[str, ...]:
        """tuple[str]: ``('threshold_x', )`` with the threshold branch."""
        return ('threshold_x', ) if self.with_threshold_branch else ()

    def mask_outputs(self, outputs: Tuple[Tensor, Optional[Tensor]]) -> dict:
        """``forward``'s pair as ``mask_preds`` and ``threshold_preds``."""
        mask_preds, threshold_preds = outputs
        return dict(mask_preds=mask_preds, threshold_preds=threshold_preds)

    def soft_masks(self, outputs: Tuple[Tensor, Optional[Tensor]]) -> Tensor:
        """``B = sigmoid(k (P - T))``, the soft map the head binarises at
        0.5 (``P >= T``); without the threshold branch ``sigmoid(P)``, as
        ``FCNMaskHead`` (same 0.5 decision).

        Args:
            outputs (tuple[Tensor, Tensor | None]): :meth:`forward`'s pair.

        Returns:
            Tensor: (n, c, h, w) in [0, 1].
        """
        mask_preds, threshold_preds = outputs
        if threshold_preds is None:
            return mask_preds.sigmoid()
        return self.binary_logits(mask_preds, threshold_preds).sigmoid()

    def forward(self,
                x: Tensor,
                threshold_x: Optional[Tensor] = None,
                res_feat: Optional[Tensor] = None,
                return_feat: bool = False):
        """Forward both branches.

        Args:
            x (Tensor): Probability RoI features ``R_p``, shape
                (n, in_channels, s, s), s = ``roi_feat_size``.
            threshold_x (Tensor, optional): Threshold RoI features ``R_t``,
                shape (n, C_t, S, S), C_t = ``threshold_roi_channels``,
                S = ``threshold_roi_feat_size``. Required when the threshold
                branch is on, ignored otherwise.
            res_feat (Tensor, optional): An earlier stage's reused feature
                (n, conv_out_channels, s, s), added to ``R_p`` through
                ``conv_res`` (needs ``with_conv_res=True``).
            return_feat (bool): Also return the reused feature: the
                probability features the logits are upsampled from (after
                T2P fusion), (n, conv_out_channels, s, s).

        Returns:
            tuple[Tensor, Tensor | None]: Probability logits and threshold
            logits, each of shape (n, num_classes or 1, 2s, 2s); the
            threshold logits are None when the branch is off. With
            ``return_feat``: ``((mask logits, threshold logits), feat)``.
        """
        x = self._add_res_feat(x, res_feat)
        if self.cpu_channels_last:
            x = cpu_channels_last(x)
            threshold_x = cpu_channels_last(threshold_x)
        for conv in self.convs:
            x = conv(x)
        threshold_preds = None
        if self.with_threshold_branch:
            if threshold_x is None:
                raise ValueError(
                    'AdaptiveThresholdMaskHead.forward needs the threshold '
                    'RoI features (threshold_x) when '
                    'with_threshold_branch=True')
            t = threshold_x
            for conv in self.threshold_convs:
                t = conv(t)
            if self.p2t_fusion is not None:
                t = self.p2t_fusion(torch.cat([x, t], dim=1))
            if self.t2p_fusion is not None:
                x = self.t2p_fusion(torch.cat([x, t], dim=1))
            threshold_preds = self._upsample_and_predict(
                t, self.threshold_upsample, self.threshold_logits)
        mask_preds = self._upsample_and_predict(x, self.upsample,
                                                self.conv_logits)
        if return_feat:
            return (mask_preds, threshold_preds), x
        return mask_preds, threshold_preds

    def threshold_map(self, mask_preds: Tensor,
                      threshold_preds: Optional[Tensor]) -> Tensor:
        """``T`` in [0, 1]: sigmoid of the threshold logits, or the constant.

        Args:
            mask_preds (Tensor): Probability logits (n, c, h, w), used for
                the shape of the constant map.
            threshold_preds (Tensor, optional): Threshold logits (n, c, h, w).

        Returns:
            Tensor: Threshold map of shape (n, c, h, w).
        """
        if threshold_preds is None:
            return torch.full_like(mask_preds, self.constant_threshold)
        return threshold_preds.sigmoid()

    def binary_logits(self, mask_preds: Tensor,
                      threshold_preds: Optional[Tensor]) -> Tensor:
        """Logits ``k (P - T)`` of the differentiable binary map ``B``.

        Args:
            mask_preds (Tensor): Probability logits (n, c, h, w).
            threshold_preds (Tensor, optional): Threshold logits (n, c, h, w).

        Returns:
            Tensor: ``k (P - T)``, shape (n, c, h, w); ``B`` is its sigmoid.
        """
        return self.k * (
            mask_preds.sigmoid() -
            self.threshold_map(mask_preds, threshold_preds))

    def get_threshold_targets(self, mask_targets: Tensor) -> Tensor:
        """Targets of the threshold map from the mask targets.

        Args:
            mask_targets (Tensor): Mask targets (n, h, w) in [0, 1].

        Returns:
            Tensor: Threshold targets (n, h, w) in [0, 1].
        """
        if self.threshold_target == 'inverse_mask':
            return 1. - mask_targets
        if self.threshold_target == 'boundary':
            r = self.boundary_width
            m = mask_targets[:, None]
            # max_pool pads with -inf, so the RoI border is not an edge: the
            # object continues beyond the box.
            dilated = F.max_pool2d(m, 2 * r + 1, stride=1, padding=r)
            eroded = -F.max_pool2d(-m, 2 * r + 1, stride=1, padding=r)
            band = (dilated - eroded)[:, 0]
            low, high = self.boundary_target_range
            return low + (high - low) * band
        raise ValueError(
            f'threshold_target {self.threshold_target!r} has no targets')

    def loss_and_target(self,
                        mask_preds: Tensor,
                        sampling_results: List[SamplingResult],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict,
                        threshold_preds: Optional[Tensor] = None) -> dict:
        """Losses on ``P``, ``T`` and ``B`` (Eq. 4-5).

        Args:
            mask_preds (Tensor): Probability logits (num_pos, c, h, w).
            sampling_results (List[obj:SamplingResult]): Sampling results.
            batch_gt_instances (list[:obj:`InstanceData`]): Ground truth with
                ``masks``.
            rcnn_train_cfg (obj:ConfigDict): `train_cfg` of RCNN.
            threshold_preds (Tensor, optional): Threshold logits
                (num_pos, c, h, w); None when the branch is off.

        Returns:
            dict: ``loss_mask`` (dict with ``loss_mask``; with the threshold
            branch also ``loss_binary`` and, unless the target is ``'none'``,
            ``loss_threshold``) and ``mask_targets`` (num_pos, h, w).
        """
        if self.with_threshold_branch and threshold_preds is None:
            raise ValueError('threshold_preds are required when '
                             'with_threshold_branch=True')
        results = super().loss_and_target(
            mask_preds=mask_preds,
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=rcnn_train_cfg)
        if not self.with_threshold_branch:
            # FCNMaskHead's training: a loss on k (P - constant) would push
            # P away from the constant and change what P learns.
            return results
        losses = results['loss_mask']
        mask_targets = results['mask_targets']
        with_threshold_loss = (
            self.with_threshold_branch and self.threshold_target != 'none')

        if mask_preds.size(0) == 0:
            zero = mask_preds.sum() * 0.
            if threshold_preds is not None:
                zero = zero + threshold_preds.sum() * 0.
            losses['loss_binary'] = zero
            if with_threshold_loss:
                losses['loss_threshold'] = zero
            return results

        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        labels = (
            torch.zeros_like(pos_labels)
            if self.class_agnostic else pos_labels)
        # Only the ground-truth class channel enters the losses, so select it
        # before the sigmoids instead of activating every class.
        inds = torch.arange(labels.numel(), device=labels.device)
        mask_preds = mask_preds[inds, labels][:, None]
        if threshold_preds is not None:
            threshold_preds = threshold_preds[inds, labels][:, None]
        first_class = torch.zeros_like(labels)
        losses['loss_binary'] = self.loss_binary(
            self.binary_logits(mask_preds, threshold_preds), mask_targets,
            first_class)
        if with_threshold_loss:
            losses['loss_threshold'] = self.loss_threshold(
                threshold_preds, self.get_threshold_targets(mask_targets),
                first_class)
        return results

    def predict_by_feat(self,
                        mask_preds: Tuple[Tensor],
                        results_list: List[InstanceData],
                        batch_img_metas: List[dict],
                        rcnn_test_cfg: ConfigDict,
                        rescale: bool = False,
                        activate_map: bool = False,
                        threshold_preds: Optional[Tuple[Tensor]] = None
                        ) -> InstanceList:
        """Masks of a batch, foreground where ``P >= T`` at image resolution.

        Args:
            mask_preds (tuple[Tensor]): Probability logits per image, each
                (n, c, h, w).
            results_list (list[:obj:`InstanceData`]): Detections per image.
            batch_img_metas (list[dict]): Image meta information.
            rcnn_test_cfg (obj:`ConfigDict`): `test_cfg` of R-CNN.
            rescale (bool): Return masks in the original image space.
            activate_map (bool): Inputs are already probabilities (P and T),
                not logits.
            threshold_preds (tuple[Tensor], optional): Threshold logits per
                image, each (n, c, h, w). None: constant threshold.

        Returns:
            list[:obj:`InstanceData`]: Detections with ``masks``
            (n, H, W) added.
        """
        assert len(mask_preds) == len(results_list) == len(batch_img_metas)
        if threshold_preds is None:
            threshold_preds = (None, ) * len(mask_preds)
        for img_id, img_meta in enumerate(batch_img_metas):
            results = results_list[img_id]
            bboxes = results.bboxes
            if bboxes.shape[0] == 0:
                results_list[img_id] = empty_instances(
                    [img_meta],
                    bboxes.device,
                    task_type='mask',
                    instance_results=[results],
                    mask_thr_binary=rcnn_test_cfg.mask_thr_binary)[0]
            else:
                results.masks = self._predict_by_feat_single(
                    mask_preds=mask_preds[img_id],
                    bboxes=bboxes,
                    labels=results.labels,
                    img_meta=img_meta,
                    rcnn_test_cfg=rcnn_test_cfg,
                    rescale=rescale,
                    activate_map=activate_map,
                    threshold_preds=threshold_preds[img_id])
        return results_list

    def _predict_by_feat_single(self,
                                mask_preds: Tensor,
                                bboxes: Tensor,
                                labels: Tensor,
                                img_meta: dict,
                                rcnn_test_cfg: ConfigDict,
                                rescale: bool = False,
                                activate_map: bool = False,
                                threshold_preds: Optional[Tensor] = None
                                ) -> Tensor:
        """Masks of one image: paste ``P`` and ``T`` and compare them.

        Follows ``FCNMaskHead._predict_by_feat_single`` (rescaling, chunks,
        CPU one-by-one pasting); see the module docstring for the pasting.

        Args:
            mask_preds (Tensor): Probability logits (n, c, h, w).
            bboxes (Tensor): Boxes (n, 4); rescaled in place if ``rescale``.
            labels (Tensor): Labels (n, ).
            img_meta (dict): Image meta information.
            rcnn_test_cfg (obj:`ConfigDict`): `test_cfg` of R-CNN.
            rescale (bool): Return masks in the original image space.
            activate_map (bool): Inputs are probabilities, not logits.
            threshold_preds (Tensor, optional): Threshold logits (n, c, h, w);
                None: ``constant_threshold``.

        Returns:
            Tensor: Masks (n, H, W), bool (uint8 soft masks if
            ``mask_thr_binary < 0``).
        """
        scale_factor = bboxes.new_tensor(img_meta['scale_factor']).repeat(
            (1, 2))
        img_h, img_w = img_meta['ori_shape'][:2]
        device = bboxes.device

        if activate_map:
            prob = mask_preds.to(bboxes)
            thr = (None
                   if threshold_preds is None else threshold_preds.to(bboxes))
        else:
            prob = mask_preds.sigmoid()
            thr = (None
                   if threshold_preds is None else threshold_preds.sigmoid())

        if rescale:  # in-place, as FCNMaskHead does
            bboxes /= scale_factor
        else:
            w_scale, h_scale = scale_factor[0, 0], scale_factor[0, 1]
            img_h = np.round(img_h * h_scale.item()).astype(np.int32)
            img_w = np.round(img_w * w_scale.item()).astype(np.int32)

        N = len(prob)
        # P, T and the RoI footprint are pasted together.
        maps_per_roi = 1 if thr is None else 3
        if device.type == 'cpu':
            num_chunks = N
        else:
            num_chunks = int(
                np.ceil(N * maps_per_roi * int(img_h) * int(img_w) *
                        BYTES_PER_FLOAT / GPU_MEM_LIMIT))
            assert num_chunks <= N, \
                'Default GPU_MEM_LIMIT is too small; try increasing it'
        chunks = torch.chunk(torch.arange(N, device=device), num_chunks)

        soft = rcnn_test_cfg.mask_thr_binary < 0
        im_mask = torch.zeros(
            N,
            img_h,
            img_w,
            device=device,
            dtype=torch.uint8 if soft else torch.bool)

        if not self.class_agnostic:
            prob = prob[range(N), labels][:, None]
            if thr is not None:
                thr = thr[range(N), labels][:, None]

        if thr is not None:
            # the padded difference maps of all RoIs at once; the loop below
            # (one RoI at a time on CPU) only pastes
            diff_maps = pad_threshold_difference(prob, thr)
        for inds in chunks:
            if thr is None:
                diff, inside, spatial_inds = self._paste_constant_difference(
                    prob[inds],
                    bboxes[inds],
                    img_h,
                    img_w,
                    skip_empty=device.type == 'cpu')
            else:
                diff, inside, spatial_inds = paste_padded_difference(
                    diff_maps[inds],
                    bboxes[inds],
                    img_h,
                    img_w,
                    skip_empty=device.type == 'cpu')
            if soft:
                chunk = torch.sigmoid(self.k * diff) * inside * 255
                chunk = chunk.to(dtype=torch.uint8)
            else:
                chunk = (diff >= 0) & inside
            im_mask[(inds, ) + spatial_inds] = chunk
        return im_mask

    def _paste_constant_difference(
            self, prob: Tensor, boxes: Tensor, img_h: int, img_w: int,
            skip_empty: bool) -> Tuple[Tensor, Tensor, tuple]:
        """Paste ``P - constant_threshold`` into the image (branch off).

        Args:
            prob (Tensor): ``P``, (n, 1, h, w).
            boxes (Tensor): Boxes (n, 4) in image coordinates.
            img_h (int): Image height.
            img_w (int): Image width.
            skip_empty (bool): Paste only the region around the boxes (see
                ``_do_paste_mask``).

        Returns:
            tuple: ``P_img - T`` (n, H', W'), a bool map of the pixels the
            RoI reaches (a broadcastable True: outside the RoI ``P_img`` is
            0 < T anyway), and the slices of the pasted region in the image
            (empty when the whole image was pasted).
        """
        prob_img, spatial_inds = _do_paste_mask(
            prob, boxes, img_h, img_w, skip_empty=skip_empty)
        inside = prob_img.new_ones((), dtype=torch.bool)
        return prob_img - self.constant_threshold, inside, spatial_inds


def _paste_region(boxes: Tensor, img_h: int, img_w: int,
                  skip_empty: bool) -> tuple:
    """Image region ``_do_paste_mask`` pastes into: around all boxes on CPU
    (``skip_empty``), the whole image otherwise. Returns x0, y0, x1, y1."""
    if not skip_empty:
        return 0, 0, img_w, img_h
    x0_int, y0_int = torch.clamp(
        boxes.min(dim=0).values.floor()[:2] - 1, min=0).to(dtype=torch.int32)
    x1_int = torch.clamp(
        boxes[:, 2].max().ceil() + 1, max=img_w).to(dtype=torch.int32)
    y1_int = torch.clamp(
        boxes[:, 3].max().ceil() + 1, max=img_h).to(dtype=torch.int32)
    return x0_int, y0_int, x1_int, y1_int


def _roi_grid_coords(boxes: Tensor, region: tuple) -> Tuple[Tensor, Tensor]:
    """Pixel centres of ``region`` in each RoI's ``grid_sample`` coordinates.

    Exactly ``_do_paste_mask``'s computation: -1 and 1 are the RoI's box
    edges, degenerate boxes (infinite coordinates) are mapped to 0.

    Returns:
        tuple[Tensor, Tensor]: x (N, W') and y (N, H') coordinates.
    """
    x0_int, y0_int, x1_int, y1_int = region
    x0, y0, x1, y1 = torch.split(boxes, 1, dim=1)  # each is Nx1
    device = boxes.device
    img_y = torch.arange(y0_int, y1_int, device=device).to(torch.float32) + 0.5
    img_x = torch.arange(x0_int, x1_int, device=device).to(torch.float32) + 0.5
    img_y = (img_y - y0) / (y1 - y0) * 2 - 1
    img_x = (img_x - x0) / (x1 - x0) * 2 - 1
    if not torch.onnx.is_in_onnx_export():
        if torch.isinf(img_x).any():
            img_x[torch.where(torch.isinf(img_x))] = 0
        if torch.isinf(img_y).any():
            img_y[torch.where(torch.isinf(img_y))] = 0
    return img_x, img_y


def _sample_at(maps: Tensor, img_x: Tensor, img_y: Tensor) -> Tensor:
    """Bilinear samples (zero padding) of maps (N, C, h, w) at the grid
    ``img_x`` (N, W') x ``img_y`` (N, H'); returns (N, C, H', W')."""
    n = maps.shape[0]
    gx = img_x[:, None, :].expand(n, img_y.size(1), img_x.size(1))
    gy = img_y[:, :, None].expand(n, img_y.size(1), img_x.size(1))
    grid = torch.stack([gx, gy], dim=3)
    return F.grid_sample(
        maps.to(dtype=torch.float32), grid, align_corners=False)


def _region_slices(region: tuple, skip_empty: bool) -> tuple:
    if not skip_empty:
        return ()
    x0_int, y0_int, x1_int, y1_int = region
    return slice(y0_int, y1_int), slice(x0_int, x1_int)


def paste_threshold_difference(prob: Tensor,
                               thr: Tensor,
                               boxes: Tensor,
                               img_h: int,
                               img_w: int,
                               skip_empty: bool = True
                               ) -> Tuple[Tensor, Tensor, tuple]:
    """``P_img - T_img`` at image resolution with one single-channel paste.

    ``P_img`` is ``P`` pasted as mmdet's ``_do_paste_mask`` pastes it (zero
    padding); ``T_img`` is ``T`` pasted with its border extended outwards
    (the normalised paste ``paste(T) / paste(1)``, see
    ``paste_multichannel_masks``). Both equal pastes of the maps padded by one
    RoI pixel, ``P`` with zeros and ``T`` with its border values (replicate):
    the bilinear sample at a pixel less than one RoI pixel outside the map
    reads the padding ring, which holds exactly what the zero padding or the
    normalisation contributes there. Pasting is linear, so

        ``P_img - T_img = paste(pad0(P) - padrep(T))``

    on the box enlarged by one RoI pixel per side. This is the same
    decision as pasting ``P``, ``T`` and the footprint as three channels
    (up to float rounding at ties), at a third of the sampling work. The
    RoI footprint (pixels whose bilinear neighbourhood touches the map,
    i.e. less than half an RoI pixel outside the box) is computed from the
    coordinates instead of being pasted, and the pasted region is
    ``_do_paste_mask``'s, from the original boxes.

    Args:
        prob (Tensor): ``P``, (n, 1, h, w).
        thr (Tensor): ``T``, (n, 1, h, w).
        boxes (Tensor): Boxes (n, 4) in image coordinates.
        img_h (int): Image height.
        img_w (int): Image width.
        skip_empty (bool): Paste only the region around the boxes.

    Returns:
        tuple: ``P_img - T_img`` (n, H', W'), a bool map (n, H', W') of the
        pixels the RoI reaches, and the slices of that region in the image
        (empty when the whole image was pasted).
    """
    return paste_padded_difference(
        pad_threshold_difference(prob, thr), boxes, img_h, img_w, skip_empty)


def pad_threshold_difference(prob: Tensor, thr: Tensor) -> Tensor:
    """``pad0(P) - padrep(T)``: the difference map padded by one RoI pixel,
    with zeros for ``P`` and the border values for ``T`` (see
    ``paste_threshold_difference``).

    Args:
        prob (Tensor): ``P``, (n, 1, h, w).
        thr (Tensor): ``T``, (n, 1, h, w).

    Returns:
        Tensor: Padded difference maps (n, 1, h + 2, w + 2).
    """
    return F.pad(prob, (1, 1, 1, 1)) - F.pad(thr, (1, 1, 1, 1),
                                             mode='replicate')


def paste_padded_difference(diff_maps: Tensor,
                            boxes: Tensor,
                            img_h: int,
                            img_w: int,
                            skip_empty: bool = True
                            ) -> Tuple[Tensor, Tensor, tuple]:
    """Paste the padded difference maps of ``pad_threshold_difference``.

    Args:
        diff_maps (Tensor): Padded difference maps (n, 1, h + 2, w + 2).
        boxes (Tensor): Boxes (n, 4) of the unpadded maps, image coordinates.
        img_h (int): Image height.
        img_w (int): Image width.
        skip_empty (bool): Paste only the region around the boxes.

    Returns:
        tuple: See ``paste_threshold_difference``.
    """
    h, w = diff_maps.shape[-2] - 2, diff_maps.shape[-1] - 2
    region = _paste_region(boxes, img_h, img_w, skip_empty)
    img_x, img_y = _roi_grid_coords(boxes, region)
    # A pixel at grid coordinate g of the map is at g * w / (w + 2) of the
    # padded map (whose box is one RoI pixel larger per side); it is in the
    # footprint when |g| < 1 + 1 / w (map coordinate in (-1, w)).
    pasted = _sample_at(diff_maps, img_x * (w / (w + 2)),
                        img_y * (h / (h + 2)))
    inside_x = img_x.abs() < 1 + 1 / w
    inside_y = img_y.abs() < 1 + 1 / h
    inside = inside_y[:, :, None] & inside_x[:, None, :]
    return pasted[:, 0], inside, _region_slices(region, skip_empty)


def paste_multichannel_masks(masks: Tensor,
                             boxes: Tensor,
                             img_h: int,
                             img_w: int,
                             skip_empty: bool = True) -> Tuple[Tensor, tuple]:
    """mmdet's ``_do_paste_mask`` for maps with several channels.

    ``_do_paste_mask`` returns the first channel only. This is the same
    computation (same grid, same ``grid_sample``, so every channel is
    bit-identical to pasting it alone with ``_do_paste_mask``) returning all
    channels, so that P, T and the footprint share one sampling grid.

    Args:
        masks (Tensor): Maps (N, C, h, w).
        boxes (Tensor): Boxes (N, 4).
        img_h (int): Height of the image to paste into.
        img_w (int): Width of the image to paste into.
        skip_empty (bool): Paste only the region bounding all boxes.

    Returns:
        tuple: Pasted maps (N, C, H', W') and the slices of the pasted region
        in the image (an empty tuple when the whole image was pasted).
    """
    region = _paste_region(boxes, img_h, img_w, skip_empty)
    img_x, img_y = _roi_grid_coords(boxes, region)
    return _sample_at(masks, img_x, img_y), _region_slices(region,
                                                           skip_empty)
