"""Enhanced-FPN of the weakly supervised hybrid networks (Liao et al.).

Sec. 2.3 of the paper names two weaknesses of FPN: the top-down pathway
enriches low levels with high-level semantics but the high levels themselves
are "not enhanced adequately", and low-level (localisation) information
reaches the top levels only through the long backbone path. Enhanced-FPN
"shortens the propagation distance of bottom feature maps" by connecting the
lateral of every level to the bottom feature map (Fig. 3) with a strided
convolution followed by a ReLU (Fig. 4, "conv m x m / s n, Relu"). The
figures themselves are not reproduced in the text, so the exact pattern below
is our reading of them.

Connection pattern (levels counted from ``start_level`` = s, e.g. C2..C5)::

    L_s = lateral_conv_s(C_s)                      # as in FPN
    L_i = lateral_conv_i(C_i)
          + ReLU(shortcut_conv_i(B))   for i > s   # the extra connections
    B   = L_s   (``shortcut_source='lateral'``, default) or
          C_s   (``shortcut_source='input'``)

    then FPN's top-down pathway and 3x3 output convs run unchanged on L_i.

``shortcut_conv_i`` is one conv of stride ``n = 2**(i - s)`` (2, 4, 8 for
P3, P4, P5) with kernel ``m = n + 1`` by default and padding ``(m - 1) // 2``:
3x3/s2, 5x5/s4, 9x9/s8. ``m > n`` makes every bottom pixel contribute (a
3x3 kernel at stride 8 would skip most of them), and for a bottom map of
size ``S`` an odd ``m`` gives ``ceil(S / n)`` pixels, exactly the size
ResNet's stride-2 stages produce, so no resampling is needed (a mismatch,
e.g. with other backbones or even kernels, is resolved by nearest
interpolation to the lateral's size).
The shortcuts are added to the laterals *before* the top-down pass, so the
top level P5 - which FPN computes from C5 alone - now sees the bottom map
through one convolution, and the top-down pass carries that into P4, P3.
Extra levels (P6 by max-pooling) follow FPN's options unchanged.

With all shortcut weights and biases at zero the module computes exactly
FPN (``ReLU(0) = 0``), and its other parameters have FPN's names, so an FPN
state dict loads into it with ``strict=False``.
"""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType
from torch import Tensor


@MODELS.register_module()
class EnhancedFPN(FPN):
    """FPN plus a direct strided connection from the bottom level to every
    higher lateral (see the module docstring for the pattern).

    Args:
        in_channels (list[int]): Input channels per backbone level.
        out_channels (int): Output channels of every level.
        num_outs (int): Number of output levels.
        shortcut_source (str): What the shortcuts start from: ``'lateral'``
            (the bottom level after its 1x1 lateral conv, ``out_channels``
            wide; default) or ``'input'`` (the raw bottom backbone feature).
        shortcut_kernel_sizes (Sequence[int], optional): Kernel size of the
            shortcut into each level above the bottom (P3, P4, ...). Defaults
            to ``stride + 1`` for each (3, 5, 9 for strides 2, 4, 8).
        shortcut_act_cfg (dict, optional): Activation after each shortcut
            conv. Defaults to ``dict(type='ReLU')`` (paper, Fig. 4).
        **kwargs: Other arguments of :class:`mmdet.models.necks.FPN`
            (``start_level``, ``end_level``, ``add_extra_convs``,
            ``conv_cfg``, ``norm_cfg``, ``act_cfg``, ``upsample_cfg``,
            ``init_cfg``...). ``norm_cfg`` and ``conv_cfg`` also apply to the
            shortcut convs; FPN's default Xavier init covers them.

    Example:
        >>> import torch
        >>> in_channels = [8, 16, 32, 64]
        >>> sizes = [64, 32, 16, 8]
        >>> inputs = [torch.rand(1, c, s, s)
        ...           for c, s in zip(in_channels, sizes)]
        >>> neck = EnhancedFPN(in_channels, 16, 5).eval()
        >>> [tuple(o.shape) for o in neck(inputs)]
        [(1, 16, 64, 64), (1, 16, 32, 32), (1, 16, 16, 16), (1, 16, 8, 8), \
(1, 16, 4, 4)]
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int,
                 shortcut_source: str = 'lateral',
                 shortcut_kernel_sizes: Optional[Sequence[int]] = None,
                 shortcut_act_cfg: OptConfigType = dict(type='ReLU'),
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, num_outs, **kwargs)
        if shortcut_source not in ('lateral', 'input'):
            raise ValueError('EnhancedFPN: shortcut_source must be '
                             f"'lateral' or 'input', got {shortcut_source!r}")
        self.shortcut_source = shortcut_source
        num_targets = self.backbone_end_level - self.start_level - 1
        strides = [2**(k + 1) for k in range(num_targets)]
        if shortcut_kernel_sizes is None:
            shortcut_kernel_sizes = [s + 1 for s in strides]
        if len(shortcut_kernel_sizes) != num_targets:
            raise ValueError(
                'EnhancedFPN: shortcut_kernel_sizes needs one kernel size per '
                f'level above the bottom ({num_targets}), got '
                f'{list(shortcut_kernel_sizes)}')
        src_channels = (
            out_channels if shortcut_source == 'lateral' else
            in_channels[self.start_level])
        conv_cfg: OptConfigType = kwargs.get('conv_cfg')
        norm_cfg: OptConfigType = kwargs.get('norm_cfg')
        self.shortcut_convs = nn.ModuleList()
        for stride, kernel_size in zip(strides, shortcut_kernel_sizes):
            if kernel_size < 1:
                raise ValueError('EnhancedFPN: shortcut kernel sizes must be '
                                 f'positive, got {kernel_size}')
            self.shortcut_convs.append(
                ConvModule(
                    src_channels,
                    out_channels,
                    kernel_size,
                    stride=stride,
                    padding=(kernel_size - 1) // 2,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=shortcut_act_cfg,
                    inplace=False))

    def forward(self, inputs: Tuple[Tensor]) -> tuple:
        """Forward the pyramid.

        Args:
            inputs (tuple[Tensor]): Backbone features, level i of shape
                (N, in_channels[i], H_i, W_i).

        Returns:
            tuple[Tensor]: ``num_outs`` maps of shape
            (N, out_channels, H_j, W_j), finest first.
        """
        assert len(inputs) == len(self.in_channels)
        laterals = [
            lateral_conv(inputs[i + self.start_level])
            for i, lateral_conv in enumerate(self.lateral_convs)
        ]
        # The extra connections: bottom map -> every higher lateral.
        bottom = (
            laterals[0]
            if self.shortcut_source == 'lateral' else inputs[self.start_level])
        for i, shortcut_conv in enumerate(self.shortcut_convs, start=1):
            shortcut = shortcut_conv(bottom)
            if shortcut.shape[2:] != laterals[i].shape[2:]:
                shortcut = F.interpolate(
                    shortcut, size=laterals[i].shape[2:], mode='nearest')
            laterals[i] = laterals[i] + shortcut
        return self._top_down_and_outputs(inputs, laterals)

    def _top_down_and_outputs(self, inputs: Tuple[Tensor],
                              laterals: List[Tensor]) -> tuple:
        """FPN's top-down pathway, output convs and extra levels.

        Same computation as the second half of ``FPN.forward`` (which does
        not expose it separately).
        """
        used_backbone_levels = len(laterals)
        for i in range(used_backbone_levels - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                laterals[i - 1] = laterals[i - 1] + F.interpolate(
                    laterals[i], **self.upsample_cfg)
            else:
                prev_shape = laterals[i - 1].shape[2:]
                laterals[i - 1] = laterals[i - 1] + F.interpolate(
                    laterals[i], size=prev_shape, **self.upsample_cfg)
        outs = [
            self.fpn_convs[i](laterals[i]) for i in range(used_backbone_levels)
        ]
        if self.num_outs > len(outs):
            if not self.add_extra_convs:
                for i in range(self.num_outs - used_backbone_levels):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                if self.add_extra_convs == 'on_input':
                    extra_source = inputs[self.backbone_end_level - 1]
                elif self.add_extra_convs == 'on_lateral':
                    extra_source = laterals[-1]
                elif self.add_extra_convs == 'on_output':
                    extra_source = outs[-1]
                else:
                    raise NotImplementedError
                outs.append(self.fpn_convs[used_backbone_levels](extra_source))
                for i in range(used_backbone_levels + 1, self.num_outs):
                    if self.relu_before_extra_convs:
                        outs.append(self.fpn_convs[i](F.relu(outs[-1])))
                    else:
                        outs.append(self.fpn_convs[i](outs[-1]))
        return tuple(outs)
