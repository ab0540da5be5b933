"""Shape-aware RoIAlign (SaRoIAlign) of MR R-CNN.

Ding et al., "Shape-aware Feature Extraction for Instance Segmentation",
Sec. 3.1, Eq. (3)-(5): RoIAlign whose sampling points are weighted by the
instance probability map of the RoI.

Semantics (``mmext/ops/csrc/common/sa_roi_align_kernel.h`` holds the exact
per-point math, shared by the CPU and CUDA kernels):

* Sampling points are exactly mmcv :class:`~mmcv.ops.RoIAlign`'s ('avg' mode):
  ``spatial_scale``, ``sampling_ratio`` (0 = adaptive
  ``ceil(roi_size / output_size)`` points per bin), ``aligned`` (-0.5 pixel
  offset; when False, mmcv's legacy rule that a RoI is at least 1 x 1 feature
  pixel), points outside ``[-1, H] x [-1, W]`` contribute 0, others are
  clamped into the map.
* The mask ``masks[k]`` (Hp x Wp) covers RoI k: pixel (i, j) covers the box
  fraction ``[j / Wp, (j + 1) / Wp) x [i / Hp, (i + 1) / Hp)``. A sampling
  point at box fraction (u, v) reads the mask bilinearly between pixel
  centres with border clamping, i.e. ``F.grid_sample(mask, 2 * (u, v) - 1,
  mode='bilinear', padding_mode='border', align_corners=False)``.
* The box fraction of a point is ``(point - roi_start) / roi_size`` with the
  ``roi_start`` and ``roi_size`` used for sampling. With ``aligned=False`` a
  RoI smaller than one feature pixel is sampled over ``[start, start + 1]``
  (mmcv's min-size-1 rule), so its mask is stretched over that enlarged
  region: the mask always covers exactly the region that is sampled.
* Output = mean over the bin's points of ``feature x mask``. An all-ones mask
  therefore gives mmcv RoIAlign.
* Gradients flow to ``input`` and to ``masks`` (not to ``rois``).

The paper does not say what "the location at probability map corresponding
to the location at feature map" (Eq. 5) means at sub-pixel level; the above
is the pixel model of mmdet's mask targets (``mask_target`` resamples a box
into Hp x Wp pixels that tile it), so a mask head's 28 x 28 output can be
passed unchanged.
"""
import math
import struct
from typing import Any, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable
from torch.nn.modules.utils import _pair

from .ext_loader import load_ext

_EXT_FUNCS = ('sa_roi_align_forward', 'sa_roi_align_backward')
_FLOAT_DTYPES = (torch.float16, torch.float32, torch.float64)


def _as_float32(value: float) -> float:
    """Round to float32 as the C++ ``float spatial_scale`` argument does."""
    return struct.unpack('f', struct.pack('f', value))[0]


def _check_params(output_size: Any,
                  spatial_scale: Any,
                  sampling_ratio: Any,
                  op: str = 'sa_roi_align') -> Tuple[int, int]:
    """Validate the non-tensor arguments of a RoIAlign-type op.

    Args:
        output_size, spatial_scale, sampling_ratio: As in
            :func:`sa_roi_align`.
        op (str): The op's name in the messages.

    Returns:
        tuple[int, int]: ``(out_h, out_w)``.

    Raises:
        ValueError: A wrong value, naming the argument.
    """
    out_h, out_w = _pair(output_size)
    for v in (out_h, out_w):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f'{op}: output_size must be a positive int or '
                             f'a pair of them, got {output_size!r}')
    if isinstance(sampling_ratio, bool) or not isinstance(
            sampling_ratio, int) or sampling_ratio < 0:
        raise ValueError(f'{op}: sampling_ratio must be an int >= 0 (0 = '
                         f'adaptive), got {sampling_ratio!r}')
    if not isinstance(spatial_scale, (int, float)) or isinstance(
            spatial_scale, bool) or not math.isfinite(spatial_scale) or \
            spatial_scale <= 0:
        raise ValueError(f'{op}: spatial_scale must be a finite number > 0, '
                         f'got {spatial_scale!r}')
    return out_h, out_w


def _check_args(input: Any,
                rois: Any,
                masks: Any,
                output_size: Any,
                spatial_scale: Any,
                sampling_ratio: Any,
                op: str = 'sa_roi_align') -> Tuple[int, int]:
    """Validate the arguments of :func:`sa_roi_align`.

    Also used by mmext's plain RoIAlign (:mod:`mmext.ops.roi_align`), which
    passes ``masks=None``: the mask checks are then skipped.

    Args:
        input, rois, masks, output_size, spatial_scale, sampling_ratio: As
            in :func:`sa_roi_align`; ``masks`` may be None.
        op (str): The op's name in the messages.

    Returns:
        tuple[int, int]: ``(out_h, out_w)``.

    Raises:
        TypeError: A wrong type or dtype, naming the argument.
        ValueError: A wrong shape, device or value, naming the argument.
    """
    tensors = [('input', input), ('rois', rois)]
    if masks is not None:
        tensors.append(('masks', masks))
    for name, value in tensors:
        if not isinstance(value, Tensor):
            raise TypeError(f'{op}: {name} must be a Tensor, got '
                            f'{type(value).__name__}')
    if input.dim() != 4:
        raise ValueError(f'{op}: input must be a 4-D tensor (N, C, H, W), '
                         f'got shape {tuple(input.shape)}')
    if input.size(2) == 0 or input.size(3) == 0:
        raise ValueError(f'{op}: input height and width must be > 0, got '
                         f'shape {tuple(input.shape)}')
    if rois.dim() != 2 or rois.size(1) != 5:
        raise ValueError(f'{op}: rois must be (K, 5) [batch_idx, x1, y1, x2, '
                         f'y2], got shape {tuple(rois.shape)}')
    if masks is not None:
        if masks.dim() != 3:
            raise ValueError(f'{op}: masks must be a 3-D tensor (K, Hp, Wp), '
                             f'got shape {tuple(masks.shape)}')
        if masks.size(0) != rois.size(0):
            raise ValueError(
                f'{op}: masks has {masks.size(0)} masks but rois has '
                f'{rois.size(0)} RoIs (masks must be (K, Hp, Wp) with K = '
                f'rois.size(0))')
        if masks.size(1) == 0 or masks.size(2) == 0:
            raise ValueError(f'{op}: masks height and width must be > 0, '
                             f'got shape {tuple(masks.shape)}')
    if input.dtype not in _FLOAT_DTYPES:
        raise TypeError(f'{op}: input must be float16, float32 or float64, '
                        f'got {input.dtype}')
    for name, value in tensors[1:]:
        if value.dtype != input.dtype:
            raise TypeError(
                f'{op}: {name} dtype {value.dtype} does not match input '
                f'dtype {input.dtype}; convert it with '
                f'`{name}.to(input.dtype)`')
        if value.device != input.device:
            raise ValueError(f'{op}: {name} is on {value.device} but input '
                             f'is on {input.device}')
    if input.device.type not in ('cpu', 'cuda'):
        raise ValueError(f'{op}: input must be on a CPU or CUDA device, got '
                         f'{input.device}')
    return _check_params(output_size, spatial_scale, sampling_ratio, op)


def _autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (any torch >= 1.10)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: no device argument
        if device_type == 'cuda':
            return torch.is_autocast_enabled()
        if device_type == 'cpu':
            return torch.is_autocast_cpu_enabled()
        return False


def _autocast_inputs(input: Any, rois: Any,
                     masks: Any) -> Tuple[Any, Any, Any]:
    """Give ``rois`` and ``masks`` the features' dtype under autocast.

    Under ``torch.autocast`` the features come in the autocast dtype
    (float16 from convolutions on CUDA) while RoIs and masks often stay in
    float32; the kernels need one dtype. As mmdet's RoI extractors do
    (``rois.type_as(feats)``), the features' dtype decides: float16 features
    pool float16 RoIs and masks, with float32 accumulation in the kernels.
    bfloat16 (CPU autocast's default), which the kernels do not compile, runs
    in float32. Outside autocast nothing is cast: mismatched dtypes raise
    TypeError in :func:`_check_args`. Casts are differentiable, so each input
    gets its gradient in its own dtype.
    """
    tensors = (input, rois, masks)
    if not all(
            isinstance(t, Tensor) and t.is_floating_point()
            for t in tensors if t is not None):
        return tensors  # let _check_args name the bad argument
    if not _autocast_enabled(input.device.type):
        return tensors
    dtype = input.dtype if input.dtype in _FLOAT_DTYPES else torch.float32
    return tuple(None if t is None else t.to(dtype) for t in tensors)


def _check_roi_values(rois: Tensor,
                      batch_size: int,
                      spatial_scale: float,
                      aligned: bool,
                      op: str = 'sa_roi_align') -> None:
    """Reject RoIs the kernels cannot pool, for every device, before any
    kernel runs.

    A RoI is rejected when a value is not finite, its batch index is not an
    integer in ``[0, batch_size)``, or (``aligned=True``, like mmcv's CPU
    RoIAlign) ``x2 < x1`` or ``y2 < y1`` after scaling. The messages are the
    C++ CPU check's (``check_rois_cpu`` in ``pytorch/cpu/sa_roi_align.cpp``,
    which stays as the safety net of direct ``mmext._ext`` calls) and name
    the first bad RoI; the arithmetic is the kernels' (float32 for float16
    and float32 RoIs, ``spatial_scale`` rounded to float32), so a RoI passes
    here exactly when it passes there.

    The CUDA kernels would otherwise pool such RoIs as zeros (or sample
    backwards) without a word. For CUDA tensors the check copies the (K, 5)
    RoIs to the host, one synchronisation per call.

    Args:
        rois (Tensor): RoIs of shape (K, 5), ``[batch_idx, x1, y1, x2, y2]``.
        batch_size (int): ``input.size(0)``.
        spatial_scale (float): As in :func:`sa_roi_align`.
        aligned (bool): As in :func:`sa_roi_align`.
        op (str): The op's name in the messages.

    Raises:
        ValueError: Naming the first bad RoI and what is wrong with it.
    """
    if rois.numel() == 0:
        return
    # the kernels compute in the op-math type: float32 for float16
    math_dtype = torch.float32 if rois.dtype == torch.float16 else rois.dtype
    r = rois.detach().to(device='cpu', dtype=math_dtype)
    non_finite = ~torch.isfinite(r).all(dim=1)
    batch = r[:, 0]
    bad_batch = (batch < 0) | (batch >= batch_size) | (batch != batch.trunc())
    bad = non_finite | bad_batch
    if aligned:
        scale = _as_float32(float(spatial_scale))
        width = (r[:, 3] * scale - 0.5) - (r[:, 1] * scale - 0.5)
        height = (r[:, 4] * scale - 0.5) - (r[:, 2] * scale - 0.5)
        negative = (width < 0) | (height < 0)
        bad = bad | negative
    if not bool(bad.any()):
        return
    n = int(bad.nonzero()[0, 0])
    if non_finite[n]:
        raise ValueError(f'{op}: rois[{n}] has a non-finite value')
    if bad_batch[n]:
        raise ValueError(
            f'{op}: rois[{n}, 0] (batch index) = {float(batch[n]):g} is not '
            f'an integer in [0, input.size(0)={batch_size})')
    raise ValueError(
        f'{op}: rois[{n}] has x2 < x1 or y2 < y1, which aligned=True does '
        'not allow (like mmcv RoIAlign)')


def _ext_forward(ctx: Any, input: Tensor, rois: Tensor,
                 masks: Optional[Tensor], output_size: Tuple[int, int],
                 spatial_scale: float, sampling_ratio: int,
                 aligned: bool) -> Tensor:
    """Run the compiled forward and keep on ``ctx`` what
    :func:`_ext_backward` needs.

    ``masks=None`` runs the kernels without a mask (plain RoIAlign, CPU
    only), shared with :class:`mmext.ops.MMExtRoIAlignFunction`.

    Returns:
        Tensor: RoI features of shape (K, C, out_h, out_w).
    """
    ext = load_ext(_EXT_FUNCS)
    ctx.output_size = _pair(output_size)
    ctx.spatial_scale = float(spatial_scale)
    ctx.sampling_ratio = int(sampling_ratio)
    ctx.aligned = bool(aligned)
    output = ext.sa_roi_align_forward(
        input,
        rois,
        masks,
        pooled_height=ctx.output_size[0],
        pooled_width=ctx.output_size[1],
        spatial_scale=ctx.spatial_scale,
        sampling_ratio=ctx.sampling_ratio,
        aligned=ctx.aligned)
    ctx.save_for_backward(input, rois, masks)
    return output


def _ext_backward(
        ctx: Any, grad_output: Tensor, needs_input_grad: bool,
        needs_masks_grad: bool) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """The compiled backward of :func:`_ext_forward`.

    Returns:
        tuple: ``(grad_input, grad_masks)``, each None where not requested.
    """
    if not (needs_input_grad or needs_masks_grad):
        return None, None
    input, rois, masks = ctx.saved_tensors
    ext = load_ext(_EXT_FUNCS)
    # complex head architectures may give a non-contiguous gradient
    grad_input, grad_masks = ext.sa_roi_align_backward(
        grad_output.contiguous(),
        input,
        rois,
        masks,
        pooled_height=ctx.output_size[0],
        pooled_width=ctx.output_size[1],
        spatial_scale=ctx.spatial_scale,
        sampling_ratio=ctx.sampling_ratio,
        aligned=ctx.aligned,
        needs_input_grad=needs_input_grad,
        needs_masks_grad=needs_masks_grad)
    return grad_input, grad_masks


class SaRoIAlignFunction(Function):
    """Autograd function of Shape-aware RoIAlign (compiled kernels).

    Use :func:`sa_roi_align`, which validates the arguments first; this
    function expects contiguous tensors of one dtype on one device.
    """

    @staticmethod
    def forward(ctx: Any,
                input: Tensor,
                rois: Tensor,
                masks: Tensor,
                output_size: Union[int, Tuple[int, int]],
                spatial_scale: float = 1.0,
                sampling_ratio: int = 0,
                aligned: bool = True) -> Tensor:
        return _ext_forward(ctx, input, rois, masks, output_size,
                            spatial_scale, sampling_ratio, aligned)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple:
        grad_input, grad_masks = _ext_backward(ctx, grad_output,
                                               ctx.needs_input_grad[0],
                                               ctx.needs_input_grad[2])
        return grad_input, None, grad_masks, None, None, None, None


def sa_roi_align(input: Tensor,
                 rois: Tensor,
                 masks: Tensor,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 aligned: bool = True) -> Tensor:
    """Shape-aware RoIAlign (compiled CPU / CUDA kernels).

    Args:
        input (Tensor): Features of shape (N, C, H, W), float16/32/64.
        rois (Tensor): RoIs of shape (K, 5), ``[batch_idx, x1, y1, x2, y2]``
            in input-image coordinates, same dtype and device as ``input``.
        masks (Tensor): Probability maps of shape (K, Hp, Wp), values in
            [0, 1], each covering its RoI box; same dtype and device.
        output_size (int | tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Scale from image to feature coordinates
            (1 / stride). Defaults to 1.0.
        sampling_ratio (int): Sampling points per bin along each axis; 0 =
            adaptive, like mmcv. Defaults to 0.
        aligned (bool): mmcv's ``aligned`` (-0.5 pixel offset). Defaults to
            True.

    Returns:
        Tensor: RoI features of shape (K, C, out_h, out_w).

    Note:
        float16, on CPU and CUDA alike: values are stored in float16 but
        every coordinate, weight and sum is computed in float32
        (``sa_roi_align_acc_t``, the op-math type), the output is rounded to
        float16 once, and the gradients are accumulated in float32 buffers
        and rounded once (tested: the result is the float32 result of the
        same float16 inputs, rounded). RoIs in float16 are themselves
        rounded (1/2 px steps between 512 and 1024 px). Under
        ``torch.autocast`` RoIs and masks take the features' dtype (see
        :func:`_autocast_inputs`); outside it the three dtypes must match.

        RoIs are validated for every device before any kernel runs (see
        :func:`_check_roi_values`): a non-finite value, a batch index that
        is not an integer in ``[0, N)``, or ``x2 < x1`` / ``y2 < y1`` with
        ``aligned=True`` raises ValueError naming the RoI.
    """
    input, rois, masks = _autocast_inputs(input, rois, masks)
    _check_args(input, rois, masks, output_size, spatial_scale,
                sampling_ratio)
    # once, before the compiled op picks the device's kernel
    _check_roi_values(rois, input.size(0), spatial_scale, aligned)
    return SaRoIAlignFunction.apply(input.contiguous(), rois.contiguous(),
                                    masks.contiguous(), _pair(output_size),
                                    float(spatial_scale), int(sampling_ratio),
                                    bool(aligned))


class SaRoIAlign(nn.Module):
    """Shape-aware RoIAlign layer (MR R-CNN).

    The constructor mirrors :class:`mmcv.ops.RoIAlign` minus ``pool_mode``
    (the paper's op is an average) and ``use_torchvision``. See the module
    docstring of :mod:`mmext.ops.sa_roi_align` for the exact semantics.

    Args:
        output_size (int | tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Scale from image to feature coordinates.
            Defaults to 1.0.
        sampling_ratio (int): Sampling points per bin along each axis, 0 =
            adaptive. Defaults to 0.
        aligned (bool): Use the -0.5 pixel offset (mmcv ``aligned``).
            Defaults to True.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 aligned: bool = True) -> None:
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)

    def forward(self, input: Tensor, rois: Tensor, masks: Tensor) -> Tensor:
        """Pool mask-weighted RoI features.

        Args:
            input (Tensor): Features of shape (N, C, H, W).
            rois (Tensor): RoIs of shape (K, 5), ``[batch_idx, x1, y1, x2,
                y2]``.
            masks (Tensor): Probability maps of shape (K, Hp, Wp) in [0, 1],
                each covering its RoI box.

        Returns:
            Tensor: RoI features of shape (K, C, out_h, out_w).
        """
        return sa_roi_align(input, rois, masks, self.output_size,
                            self.spatial_scale, self.sampling_ratio,
                            self.aligned)

    def __repr__(self) -> str:
        s = self.__class__.__name__
        s += f'(output_size={self.output_size}, '
        s += f'spatial_scale={self.spatial_scale}, '
        s += f'sampling_ratio={self.sampling_ratio}, '
        s += f'aligned={self.aligned})'
        return s


def _feature_axis_weights(
        coord: Tensor, size: int) -> Tuple[Tensor, Tensor, Tensor, Tensor,
                                           Tensor]:
    """mmcv's 1-D bilinear rule along one feature axis.

    Returns:
        tuple: ``valid`` (not outside [-1, size]), ``low``, ``high`` indices,
        and the weights ``w_low``, ``w_high``.
    """
    valid = (coord >= -1) & (coord <= size)
    c = coord.clamp(min=0)
    low = c.floor().long()
    at_end = low >= size - 1
    low = torch.where(at_end, torch.full_like(low, size - 1), low)
    high = torch.where(at_end, low, low + 1)
    c = torch.where(at_end, low.to(c.dtype), c)
    w_high = c - low.to(c.dtype)
    return valid, low, high, 1 - w_high, w_high


def sa_roi_align_reference(input: Tensor,
                           rois: Tensor,
                           masks: Tensor,
                           output_size: Union[int, Tuple[int, int]],
                           spatial_scale: float = 1.0,
                           sampling_ratio: int = 0,
                           aligned: bool = True,
                           max_points: Optional[int] = None) -> Tensor:
    """Pure-PyTorch Shape-aware RoIAlign (vectorised; used by the tests).

    Same semantics and signature as :func:`sa_roi_align`; differentiable
    through autograd w.r.t. ``input`` and ``masks``. The feature is sampled
    with mmcv's bilinear rules, the mask with ``F.grid_sample``. All RoIs are
    padded to the largest sampling grid, so memory is about
    ``K * out_h * out_w * grid_h * grid_w * C`` elements.

    Args:
        input (Tensor): Features of shape (N, C, H, W).
        rois (Tensor): RoIs of shape (K, 5).
        masks (Tensor): Masks of shape (K, Hp, Wp).
        output_size (int | tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Defaults to 1.0.
        sampling_ratio (int): Defaults to 0 (adaptive).
        aligned (bool): Defaults to True.
        max_points (int, optional): Raise ValueError instead of allocating
            more than this many sampling points (guards huge adaptive grids).

    Returns:
        Tensor: Shape (K, C, out_h, out_w).
    """
    out_h, out_w = _check_args(input, rois, masks, output_size,
                               spatial_scale, sampling_ratio)
    num_imgs, channels, height, width = input.shape
    num_rois = rois.size(0)
    if num_rois == 0:
        # keep the graph so that backward gives zero gradients
        return input.new_zeros(0, channels, out_h, out_w) + \
            0 * input.sum() + 0 * masks.sum()
    dtype, device = input.dtype, input.device
    # the C++ op receives spatial_scale as a C float, like mmcv
    scale = _as_float32(float(spatial_scale))
    offset = 0.5 if aligned else 0.0
    rois = rois.detach()
    batch_inds = rois[:, 0].long()
    start_w = rois[:, 1] * scale - offset
    start_h = rois[:, 2] * scale - offset
    roi_w = (rois[:, 3] * scale - offset) - start_w
    roi_h = (rois[:, 4] * scale - offset) - start_h
    if not aligned:  # mmcv: for backward-compatibility only
        roi_w = roi_w.clamp(min=1.)
        roi_h = roi_h.clamp(min=1.)
    bin_h = roi_h / out_h
    bin_w = roi_w / out_w
    if sampling_ratio > 0:
        grid_h = torch.full((num_rois, ), sampling_ratio, device=device)
        grid_w = grid_h.clone()
    else:
        # mmcv: ceilf(roi_size / pooled_size) in float
        grid_h = torch.ceil((roi_h / out_h).float()).clamp(min=0).long()
        grid_w = torch.ceil((roi_w / out_w).float()).clamp(min=0).long()
    count = (grid_h * grid_w).clamp(min=1).to(dtype)
    max_gh = max(int(grid_h.max()), 1)
    max_gw = max(int(grid_w.max()), 1)
    if max_points is not None and \
            num_rois * out_h * out_w * max_gh * max_gw > max_points:
        raise ValueError('sa_roi_align_reference: too many sampling points')
    # division-safe grid sizes; padded points are masked out below
    gh = grid_h.clamp(min=1).to(dtype)[:, None, None]
    gw = grid_w.clamp(min=1).to(dtype)[:, None, None]

    ph = torch.arange(out_h, device=device, dtype=dtype)[None, :, None]
    pw = torch.arange(out_w, device=device, dtype=dtype)[None, :, None]
    iy = torch.arange(max_gh, device=device, dtype=dtype)[None, None, :]
    ix = torch.arange(max_gw, device=device, dtype=dtype)[None, None, :]
    # sampling coordinates, same expression order as mmcv: (K, out, grid)
    y = start_h[:, None, None] + ph * bin_h[:, None, None] + \
        (iy + 0.5) * bin_h[:, None, None] / gh
    x = start_w[:, None, None] + pw * bin_w[:, None, None] + \
        (ix + 0.5) * bin_w[:, None, None] / gw
    in_grid_y = iy < grid_h.to(dtype)[:, None, None]
    in_grid_x = ix < grid_w.to(dtype)[:, None, None]

    # features: mmcv's bilinear rule, gathered from a (N*H*W, C) view
    valid_y, y_lo, y_hi, wy_lo, wy_hi = _feature_axis_weights(y, height)
    valid_x, x_lo, x_hi, wx_lo, wx_hi = _feature_axis_weights(x, width)
    flat = input.permute(0, 2, 3, 1).reshape(-1, channels)
    base = (batch_inds * height * width)[:, None, None, None, None]

    def corner(yi: Tensor, xi: Tensor) -> Tensor:
        # (K, oh, gh, 1, 1) x (K, 1, 1, ow, gw) -> (K, oh, gh, ow, gw, C)
        idx = base + yi[:, :, :, None, None] * width + xi[:, None, None]
        return flat[idx.reshape(-1)].view(*idx.shape, channels)

    def weight(wy: Tensor, wx: Tensor) -> Tensor:
        return (wy[:, :, :, None, None] * wx[:, None, None])[..., None]

    feat = weight(wy_lo, wx_lo) * corner(y_lo, x_lo) + \
        weight(wy_lo, wx_hi) * corner(y_lo, x_hi) + \
        weight(wy_hi, wx_lo) * corner(y_hi, x_lo) + \
        weight(wy_hi, wx_hi) * corner(y_hi, x_hi)

    # masks: box fraction of every point, read with grid_sample
    v = (ph + (iy + 0.5) / gh) / out_h  # (K, oh, gh)
    u = (pw + (ix + 0.5) / gw) / out_w  # (K, ow, gw)
    grid = torch.stack(
        torch.broadcast_tensors(u[:, None, None] * 2 - 1,
                                v[:, :, :, None, None] * 2 - 1),
        dim=-1).reshape(num_rois, out_h * max_gh, out_w * max_gw, 2)
    mask_val = F.grid_sample(
        masks[:, None],
        grid,
        mode='bilinear',
        padding_mode='border',
        align_corners=False).view(num_rois, out_h, max_gh, out_w, max_gw)

    keep = (valid_y & in_grid_y)[:, :, :, None, None] & \
        (valid_x & in_grid_x)[:, None, None]
    weighted = feat * (mask_val * keep.to(dtype))[..., None]
    out = weighted.sum(dim=(2, 4)) / count[:, None, None, None]
    return out.permute(0, 3, 1, 2).contiguous()
