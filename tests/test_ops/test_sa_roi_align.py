"""Tests of the compiled Shape-aware RoIAlign op (mmext.ops.sa_roi_align).

Checks: an all-ones mask equals mmcv RoIAlign; random masks equal the pure
PyTorch reference (forward, feature and mask gradients); gradcheck; edge
cases (RoIs outside the map, zero-size RoIs, K=0, batch index > 0); exact
hand-computed values; clear errors for bad arguments; CUDA (skipped without
a GPU).
"""
import subprocess
import sys

import pytest
import torch
from mmcv.ops import RoIAlign

from mmext.ops import (SaRoIAlign, SaRoIAlignFunction, sa_roi_align,
                       sa_roi_align_reference)

TOL = {torch.float32: 1e-6, torch.float64: 1e-10}
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs CUDA')


def random_rois(num_rois, num_imgs, img_h, img_w, dtype=torch.float32,
                seed=0, device='cpu'):
    """(K, 5) RoIs: sizes 0..60% of the image, some partly outside it."""
    gen = torch.Generator().manual_seed(seed)
    batch = torch.randint(0, num_imgs, (num_rois, ), generator=gen)
    cx = torch.rand(num_rois, generator=gen) * img_w * 1.4 - 0.2 * img_w
    cy = torch.rand(num_rois, generator=gen) * img_h * 1.4 - 0.2 * img_h
    w = torch.rand(num_rois, generator=gen) * img_w * 0.6
    h = torch.rand(num_rois, generator=gen) * img_h * 0.6
    rois = torch.stack([
        batch.float(), cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    ], 1)
    return rois.to(dtype=dtype, device=device)


def make_inputs(dtype=torch.float64, num_imgs=2, channels=3, feat_hw=(10, 12),
                num_rois=8, mask_hw=(5, 6), stride=4, seed=0,
                requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(num_imgs, channels, *feat_hw, generator=gen)
    masks = torch.rand(num_rois, *mask_hw, generator=gen)
    rois = random_rois(num_rois, num_imgs, feat_hw[0] * stride,
                       feat_hw[1] * stride, seed=seed)
    feats = feats.to(dtype).requires_grad_(requires_grad)
    masks = masks.to(dtype).requires_grad_(requires_grad)
    return feats, rois.to(dtype), masks


# (a) all-ones mask == mmcv RoIAlign, forward and feature gradient
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2, 3])
def test_ones_mask_equals_mmcv_roi_align(dtype, aligned, sampling_ratio):
    feats, rois, _ = make_inputs(
        dtype, channels=4, feat_hw=(13, 17), num_rois=24, seed=1,
        requires_grad=True)
    # sizes below one feature pixel exercise the min-size-1 rule
    rois[:3, 3:] = rois[:3, 1:3] + torch.tensor([0.5, 2.0], dtype=dtype)
    masks = torch.ones(rois.size(0), 7, 9, dtype=dtype)
    grad = torch.randn(rois.size(0), 4, 3, 5, dtype=dtype)
    kwargs = dict(
        output_size=(3, 5),
        spatial_scale=0.25,
        sampling_ratio=sampling_ratio,
        aligned=aligned)

    out = SaRoIAlign(**kwargs)(feats, rois, masks)
    (grad_ours, ) = torch.autograd.grad(out, feats, grad)
    expected = RoIAlign(**kwargs)(feats, rois)
    (grad_mmcv, ) = torch.autograd.grad(expected, feats, grad)

    assert out.shape == (24, 4, 3, 5)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(out, expected, rtol=0, atol=TOL[dtype])
    torch.testing.assert_close(
        grad_ours, grad_mmcv, rtol=0, atol=10 * TOL[dtype])


# (b) random masks == the pure PyTorch reference, forward and both grads
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_matches_reference(dtype, aligned, sampling_ratio):
    feats, rois, masks = make_inputs(
        dtype, channels=5, num_rois=16, mask_hw=(6, 9), seed=2,
        requires_grad=True)
    grad = torch.randn(16, 5, 4, 3, dtype=dtype)
    args = ((4, 3), 0.25, sampling_ratio, aligned)

    out = sa_roi_align(feats, rois, masks, *args)
    grads = torch.autograd.grad(out, (feats, masks), grad)
    ref = sa_roi_align_reference(feats, rois, masks, *args)
    ref_grads = torch.autograd.grad(ref, (feats, masks), grad)

    tol = TOL[dtype] * 10
    torch.testing.assert_close(out, ref, rtol=0, atol=tol)
    for g, rg in zip(grads, ref_grads):
        assert rg.abs().sum() > 0
        torch.testing.assert_close(g, rg, rtol=0, atol=tol)


def _rois_in(num_rois, batch_ind, feat_hw, stride, seed):
    """``num_rois`` RoIs of image ``batch_ind`` inside a (H, W) feature map."""
    gen = torch.Generator().manual_seed(seed)
    img_h, img_w = feat_hw[0] * stride, feat_hw[1] * stride
    x1 = torch.rand(num_rois, generator=gen) * img_w * 0.7
    y1 = torch.rand(num_rois, generator=gen) * img_h * 0.7
    w = (torch.rand(num_rois, generator=gen) * 0.25 + 0.05) * img_w
    h = (torch.rand(num_rois, generator=gen) * 0.25 + 0.05) * img_h
    return torch.stack(
        [torch.full_like(x1, batch_ind), x1, y1, x1 + w, y1 + h], 1)


# The CPU kernel reads a block of 8 channels either where it lies (an
# image's RoIs are sparse) or from a packed pixel-major copy (at least one
# sampling point per 4 feature pixels), the last C % 8 channels one by one,
# and takes RoIs in chunks of 2^17 sampling points; an image's feature
# gradient is written by its first chunk and accumulated by later ones. These
# cases put each of these paths against the reference. 'chunks' (8 x 8
# output, 8 x 8 points per bin: 4096 points per RoI, so 32 RoIs per chunk):
# image 0 fills chunk 1 with 2 RoIs of image 1 (packed), whose third RoI is
# alone in chunk 2 (sparse, accumulated); image 2 fills chunk 2 and has 2 RoIs
# in chunk 3 (packed, accumulated); image 3 has none.
LAYOUT_CASES = {
    # name: (feature (N, C, H, W), RoIs per image, output size, ratio)
    'dense': ((2, 19, 10, 12), (9, 7), 3, 2),
    'sparse': ((2, 19, 48, 64), (2, 1), 3, 2),
    'dense_sparse_empty': ((3, 19, 24, 32), (12, 1, 0), 3, 2),
    'chunks': ((4, 19, 128, 160), (30, 3, 33, 0), 8, 8),
}


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('case', list(LAYOUT_CASES))
def test_kernel_paths_match_reference(case, dtype):
    feat_shape, rois_per_image, out_size, ratio = LAYOUT_CASES[case]
    gen = torch.Generator().manual_seed(11)
    feats = torch.randn(*feat_shape, generator=gen, dtype=dtype)
    rois = torch.cat([
        _rois_in(n, b, feat_shape[2:], 4, seed=b)
        for b, n in enumerate(rois_per_image)
    ]).to(dtype)
    num_rois = rois.size(0)
    masks = torch.rand(num_rois, 7, 7, generator=gen, dtype=dtype)
    grad = torch.randn(
        num_rois, feat_shape[1], out_size, out_size, generator=gen,
        dtype=dtype)
    feats.requires_grad_()
    masks.requires_grad_()
    args = (out_size, 0.25, ratio, True)

    out = sa_roi_align(feats, rois, masks, *args)
    grads = torch.autograd.grad(out, (feats, masks), grad)
    ref = sa_roi_align_reference(feats, rois, masks, *args)
    ref_grads = torch.autograd.grad(ref, (feats, masks), grad)

    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    torch.testing.assert_close(out, ref, rtol=0, atol=tol)
    for g, rg in zip(grads, ref_grads):
        torch.testing.assert_close(g, rg, rtol=0, atol=tol)
    for b, n in enumerate(rois_per_image):  # no garbage for images w/o RoIs
        assert (grads[0][b].abs().max() > 0) == (n > 0)


def test_mask_changes_output():
    """A non-trivial mask must change the result (guards a no-op mask)."""
    feats, rois, masks = make_inputs(torch.float64, seed=3)
    out = sa_roi_align(feats, rois, masks, 3, 0.25, 2)
    plain = sa_roi_align(feats, rois, torch.ones_like(masks), 3, 0.25, 2)
    assert (out - plain).abs().max() > 1e-3
    zero = sa_roi_align(feats, rois, torch.zeros_like(masks), 3, 0.25, 2)
    assert zero.abs().max() == 0


# (c) gradcheck in float64 w.r.t. features and masks
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_gradcheck(aligned, sampling_ratio):
    feats = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 0.5, 9.0, 8.0], [1, -3.0, -2.0, 4.0, 3.0],
                         [1, 2.2, 2.6, 2.9, 3.1]],
                        dtype=torch.float64)
    masks = torch.rand(3, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda f, m: sa_roi_align(f, rois, m, 2, 0.7, sampling_ratio,
                                  aligned), (feats, masks))


def test_gradcheck_masks_only():
    """Backward with only the masks requiring a gradient."""
    feats = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    rois = torch.tensor([[0, 0.5, 1.0, 5.0, 4.5]], dtype=torch.float64)
    masks = torch.rand(1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m: sa_roi_align(feats, rois, m, 3, 1.0, 2), (masks, ))


# (d) edge cases
def test_hand_computed_values():
    """Constant features; a 1 x 2 mask [a, b] over an 8 x 8 RoI.

    With aligned=False, scale 1 and 2 x 2 points per bin, the points of the
    left bin sit at box fractions u = 0.125, 0.375, i.e. mask coordinates
    u * 2 - 0.5 = -0.25 (clamped to pixel 0) and 0.25: the bin mean is
    (a + (0.75 a + 0.25 b)) / 2 = 0.875 a + 0.125 b; symmetric on the right.
    """
    feats = torch.full((1, 1, 10, 10), 2.0, dtype=torch.float64)
    rois = torch.tensor([[0, 0.0, 0.0, 8.0, 8.0]], dtype=torch.float64)
    masks = torch.tensor([[[1.0, 0.2]]], dtype=torch.float64,
                         requires_grad=True)
    out = sa_roi_align(feats, rois, masks, (1, 2), 1.0, 2, aligned=False)
    a, b = 1.0, 0.2
    expected = 2.0 * torch.tensor(
        [[[[0.875 * a + 0.125 * b, 0.125 * a + 0.875 * b]]]],
        dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    out.sum().backward()
    # d sum / d a = 2 * (0.875 + 0.125) = 2, same for b
    torch.testing.assert_close(
        masks.grad, torch.tensor([[[2.0, 2.0]]], dtype=torch.float64),
        rtol=0, atol=1e-12)


def test_rois_outside_and_partly_outside():
    feats = torch.randn(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([
        [0, 40.0, 40.0, 60.0, 60.0],  # fully outside: zeros
        [0, -20.0, -20.0, -10.0, -10.0],  # fully outside: zeros
        [0, -6.0, 10.0, 12.0, 40.0],  # partly outside
    ], dtype=torch.float64)
    masks = torch.rand(3, 4, 4, dtype=torch.float64, requires_grad=True)
    out = sa_roi_align(feats, rois, masks, 3, 0.25, 2)
    assert out[:2].abs().max() == 0
    assert out[2].abs().max() > 0
    ref = sa_roi_align_reference(feats, rois, masks, 3, 0.25, 2)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    out.sum().backward()
    assert masks.grad[:2].abs().max() == 0
    assert masks.grad[2].abs().max() > 0


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_zero_size_rois(aligned, sampling_ratio):
    feats = torch.randn(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 12.0, 12.0, 12.0, 12.0],
                         [0, 4.0, 20.0, 4.0, 28.0]],
                        dtype=torch.float64)
    masks = torch.rand(2, 3, 3, dtype=torch.float64, requires_grad=True)
    out = sa_roi_align(feats, rois, masks, 2, 0.25, sampling_ratio, aligned)
    assert torch.isfinite(out).all()
    ref = sa_roi_align_reference(feats, rois, masks, 2, 0.25,
                                 sampling_ratio, aligned)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    ones = sa_roi_align(feats, rois, torch.ones_like(masks), 2, 0.25,
                        sampling_ratio, aligned)
    expected = RoIAlign(2, 0.25, sampling_ratio, aligned=aligned)(feats, rois)
    torch.testing.assert_close(ones, expected, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(out.sum(), (feats, masks))
    assert all(torch.isfinite(g).all() for g in grads)


def test_no_rois():
    feats = torch.randn(2, 3, 6, 6, requires_grad=True)
    masks = torch.rand(0, 28, 28, requires_grad=True)
    rois = torch.zeros(0, 5)
    out = SaRoIAlign(7, 0.25)(feats, rois, masks)
    assert out.shape == (0, 3, 7, 7)
    out.sum().backward()
    assert feats.grad.shape == feats.shape and feats.grad.abs().max() == 0
    assert masks.grad.shape == (0, 28, 28)


def test_mask_28_output_7_batch_index():
    """The MR R-CNN shapes: 28 x 28 masks, 7 x 7 output, RoIs of image 1."""
    feats, rois, masks = make_inputs(
        torch.float32, num_imgs=3, channels=8, feat_hw=(16, 20), num_rois=12,
        mask_hw=(28, 28), seed=4, requires_grad=True)
    rois[:, 0] = torch.tensor([2, 1] * 6, dtype=torch.float32)
    out = sa_roi_align(feats, rois, masks, 7, 0.25, 0)
    ref = sa_roi_align_reference(feats, rois, masks, 7, 0.25, 0)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    (grad_feats, ) = torch.autograd.grad(out.sum(), feats)
    assert grad_feats[0].abs().max() == 0  # image 0 has no RoI
    assert grad_feats[1].abs().max() > 0 and grad_feats[2].abs().max() > 0
    # RoIs of another image read that image only
    rois_b0 = rois.clone()
    rois_b0[:, 0] = 0
    feats_b0 = feats.detach()[[1, 1, 1]]
    same = sa_roi_align(feats_b0, rois_b0, masks.detach(), 7, 0.25, 0)
    mask1 = rois[:, 0] == 1
    torch.testing.assert_close(same[mask1], out.detach()[mask1])


def test_non_contiguous_inputs():
    feats, rois, masks = make_inputs(torch.float64, seed=5)
    expected = sa_roi_align(feats, rois, masks, 3, 0.25, 2)
    feats_nc = feats.transpose(2, 3).contiguous().transpose(2, 3)
    masks_nc = masks.transpose(1, 2).contiguous().transpose(1, 2)
    rois_nc = torch.cat([rois, rois], 1)[:, ::2]
    rois_nc[:] = rois
    assert not (feats_nc.is_contiguous() or masks_nc.is_contiguous()
                or rois_nc.is_contiguous())
    out = sa_roi_align(feats_nc, rois_nc, masks_nc, 3, 0.25, 2)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_backward_independent_of_thread_count():
    # two mask-gradient groups of 32 channels, packed blocks and a tail
    feats, rois, masks = make_inputs(
        torch.float32, channels=43, num_rois=10, seed=6, requires_grad=True)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            out = sa_roi_align(feats, rois, masks, 3, 0.25, 2)
            results.append(
                (out, *torch.autograd.grad(out.sum(), (feats, masks))))
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_half_cpu_close_to_float():
    feats, rois, masks = make_inputs(torch.float32, seed=7)
    expected = sa_roi_align(feats, rois, masks, 3, 0.25, 2)
    out = sa_roi_align(feats.half(), rois.half(), masks.half(), 3, 0.25, 2)
    assert out.dtype == torch.float16
    # rois are rounded to half too, so allow a little more than half eps
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=2e-2)


def test_module_api():
    layer = SaRoIAlign(7, spatial_scale=0.125, sampling_ratio=2,
                       aligned=False)
    assert layer.output_size == (7, 7)
    assert repr(layer) == ('SaRoIAlign(output_size=(7, 7), '
                           'spatial_scale=0.125, sampling_ratio=2, '
                           'aligned=False)')
    feats, rois, masks = make_inputs(torch.float64, seed=8)
    torch.testing.assert_close(
        layer(feats, rois, masks),
        sa_roi_align(feats, rois, masks, 7, 0.125, 2, False))
    assert list(layer.parameters()) == []


# bad arguments: clear errors naming the argument
def _bad_case(name):
    feats = torch.rand(2, 3, 8, 8)
    rois = torch.tensor([[0, 1.0, 1.0, 20.0, 20.0]])
    masks = torch.rand(1, 4, 4)
    kwargs = dict(output_size=3, spatial_scale=0.25, sampling_ratio=0)
    if name == 'input_3d':
        feats = feats[0]
    elif name == 'input_empty_hw':
        feats = feats[:, :, :0]
    elif name == 'rois_4_cols':
        rois = rois[:, 1:]
    elif name == 'rois_1d':
        rois = rois[0]
    elif name == 'masks_4d':
        masks = masks[:, None]
    elif name == 'masks_count':
        masks = torch.rand(2, 4, 4)
    elif name == 'masks_empty':
        masks = torch.rand(1, 0, 4)
    elif name == 'rois_dtype':
        rois = rois.double()
    elif name == 'masks_dtype':
        masks = masks > 0.5
    elif name == 'input_dtype':
        feats = (feats * 10).long()
    elif name == 'input_type':
        feats = feats.numpy()
    elif name == 'output_size':
        kwargs['output_size'] = (0, 3)
    elif name == 'sampling_ratio':
        kwargs['sampling_ratio'] = -1
    elif name == 'spatial_scale':
        kwargs['spatial_scale'] = 0
    elif name == 'batch_index':
        rois[0, 0] = 2
    elif name == 'rois_nan':
        rois[0, 3] = float('nan')
    elif name == 'rois_negative_size':
        rois[0, 3] = 0.0
    return feats, rois, masks, kwargs


@pytest.mark.parametrize('name,error,match', [
    ('input_3d', ValueError, 'input must be a 4-D'),
    ('input_empty_hw', ValueError, 'input height and width'),
    ('rois_4_cols', ValueError, r'rois must be \(K, 5\)'),
    ('rois_1d', ValueError, r'rois must be \(K, 5\)'),
    ('masks_4d', ValueError, 'masks must be a 3-D'),
    ('masks_count', ValueError, 'masks has 2 masks but rois has 1'),
    ('masks_empty', ValueError, 'masks height and width'),
    ('rois_dtype', TypeError, 'rois dtype torch.float64 does not match'),
    ('masks_dtype', TypeError, 'masks dtype torch.bool does not match'),
    ('input_dtype', TypeError, 'input must be float16, float32 or float64'),
    ('input_type', TypeError, 'input must be a Tensor'),
    ('output_size', ValueError, 'output_size'),
    ('sampling_ratio', ValueError, 'sampling_ratio'),
    ('spatial_scale', ValueError, 'spatial_scale'),
    ('batch_index', ValueError, r'rois\[0, 0\] \(batch index\)'),
    ('rois_nan', ValueError, r'rois\[0\] has a non-finite value'),
    ('rois_negative_size', ValueError, 'x2 < x1 or y2 < y1'),
])
def test_bad_arguments(name, error, match):
    feats, rois, masks, kwargs = _bad_case(name)
    with pytest.raises(error, match=match):
        sa_roi_align(feats, rois, masks, **kwargs)


# RoI values are validated once, in Python, before any device's kernel
BAD_ROIS = {
    # name: (row 1 of the RoIs, message)
    'nan': ([0, 1.0, 1.0, float('nan'), 20.0],
            r'rois\[1\] has a non-finite value'),
    'inf': ([0, -float('inf'), 1.0, 20.0, 20.0],
            r'rois\[1\] has a non-finite value'),
    'fractional_batch': ([0.5, 1.0, 1.0, 20.0, 20.0],
                         r'rois\[1, 0\] \(batch index\) = 0.5 is not an '
                         r'integer in \[0, input.size\(0\)=2\)'),
    'batch_too_large': ([2, 1.0, 1.0, 20.0, 20.0],
                        r'rois\[1, 0\] \(batch index\) = 2 is not'),
    'batch_negative': ([-1, 1.0, 1.0, 20.0, 20.0],
                       r'rois\[1, 0\] \(batch index\) = -1 is not'),
    'x2_below_x1': ([1, 10.0, 1.0, 9.0, 20.0],
                    r'rois\[1\] has x2 < x1 or y2 < y1'),
    'y2_below_y1': ([1, 1.0, 10.0, 20.0, 9.99],
                    r'rois\[1\] has x2 < x1 or y2 < y1'),
}


class _Dispatched(Exception):
    """Raised by the stand-in extension: a kernel would have run."""


@pytest.mark.parametrize('op', ['sa_roi_align', 'mmext_roi_align'])
@pytest.mark.parametrize('case', list(BAD_ROIS))
def test_rois_validated_before_dispatch(case, op, monkeypatch):
    """The check runs before the compiled op is even looked up, so it
    guards every device's kernel: the extension is replaced by one that
    raises if reached (the CUDA kernels pool bad RoIs as zeros silently)."""
    from mmext.ops import mmext_roi_align

    # the package exports a function of the module's name
    sa_module = sys.modules['mmext.ops.sa_roi_align']

    def dispatch(*args, **kwargs):
        raise _Dispatched

    monkeypatch.setattr(sa_module, 'load_ext', dispatch)
    feats = torch.rand(2, 3, 8, 8)
    rois = torch.tensor([[1, 2.0, 2.0, 12.0, 16.0], [0, 1.0, 1.0, 20.0,
                                                      20.0]])
    masks = torch.rand(2, 4, 4)

    def call(r):
        if op == 'sa_roi_align':
            return sa_roi_align(feats, r, masks, 3, 0.25, 0, True)
        return mmext_roi_align(feats, r, 3, 0.25, 0, True)

    with pytest.raises(_Dispatched):  # valid RoIs reach the kernel
        call(rois)
    row, match = BAD_ROIS[case]
    rois[1] = torch.tensor(row)
    with pytest.raises(ValueError, match=f'{op}: {match}'):
        call(rois)


@pytest.mark.parametrize('dtype', [torch.float16, torch.float32,
                                   torch.float64])
@pytest.mark.parametrize('case', list(BAD_ROIS) + ['ok', 'zero_size',
                                                   'tiny_negative'])
def test_roi_checks_python_and_cpu_kernel_agree(case, dtype):
    """The Python check and the C++ CPU check (kept for direct extension
    calls) accept and reject the same RoIs with the same message."""
    from mmext.ops.ext_loader import load_ext
    from mmext.ops.sa_roi_align import _check_roi_values
    rows = {
        'ok': [1, 2.0, 2.0, 12.0, 16.0],
        'zero_size': [1, 2.0, 2.0, 2.0, 16.0],
        'tiny_negative': [1, 2.0, 2.0, 1.99, 16.0],
    }
    row = rows[case] if case in rows else BAD_ROIS[case][0]
    feats = torch.rand(2, 3, 8, 8, dtype=dtype)
    rois = torch.tensor([[1, 2.0, 2.0, 12.0, 16.0], row], dtype=dtype)
    masks = torch.rand(2, 4, 4, dtype=dtype)
    ext = load_ext(('sa_roi_align_forward', ))
    for aligned in (True, False):
        messages = []
        for check in (
                lambda: _check_roi_values(rois, 2, 0.3, aligned),
                lambda: ext.sa_roi_align_forward(feats, rois, masks, 3, 3,
                                                 0.3, 0, aligned)):
            try:
                check()
                messages.append(None)
            except ValueError as e:
                messages.append(str(e).splitlines()[0])
        assert messages[0] == messages[1], (case, aligned, messages)
        negative_size = case in ('x2_below_x1', 'y2_below_y1',
                                 'tiny_negative')
        accepted = case in ('ok', 'zero_size') or (negative_size
                                                   and not aligned)
        assert (messages[0] is None) == accepted, messages


def test_autocast_gives_rois_and_masks_the_feature_dtype():
    """Under autocast float16 features pool float32 RoIs and masks as
    float16 (float32 accumulation); each input gets its gradient in its own
    dtype. Outside autocast the dtypes must match (test_bad_arguments)."""
    feats, rois, masks = make_inputs(torch.float32, seed=12)
    feats_h = feats.half().requires_grad_()
    masks_f = masks.clone().requires_grad_()
    with torch.autocast('cpu', dtype=torch.float16):
        out = sa_roi_align(feats_h, rois, masks_f, 3, 0.25, 2)
    assert out.dtype == torch.float16
    expected = sa_roi_align(feats_h.detach(), rois.half(), masks.half(), 3,
                            0.25, 2)
    assert torch.equal(out, expected)
    out.float().sum().backward()
    assert feats_h.grad.dtype == torch.float16
    assert masks_f.grad.dtype == torch.float32
    assert masks_f.grad.abs().max() > 0
    # bfloat16 (CPU autocast's default) is not compiled: it runs in float32
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out_bf16 = sa_roi_align(feats.bfloat16(), rois, masks, 3, 0.25, 2)
    assert out_bf16.dtype == torch.float32
    torch.testing.assert_close(
        out_bf16,
        sa_roi_align(feats.bfloat16().float(), rois, masks, 3, 0.25, 2),
        rtol=0, atol=0)


def test_extension_call_checks_shapes():
    """Direct calls of the Function bypass the Python checks but still raise
    (no out-of-bounds access)."""
    feats = torch.rand(1, 2, 6, 6)
    rois = torch.tensor([[0, 1.0, 1.0, 4.0, 4.0]])
    with pytest.raises(ValueError, match='masks must be'):
        SaRoIAlignFunction.apply(feats, rois, torch.rand(2, 3, 3), (2, 2),
                                 1.0, 0, True)
    with pytest.raises(TypeError, match='same dtype'):
        SaRoIAlignFunction.apply(feats, rois.double(), torch.rand(1, 3, 3),
                                 (2, 2), 1.0, 0, True)


def test_missing_extension_message(monkeypatch):
    from mmext.ops import ext_loader
    monkeypatch.setattr(ext_loader, '_ext', None)
    monkeypatch.setitem(sys.modules, 'mmext._ext', None)
    feats, rois, masks = make_inputs(torch.float32)
    with pytest.raises(ImportError, match='pip install --no-build-isolation'):
        sa_roi_align(feats, rois, masks, 3, 0.25)


def test_import_mmext_without_extension():
    code = ('import sys; sys.modules["mmext._ext"] = None; import mmext; '
            'import mmext.ops; print(mmext.ops.SaRoIAlign(7))')
    res = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert 'SaRoIAlign(output_size=(7, 7)' in res.stdout


# (e) CUDA
@needs_cuda
def test_cuda_amp_training_step():
    """A float16 forward / backward under CUDA autocast: conv features in
    float16, float32 RoIs and masks, float32 accumulation in the kernels."""
    feats, rois, masks = make_inputs(
        torch.float32, channels=8, num_rois=32, mask_hw=(28, 28), seed=13)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1).cuda()
    feats_c = feats.cuda().requires_grad_()
    masks_c = masks.cuda().requires_grad_()
    with torch.autocast('cuda', dtype=torch.float16):
        out = sa_roi_align(conv(feats_c), rois.cuda(), masks_c, 7, 0.25, 0)
        loss = out.float().square().mean()
    assert out.dtype == torch.float16
    loss.backward()
    expected = sa_roi_align(conv(feats_c).detach(), rois.cuda(),
                            masks_c.detach(), 7, 0.25, 0)
    torch.testing.assert_close(out.float(), expected, rtol=1e-2, atol=1e-2)
    assert masks_c.grad.dtype == torch.float32
    assert torch.isfinite(feats_c.grad).all()
    assert torch.isfinite(masks_c.grad).all() and masks_c.grad.abs().max() > 0


@needs_cuda
def test_cuda_rejects_bad_rois_like_cpu():
    feats, rois, masks = make_inputs(torch.float32, seed=14)
    for row, match in BAD_ROIS.values():
        bad = rois.clone()
        bad[1] = torch.tensor(row)
        messages = []
        for device in ('cpu', 'cuda'):
            with pytest.raises(ValueError, match=match) as info:
                sa_roi_align(feats.to(device), bad.to(device),
                             masks.to(device), 7, 0.25, 0, True)
            messages.append(str(info.value))
        assert messages[0] == messages[1]


@needs_cuda
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_cuda_matches_cpu(dtype, aligned, sampling_ratio):
    feats, rois, masks = make_inputs(
        dtype, channels=5, num_rois=16, mask_hw=(28, 28), seed=9,
        requires_grad=True)
    grad = torch.randn(16, 5, 7, 7, dtype=dtype)
    args = (7, 0.25, sampling_ratio, aligned)
    out = sa_roi_align(feats, rois, masks, *args)
    grads = torch.autograd.grad(out, (feats, masks), grad)

    feats_c = feats.detach().cuda().requires_grad_()
    masks_c = masks.detach().cuda().requires_grad_()
    out_c = sa_roi_align(feats_c, rois.cuda(), masks_c, *args)
    grads_c = torch.autograd.grad(out_c, (feats_c, masks_c), grad.cuda())
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(out_c.cpu(), out, rtol=0, atol=tol)
    for g, gc in zip(grads, grads_c):
        torch.testing.assert_close(gc.cpu(), g, rtol=0, atol=tol)
    ones = sa_roi_align(feats_c, rois.cuda(), torch.ones_like(masks_c), *args)
    expected = RoIAlign(7, 0.25, sampling_ratio, aligned=aligned)(
        feats_c, rois.cuda())
    torch.testing.assert_close(ones, expected, rtol=0, atol=tol)


@needs_cuda
def test_cuda_half_and_edge_cases():
    feats, rois, masks = make_inputs(torch.float32, seed=10)
    expected = sa_roi_align(feats, rois, masks, 7, 0.25, 2)
    feats_h = feats.cuda().half().requires_grad_()
    masks_h = masks.cuda().half().requires_grad_()
    out = sa_roi_align(feats_h, rois.cuda().half(), masks_h, 7, 0.25, 2)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float().cpu(), expected, rtol=0, atol=2e-2)
    out.float().sum().backward()
    assert feats_h.grad.dtype == torch.float16
    assert torch.isfinite(masks_h.grad).all()

    empty = sa_roi_align(feats.cuda(), rois[:0].cuda(),
                         masks[:0].cuda(), 7, 0.25)
    assert empty.shape == (0, 3, 7, 7)
    with pytest.raises(ValueError, match='rois is on cpu'):
        sa_roi_align(feats.cuda(), rois, masks.cuda(), 7, 0.25)
    # an out-of-range batch index is rejected before the kernel, as on CPU
    bad = rois.clone()
    bad[0, 0] = 5
    with pytest.raises(ValueError, match=r'rois\[0, 0\] \(batch index\)'):
        sa_roi_align(feats.cuda(), bad.cuda(), masks.cuda(), 7, 0.25)
