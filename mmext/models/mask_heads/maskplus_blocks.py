"""Building blocks of the MaskPlus mask head (Xu et al., WACV 2020).

* :class:`ContextFusionBranch` - the conv stack of contextual fusion
  (Sec. 3.1) that turns the full-image RoI feature into a context feature.
* :class:`DeconvPyramidModule` - stride-2 deconvs up, then as many stride-2
  convs down, features added (Sec. 3.2, 4.5).
* :class:`ResidualBoundaryRefinement` - the boundary refinement block of
  Peng et al. ("Large Kernel Matters", CVPR 2017), ``x + conv(relu(conv(x)))``;
  MaskPlus' Table 3 baseline.
* :class:`DenseBoundaryRefinement` - MaskPlus' improved boundary refinement
  (Sec. 3.3, 4.6): densely connected BN-PReLU-Conv16-BN-PReLU-Conv4 modules.

All blocks keep the spatial size and channel count of their input, so they
can be switched on and off in a config without touching the rest of the head.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule, ModuleList, Sequential
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig


@MODELS.register_module()
class ContextFusionBranch(BaseModule):
    """Conv stack applied to the pooled full-image RoI (contextual fusion).

    The paper uses 3x3 stride-1 convs with ``(512, 256, 256)`` filters
    (Sec. 3.1) and ablates ``(256, 256)``, ``(256, 256, 256)`` and
    ``(720, 512, 512, 256)`` (Table 1). Every conv but the last is followed
    by ``act_cfg``; the last one is linear because its output is *added* to
    the RoIAlign features, which are FPN outputs and hence signed and
    un-activated (like FPN's own output convs).

    Args:
        in_channels (int): Channels of the pooled full-image feature.
        channels (Sequence[int]): Filters of the consecutive convs. The last
            one must equal the channels of the RoI features it is added to.
        kernel_size (int): Conv kernel size. Defaults to 3.
        conv_cfg (dict, optional): Conv config. Defaults to None.
        norm_cfg (dict, optional): Norm config. Defaults to None.
        act_cfg (dict): Activation between the convs. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 channels: Sequence[int] = (512, 256, 256),
                 kernel_size: int = 3,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(channels) == 0:
            raise ValueError('ContextFusionBranch: `channels` must name at '
                             'least one conv, got an empty sequence')
        self.in_channels = in_channels
        self.channels = tuple(int(c) for c in channels)
        self.out_channels = self.channels[-1]
        convs: List[nn.Module] = []
        prev = in_channels
        for i, out in enumerate(self.channels):
            is_last = i == len(self.channels) - 1
            convs.append(
                ConvModule(
                    prev,
                    out,
                    kernel_size,
                    padding=(kernel_size - 1) // 2,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=None if is_last else act_cfg))
            prev = out
        self.convs = Sequential(*convs)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): Full-image RoI features, shape (N_img, C_in, S, S).

        Returns:
            Tensor: Context features, shape (N_img, channels[-1], S, S).
        """
        return self.convs(x)


@MODELS.register_module()
class DeconvPyramidModule(BaseModule):
    """Deconvolutional pyramid module (MaskPlus Sec. 3.2, Fig. 3).

    ``num_levels`` deconvs (kernel 2, stride 2) go up, then ``num_levels``
    convs (kernel 3, stride 2) come back down. The paper says the features
    are *added* rather than concatenated; as in FPN (which motivated the
    module) the additions are lateral: each down-sampled feature is added to
    the up-sampled feature of the same resolution, and the last one to the
    module input, so the output keeps the input's shape::

        u0 = x -> u1 = up1(u0) -> u2 = up2(u1)      (H -> 2H -> 4H)
        d1 = down1(u2) + u1 -> out = down2(d1) + u0  (4H -> 2H -> H)

    Every deconv/conv is followed by ``norm_cfg`` (if any) and ``act_cfg``.
    The paper gives strides and filters only; the down-sampling kernel is
    3x3 by default (``down_kernel_size=2`` mirrors the deconvs and is 2.25x
    cheaper - the first down conv, on the 4x map, dominates the cost).

    Args:
        channels (int): Input/output and internal channels (256 in the paper,
            i.e. the mask head's conv width).
        num_levels (int): Number of deconv (and conv) layers. Defaults to 2.
        down_kernel_size (int): Kernel of the stride-2 convs. Defaults to 3.
        conv_cfg (dict, optional): Config of the stride-2 convs.
        norm_cfg (dict, optional): Norm config. Defaults to None.
        act_cfg (dict): Activation config. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 num_levels: int = 2,
                 down_kernel_size: int = 3,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_levels < 1:
            raise ValueError('DeconvPyramidModule: `num_levels` must be >= 1, '
                             f'got {num_levels}')
        self.channels = channels
        self.num_levels = num_levels
        self.up_layers = ModuleList([
            ConvModule(
                channels,
                channels,
                kernel_size=2,
                stride=2,
                conv_cfg=dict(type='deconv'),
                norm_cfg=norm_cfg,
                act_cfg=act_cfg) for _ in range(num_levels)
        ])
        self.down_layers = ModuleList([
            ConvModule(
                channels,
                channels,
                kernel_size=down_kernel_size,
                stride=2,
                padding=(down_kernel_size - 1) // 2,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg) for _ in range(num_levels)
        ])

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): RoI features, shape (K, C, H, W).

        Returns:
            Tensor: Refined features, shape (K, C, H, W).
        """
        pyramid = [x]
        for up in self.up_layers:
            pyramid.append(up(pyramid[-1]))
        out = pyramid.pop()
        for down in self.down_layers:
            out = down(out) + pyramid.pop()
        return out


@MODELS.register_module()
class ResidualBoundaryRefinement(BaseModule):
    """Boundary refinement of Peng et al. (Large Kernel Matters, Fig. 2C).

    A residual block on the score map: ``x + conv(relu(conv(x)))`` with two
    3x3 convs that keep the channel count. MaskPlus compares against it as
    "original boundary refinement" (Table 3).

    Args:
        channels (int): Channels of the score map (number of mask classes).
        kernel_size (int): Conv kernel size. Defaults to 3.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int = 3,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        padding = (kernel_size - 1) // 2
        self.conv1 = nn.Conv2d(
            channels, channels, kernel_size, padding=padding)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            channels, channels, kernel_size, padding=padding)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): Mask logits, shape (K, C, H, W).

        Returns:
            Tensor: Refined mask logits, shape (K, C, H, W).
        """
        return x + self.conv2(self.relu(self.conv1(x)))


class _DenseRefineLayer(nn.Sequential):
    """BN-act-Conv1x1(bottleneck)-BN-act-Conv3x3(growth): one dense module."""

    def __init__(self, in_channels: int, bottleneck_channels: int,
                 growth_channels: int, kernel_size: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType) -> None:
        super().__init__(
            build_norm_layer(norm_cfg, in_channels)[1],
            build_activation_layer(act_cfg),
            nn.Conv2d(in_channels, bottleneck_channels, 1, bias=False),
            build_norm_layer(norm_cfg, bottleneck_channels)[1],
            build_activation_layer(act_cfg),
            nn.Conv2d(
                bottleneck_channels,
                growth_channels,
                kernel_size,
                padding=(kernel_size - 1) // 2,
                bias=False))


@MODELS.register_module()
class DenseBoundaryRefinement(BaseModule):
    """MaskPlus' improved boundary refinement (Sec. 3.3, 4.6, Fig. 4).

    It sits where Peng et al.'s BR sits - on the mask score map - and, like
    it, learns a residual ("the boundary deficiency") that is added to the
    scores. The residual comes from ``num_modules`` densely connected modules
    of six layers each, BN, PReLU, Conv (16 filters), BN, PReLU, Conv (4
    filters); module ``i`` takes the concatenation of the score map and the
    outputs of modules ``0..i-1``.

    Left open by the paper and chosen here (DenseNet-BC convention, which
    the 16/4 = 4x bottleneck/growth pattern follows): the 16-filter conv is
    1x1 and the 4-filter conv is 3x3. The concatenation of the score map and
    all module outputs is projected back to the score channels by a 1x1 conv
    (a DenseNet transition) before the residual addition.

    Args:
        channels (int): Channels of the score map (number of mask classes).
        num_modules (int): Number of dense modules. Defaults to 4.
        bottleneck_channels (int): Filters of the first conv. Defaults to 16.
        growth_channels (int): Filters of the second conv. Defaults to 4.
        kernel_size (int): Kernel of the second conv. Defaults to 3.
        norm_cfg (dict): Norm config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to PReLU.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 num_modules: int = 4,
                 bottleneck_channels: int = 16,
                 growth_channels: int = 4,
                 kernel_size: int = 3,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='PReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_modules < 1:
            raise ValueError('DenseBoundaryRefinement: `num_modules` must be '
                             f'>= 1, got {num_modules}')
        self.channels = channels
        self.layers = nn.ModuleList([
            _DenseRefineLayer(channels + i * growth_channels,
                              bottleneck_channels, growth_channels,
                              kernel_size, norm_cfg, act_cfg)
            for i in range(num_modules)
        ])
        self.fuse = nn.Conv2d(channels + num_modules * growth_channels,
                              channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): Mask logits, shape (K, C, H, W).

        Returns:
            Tensor: Refined mask logits, shape (K, C, H, W).
        """
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return x + self.fuse(torch.cat(feats, dim=1))
