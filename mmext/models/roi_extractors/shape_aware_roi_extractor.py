"""Multi-level RoI feature extractor with Shape-aware RoIAlign.

Used by the refining box head of MR R-CNN (Ding et al., "Shape-aware
Feature Extraction for Instance Segmentation"), see
:class:`mmext.models.roi_heads.MaskRefiningRoIHead`.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from torch import Tensor


@MODELS.register_module()
class ShapeAwareRoIExtractor(SingleRoIExtractor):
    """Extract RoI features guided by a per-RoI probability map.

    Like :class:`mmdet.models.roi_heads.roi_extractors.SingleRoIExtractor`
    (each RoI is mapped to one FPN level by its scale, with the same
    ``finest_scale`` rule), but every level's RoI layer also takes the RoI's
    mask: ``roi_layer(feat, rois, masks)``. The default layer is
    :class:`mmext.ops.SaRoIAlign`, which multiplies the feature at each
    RoIAlign sampling point by the mask probability there.

    ``roi_layer['type']`` is looked up in :mod:`mmext.ops` first, then in
    :mod:`mmcv.ops`; a class may be given directly.

    Args:
        roi_layer (:obj:`ConfigDict` or dict): RoI layer config, e.g.
            ``dict(type='SaRoIAlign', output_size=7, sampling_ratio=0)``.
        out_channels (int): Output channels of the RoI layers.
        featmap_strides (list[int]): Strides of the input feature maps.
        finest_scale (int): Scale threshold of mapping to level 0.
            Defaults to 56.
        init_cfg (:obj:`ConfigDict` or dict or list, optional): Init config.
    """

    def __init__(self,
                 roi_layer: ConfigType,
                 out_channels: int,
                 featmap_strides: List[int],
                 finest_scale: int = 56,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            roi_layer=roi_layer,
            out_channels=out_channels,
            featmap_strides=featmap_strides,
            finest_scale=finest_scale,
            init_cfg=init_cfg)

    def build_roi_layers(self, layer_cfg: ConfigType,
                         featmap_strides: List[int]) -> nn.ModuleList:
        """Build one RoI layer per level, resolving names in mmext.ops.

        Args:
            layer_cfg (:obj:`ConfigDict` or dict): RoI layer config.
            featmap_strides (list[int]): Strides of the feature maps; the
                layer of a level gets ``spatial_scale=1 / stride``.

        Returns:
            :obj:`nn.ModuleList`: The RoI layers, one per level.
        """
        cfg = layer_cfg.copy()
        layer_type = cfg.pop('type')
        if isinstance(layer_type, str):
            from mmcv import ops as mmcv_ops

            from mmext import ops as mmext_ops
            layer_cls = getattr(mmext_ops, layer_type,
                                getattr(mmcv_ops, layer_type, None))
            if layer_cls is None:
                raise KeyError(
                    f'roi_layer type "{layer_type}" of ShapeAwareRoIExtractor '
                    'is neither in mmext.ops nor in mmcv.ops')
        else:
            layer_cls = layer_type
        return nn.ModuleList(
            [layer_cls(spatial_scale=1 / s, **cfg) for s in featmap_strides])

    @staticmethod
    def rescale_masks(masks: Tensor, scale_factor: float) -> Tensor:
        """Re-express masks in the frame of RoIs rescaled about their centre.

        A mask covers its original box. After the box is scaled by
        ``scale_factor`` around its centre, the original box is the central
        ``1 / scale_factor`` part of the new box; the mask is resampled there
        (bilinear) and is 0 outside it.

        Args:
            masks (Tensor): Masks of shape (K, Hp, Wp).
            scale_factor (float): The factor the RoIs were scaled by.

        Returns:
            Tensor: Masks of shape (K, Hp, Wp) covering the rescaled RoIs.
        """
        if masks.numel() == 0:
            return masks
        k, hp, wp = masks.shape
        # Normalised [-1, 1] coordinates of the new frame's pixel centres,
        # mapped into the original box's normalised frame.
        ys = (torch.arange(hp, device=masks.device, dtype=masks.dtype) +
              0.5) / hp * 2 - 1
        xs = (torch.arange(wp, device=masks.device, dtype=masks.dtype) +
              0.5) / wp * 2 - 1
        grid = torch.stack(
            torch.meshgrid(
                xs * scale_factor, ys * scale_factor, indexing='xy'),
            dim=-1)
        grid = grid[None].expand(k, -1, -1, -1)
        return F.grid_sample(
            masks[:, None],
            grid,
            mode='bilinear',
            padding_mode='zeros',
            align_corners=False)[:, 0]

    def forward(self,
                feats: Tuple[Tensor],
                rois: Tensor,
                masks: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """Extract mask-guided RoI features.

        Args:
            feats (tuple[Tensor]): Multi-level features, each (N, C, H, W).
            rois (Tensor): RoIs of shape (K, 5), ``[batch_ind, x1, y1, x2,
                y2]`` in input-image coordinates.
            masks (Tensor): Probability maps of shape (K, Hp, Wp) with values
                in [0, 1], each covering its RoI box. (K, 1, Hp, Wp) is
                accepted too.
            roi_scale_factor (float, optional): Scale the RoIs about their
                centres before pooling; the masks are resampled so they
                still cover the original boxes (see :meth:`rescale_masks`).
                The FPN level is chosen from the unscaled RoIs, as in
                :class:`SingleRoIExtractor`. Defaults to None.

        Returns:
            Tensor: RoI features of shape (K, out_channels, oh, ow).
        """
        if masks.dim() == 4 and masks.size(1) == 1:
            masks = masks[:, 0]
        if masks.dim() != 3 or masks.size(0) != rois.size(0):
            raise ValueError(
                'ShapeAwareRoIExtractor expects masks of shape (K, Hp, Wp) '
                f'for {rois.size(0)} RoIs, got {tuple(masks.shape)}')
        # convert fp32 to fp16 when amp is on
        rois = rois.type_as(feats[0])
        masks = masks.type_as(feats[0])
        out_size = self.roi_layers[0].output_size
        num_levels = len(feats)
        roi_feats = feats[0].new_zeros(
            rois.size(0), self.out_channels, *out_size)

        if roi_scale_factor is not None:
            masks = self.rescale_masks(masks, roi_scale_factor)

        if num_levels == 1:
            if len(rois) == 0:
                return roi_feats
            if roi_scale_factor is not None:
                rois = self.roi_rescale(rois, roi_scale_factor)
            return self.roi_layers[0](feats[0], rois, masks)

        target_lvls = self.map_roi_levels(rois, num_levels)
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)

        for i in range(num_levels):
            inds = (target_lvls == i).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() > 0:
                roi_feats[inds] = self.roi_layers[i](feats[i], rois[inds],
                                                     masks[inds])
            else:
                # Keep every level (and the masks) in the graph so that all
                # processes of a distributed run reduce the same parameters,
                # as SingleRoIExtractor does.
                roi_feats += sum(
                    x.view(-1)[0] for x in self.parameters()) * 0. + \
                    feats[i].sum() * 0. + masks.sum() * 0.
        return roi_feats
