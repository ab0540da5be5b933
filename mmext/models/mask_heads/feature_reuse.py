"""One protocol for "mask logits plus the feature a later stage reuses".

MR R-CNN's refining stage (the guide ``P`` and ``F^-``), a cascade stage and
the hybrid networks' large branch consume a mask head's outputs. They must not
re-run a head's layers: a head with extra parts (ATMask's threshold branch and
fusion, MaskPlus' context, DPM and boundary refinement) would silently lose
them. Every mmext mask head therefore answers one protocol, modelled on
mmdet's :class:`HTCMaskHead` (``return_feat``):

* ``head(x, *inputs, res_feat=None, return_feat=False)``: ``x`` are the RoI
  features (K, C, S, S); ``inputs`` are the head's own extra inputs, given by
  keyword as named in :attr:`FeatureReuseMaskHeadMixin.extra_mask_inputs`
  (``threshold_x`` for ATMask's threshold branch, ``context`` for MaskPlus'
  contextual fusion), which the RoI head prepares; ``res_feat`` is an earlier
  stage's reused feature (HTC's mask information flow, added through the 1x1
  ``conv_res`` of a head built with ``with_conv_res=True``). It returns the
  head's usual outputs and, with ``return_feat=True``, ``(outputs, feat)``
  where ``feat`` (K, C', S, S) is **the map the head upsamples into its
  logits**: the last conv output for ``FCNMaskHead``/``HTCMaskHead``, after
  T2P fusion for ATMask, after the DPM for MaskPlus.
* ``head.mask_outputs(outputs)``: the outputs as the keyword arguments of the
  head's ``loss_and_target`` and ``predict_by_feat`` (``mask_preds``, plus
  ``threshold_preds`` for ATMask).
* ``head.soft_masks(outputs)``: per-class foreground probabilities in [0, 1],
  (K, num_classes or 1, 2S, 2S): what the head thresholds at 0.5 -- the
  sigmoid of the logits, ATMask's differentiable binary map
  ``B = sigmoid(k (P - T))``.

mmdet's ``HTCMaskHead`` provides the same natively (``return_feat``); the
functions below dispatch to it, so MR R-CNN's refining mask head stays an
``HTCMaskHead``. Any other head (e.g. plain ``FCNMaskHead``, which cannot
return its feature without a consumer re-running its layers) is rejected by
:func:`check_feature_reuse_head` when the model is built.
"""
from typing import Any, Dict, Optional, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

from mmdet.models.roi_heads.mask_heads import HTCMaskHead

PROTOCOL_DOC = 'mmext.models.mask_heads.feature_reuse'


class FeatureReuseMaskHeadMixin:
    """The mmext mask head side of the protocol (see the module docstring).

    A subclass of ``FCNMaskHead`` mixes this in, calls
    :meth:`_init_conv_res` in its ``__init__`` and :meth:`_add_res_feat` on
    its RoI features, and implements ``forward(..., res_feat, return_feat)``.
    """

    def _init_conv_res(self, with_conv_res: bool) -> None:
        """The 1x1 conv that brings an earlier stage's feature in (HTC)."""
        self.with_conv_res = with_conv_res
        self.conv_res = None
        if with_conv_res:
            if self.in_channels != self.conv_out_channels:
                raise ValueError(
                    f'{type(self).__name__}: with_conv_res=True adds the '
                    'reused feature to the RoI features, so in_channels '
                    f'({self.in_channels}) must equal conv_out_channels '
                    f'({self.conv_out_channels})')
            # as HTCMaskHead: ConvModule's ReLU after the 1x1 conv
            self.conv_res = ConvModule(
                self.conv_out_channels,
                self.conv_out_channels,
                1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg)

    def _add_res_feat(self, x: Tensor, res_feat: Optional[Tensor]) -> Tensor:
        """``x + conv_res(res_feat)``; ``x`` when there is no ``res_feat``."""
        if res_feat is None:
            return x
        if getattr(self, 'conv_res', None) is None:
            raise ValueError(
                f'{type(self).__name__} got res_feat (an earlier stage\'s '
                'feature) but was built with with_conv_res=False')
        return x + self.conv_res(res_feat)

    @property
    def extra_mask_inputs(self) -> Tuple[str, ...]:
        """tuple[str]: keyword inputs beyond the RoI features that the RoI
        head must give :meth:`forward` (empty for a plain head)."""
        return ()

    def mask_outputs(self, outputs: Any) -> Dict[str, Any]:
        """Outputs of :meth:`forward` as ``loss_and_target`` /
        ``predict_by_feat`` keyword arguments."""
        return dict(mask_preds=outputs)

    def soft_masks(self, outputs: Any) -> Tensor:
        """Per-class foreground probabilities, (K, C, H, W) in [0, 1]."""
        return self.mask_outputs(outputs)['mask_preds'].sigmoid()


def provides_feature_reuse(head: nn.Module) -> bool:
    """Whether ``head`` answers the protocol."""
    return isinstance(head, (FeatureReuseMaskHeadMixin, HTCMaskHead))


def check_feature_reuse_head(head: nn.Module, config_key: str,
                             consumer: str) -> None:
    """Reject a mask head that cannot return its reused feature.

    Args:
        head (nn.Module): The built mask head.
        config_key (str): Where it is configured (``roi_head.mask_head``).
        consumer (str): The module that needs it (for the message).

    Raises:
        TypeError: naming the head type and the config key.
    """
    if not provides_feature_reuse(head):
        raise TypeError(
            f'{config_key}: {consumer} needs a mask head that returns its '
            f'logits and the feature a later stage reuses ({PROTOCOL_DOC}), '
            f'got {type(head).__name__}. Use HTCMaskHead (with_conv_res='
            'False is FCNMaskHead with return_feat) or an mmext mask head '
            '(AdaptiveThresholdMaskHead, MaskPlusMaskHead).')


def extra_mask_inputs(head: nn.Module) -> Tuple[str, ...]:
    """Keyword inputs ``head`` needs beyond its RoI features."""
    if isinstance(head, FeatureReuseMaskHeadMixin):
        return tuple(head.extra_mask_inputs)
    return ()


def mask_forward_with_feat(head: nn.Module,
                           x: Tensor,
                           res_feat: Optional[Tensor] = None,
                           **inputs) -> Tuple[Any, Tensor]:
    """Run ``head`` and return ``(outputs, reused feature)``.

    Args:
        head (nn.Module): A head that answers the protocol.
        x (Tensor): RoI features (K, C, S, S).
        res_feat (Tensor, optional): Earlier stage's feature, (K, C', S, S).
        **inputs: The head's :func:`extra_mask_inputs`.

    Returns:
        tuple: the head's outputs and its feature (K, C', S, S).
    """
    if isinstance(head, FeatureReuseMaskHeadMixin):
        return head(x, res_feat=res_feat, return_feat=True, **inputs)
    if isinstance(head, HTCMaskHead):
        if inputs:
            raise ValueError(f'HTCMaskHead takes no extra inputs, got '
                             f'{sorted(inputs)}')
        logits, feat = head(
            x,
            res_feat if head.with_conv_res else None,
            return_logits=True,
            return_feat=True)
        return logits, feat
    check_feature_reuse_head(head, 'mask_head', 'mask_forward_with_feat')
    raise AssertionError('unreachable')


def mask_outputs(head: nn.Module, outputs: Any) -> Dict[str, Any]:
    """``loss_and_target``/``predict_by_feat`` keyword arguments."""
    if isinstance(head, FeatureReuseMaskHeadMixin):
        return head.mask_outputs(outputs)
    return dict(mask_preds=outputs)


def soft_masks(head: nn.Module, outputs: Any) -> Tensor:
    """Per-class foreground probabilities (K, C, H, W) of ``outputs``."""
    if isinstance(head, FeatureReuseMaskHeadMixin):
        return head.soft_masks(outputs)
    return outputs.sigmoid()
