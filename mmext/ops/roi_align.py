"""Plain RoIAlign on mmext's multi-threaded CPU kernel (``MMExtRoIAlign``).

mmcv's CPU ``RoIAlign`` is single-threaded and reads the feature planes RoI
by RoI. The Shape-aware RoIAlign kernel (``mmext/ops/csrc``) samples exactly
the same points with the same arithmetic but walks the planes in cache- and
SIMD-friendly blocks on all threads; called without a mask it is compiled
without any mask work (no mask values, no mask gradient), i.e. plain
bilinear RoIAlign, mmcv's ``pool_mode='avg'``. This module exposes that path
with :class:`mmcv.ops.RoIAlign`'s constructor, so that a config switches by
changing ``roi_layer.type`` only.

* CPU tensors run mmext's kernel (float16/32/64). It equals mmcv's CPU
  RoIAlign up to float rounding in forward and backward; like
  :func:`mmext.ops.sa_roi_align` it also rejects what mmcv leaves to luck
  (an out-of-range batch index, non-finite RoIs).
* CUDA tensors run :func:`mmcv.ops.roi_align` (mmext has no mask-free CUDA
  kernel), after the same argument checks, RoI values included (mmcv's CUDA
  kernel does not check them). Under ``torch.autocast`` the RoIs take the
  features' dtype, as in :func:`mmext.ops.sa_roi_align`.
* ``pool_mode='max'`` and ``use_torchvision=True`` are not supported and
  raise ValueError at construction.
"""
from typing import Any, Tuple, Union

import torch.nn as nn
from mmcv import ops as mmcv_ops
from mmdet.registry import MODELS
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable
from torch.nn.modules.utils import _pair

from .sa_roi_align import (_autocast_inputs, _check_args, _check_params,
                           _check_roi_values, _ext_backward, _ext_forward)

_OP = 'mmext_roi_align'


class MMExtRoIAlignFunction(Function):
    """Autograd function of mmext's plain RoIAlign (CPU kernel).

    Use :func:`mmext_roi_align`, which validates the arguments and sends
    CUDA tensors to mmcv; this function expects contiguous CPU tensors of
    one dtype. Gradients flow to ``input`` only (not to ``rois``).
    """

    @staticmethod
    def forward(ctx: Any,
                input: Tensor,
                rois: Tensor,
                output_size: Union[int, Tuple[int, int]],
                spatial_scale: float = 1.0,
                sampling_ratio: int = 0,
                aligned: bool = True) -> Tensor:
        return _ext_forward(ctx, input, rois, None, output_size,
                            spatial_scale, sampling_ratio, aligned)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple:
        grad_input, _ = _ext_backward(
            ctx,
            grad_output,
            needs_input_grad=ctx.needs_input_grad[0],
            needs_masks_grad=False)
        return grad_input, None, None, None, None, None


def mmext_roi_align(input: Tensor,
                    rois: Tensor,
                    output_size: Union[int, Tuple[int, int]],
                    spatial_scale: float = 1.0,
                    sampling_ratio: int = 0,
                    aligned: bool = True) -> Tensor:
    """RoIAlign ('avg' mode): mmext's kernel on CPU, mmcv's on CUDA.

    Args:
        input (Tensor): Features of shape (N, C, H, W), float16/32/64.
        rois (Tensor): RoIs of shape (K, 5), ``[batch_idx, x1, y1, x2, y2]``
            in input-image coordinates, same dtype and device as ``input``.
        output_size (int | tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Scale from image to feature coordinates
            (1 / stride). Defaults to 1.0.
        sampling_ratio (int): Sampling points per bin along each axis; 0 =
            adaptive ``ceil(roi_size / output_size)``. Defaults to 0.
        aligned (bool): mmcv's ``aligned`` (-0.5 pixel offset). Defaults to
            True.

    Returns:
        Tensor: RoI features of shape (K, C, out_h, out_w).
    """
    input, rois, _ = _autocast_inputs(input, rois, None)
    output_size = _check_args(input, rois, None, output_size, spatial_scale,
                              sampling_ratio, _OP)
    # once, before choosing mmcv's CUDA kernel or mmext's CPU kernel
    _check_roi_values(rois, input.size(0), spatial_scale, aligned, _OP)
    if input.is_cuda:
        return mmcv_ops.roi_align(input, rois, output_size,
                                  float(spatial_scale), int(sampling_ratio),
                                  'avg', bool(aligned))
    return MMExtRoIAlignFunction.apply(input.contiguous(), rois.contiguous(),
                                       output_size, float(spatial_scale),
                                       int(sampling_ratio), bool(aligned))


@MODELS.register_module()
class MMExtRoIAlign(nn.Module):
    """RoIAlign layer with :class:`mmcv.ops.RoIAlign`'s arguments, running
    mmext's multi-threaded kernel on CPU (see :mod:`mmext.ops.roi_align`).

    Select it in any RoI extractor with
    ``roi_layer=dict(type='MMExtRoIAlign', output_size=7, sampling_ratio=0)``.

    Args:
        output_size (int | tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Scale from image to feature coordinates.
            Defaults to 1.0.
        sampling_ratio (int): Sampling points per bin along each axis, 0 =
            adaptive. Defaults to 0.
        pool_mode (str): Only ``'avg'`` (mmcv's default) is supported.
        aligned (bool): Use the -0.5 pixel offset (mmcv ``aligned``).
            Defaults to True.
        use_torchvision (bool): Only False is supported.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True,
                 use_torchvision: bool = False) -> None:
        super().__init__()
        if pool_mode != 'avg':
            raise ValueError(
                f"MMExtRoIAlign supports pool_mode='avg' only, got "
                f'{pool_mode!r}; use mmcv.ops.RoIAlign for max pooling')
        if use_torchvision:
            raise ValueError(
                'MMExtRoIAlign does not support use_torchvision=True; use '
                'mmcv.ops.RoIAlign for torchvision\'s roi_align')
        # fail when the config is built, not at the first forward
        _check_params(output_size, spatial_scale, sampling_ratio, _OP)
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = bool(aligned)
        self.use_torchvision = use_torchvision

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """Pool RoI features.

        Args:
            input (Tensor): Features of shape (N, C, H, W).
            rois (Tensor): RoIs of shape (K, 5), ``[batch_idx, x1, y1, x2,
                y2]``.

        Returns:
            Tensor: RoI features of shape (K, C, out_h, out_w).
        """
        return mmext_roi_align(input, rois, self.output_size,
                               self.spatial_scale, self.sampling_ratio,
                               self.aligned)

    def __repr__(self) -> str:
        s = self.__class__.__name__
        s += f'(output_size={self.output_size}, '
        s += f'spatial_scale={self.spatial_scale}, '
        s += f'sampling_ratio={self.sampling_ratio}, '
        s += f'pool_mode={self.pool_mode}, '
        s += f'aligned={self.aligned}, '
        s += f'use_torchvision={self.use_torchvision})'
        return s


# mmdet's RoI extractors (BaseRoIExtractor.build_roi_layers, used by
# SingleRoIExtractor, GenericRoIExtractor and every cascade / HTC head)
# resolve a string roi_layer.type with getattr(mmcv.ops, type), not through
# a registry. Publishing the class there makes
# roi_layer=dict(type='MMExtRoIAlign', ...) work in all of them once mmext is
# imported (configs do so with custom_imports); the MODELS registration above
# serves code that builds layers through mmdet's registry instead.
mmcv_ops.MMExtRoIAlign = MMExtRoIAlign
