"""Tests of mmext's plain RoIAlign (mmext.ops.MMExtRoIAlign).

Checks: equal to mmcv RoIAlign in forward and feature gradient (aligned x
sampling ratios, float32 / float64, RoIs partly / fully outside the map,
images without RoIs, every path of the CPU kernel, no RoIs); gradcheck;
bitwise independent of the thread count; selectable by name as the
roi_layer of mmdet's and mmext's RoI extractors, with results equal to
mmcv's layer; clear errors for unsupported or bad arguments; CUDA runs
mmcv's kernel (skipped without a GPU).
"""
import glob
import os.path as osp

import pytest
import torch
from mmcv import ops as mmcv_ops
from mmcv.ops import RoIAlign
from mmdet.registry import MODELS
from mmengine.config import Config
from test_sa_roi_align import LAYOUT_CASES, _rois_in, random_rois

from mmext.ops import MMExtRoIAlign, MMExtRoIAlignFunction, mmext_roi_align
from mmext.ops.ext_loader import load_ext

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs CUDA')


def make_inputs(dtype, num_imgs=3, channels=11, feat_hw=(13, 17),
                num_rois=30, stride=4, seed=0):
    """Features and RoIs of images 0 and 2 only (image 1 has none), some
    RoIs partly outside the map, four fully outside it, three smaller than
    a feature pixel. 11 channels: the kernel's 8-channel block and 3 tail
    channels."""
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(num_imgs, channels, *feat_hw, generator=gen)
    rois = random_rois(num_rois, num_imgs, feat_hw[0] * stride,
                       feat_hw[1] * stride, seed=seed)
    rois[:, 0] = torch.where(rois[:, 0] == 1, 2.0, rois[:, 0])
    img_h, img_w = feat_hw[0] * stride, feat_hw[1] * stride
    rois[:4, 1:] = torch.tensor([
        [img_w + 10, 5, img_w + 30, 20],  # right of the map
        [-40, -30, -10, -6],  # above-left
        [5, img_h + 8, 20, img_h + 40],  # below
        [-30, 2, -6, 30],  # left
    ])
    # sizes below one feature pixel: mmcv's min-size-1 rule (aligned=False)
    rois[4:7, 3:] = rois[4:7, 1:3] + torch.tensor([0.5, 2.0])
    return feats.to(dtype), rois.to(dtype)


def assert_equals_mmcv(feats, rois, tol, **kwargs):
    """Forward and feature gradient of MMExtRoIAlign vs. mmcv RoIAlign."""
    feats = feats.detach().requires_grad_()
    out = MMExtRoIAlign(**kwargs)(feats, rois)
    grad = torch.randn_like(out)
    (grad_ours, ) = torch.autograd.grad(out, feats, grad)
    expected = RoIAlign(**kwargs)(feats, rois)
    (grad_mmcv, ) = torch.autograd.grad(expected, feats, grad)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(out, expected, rtol=0, atol=tol)
    torch.testing.assert_close(grad_ours, grad_mmcv, rtol=0, atol=10 * tol)
    return out, grad_ours


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2, 3])
def test_equals_mmcv_roi_align(dtype, aligned, sampling_ratio):
    feats, rois = make_inputs(dtype)
    out, grad = assert_equals_mmcv(
        feats,
        rois,
        TOL[dtype],
        output_size=(3, 5),
        spatial_scale=0.25,
        sampling_ratio=sampling_ratio,
        aligned=aligned)
    assert out.shape == (30, 11, 3, 5)
    assert out[:4].abs().max() == 0  # RoIs fully outside the map
    assert grad[1].abs().max() == 0  # image 1 has no RoI
    assert grad[0].abs().max() > 0 and grad[2].abs().max() > 0


# the kernel's paths: packed (dense RoIs) and in-place (sparse) channel
# blocks, the C % 8 tail channels, chunks of RoIs, images without RoIs
@pytest.mark.parametrize('case', list(LAYOUT_CASES))
def test_kernel_paths_equal_mmcv(case):
    feat_shape, rois_per_image, out_size, ratio = LAYOUT_CASES[case]
    gen = torch.Generator().manual_seed(12)
    feats = torch.randn(*feat_shape, generator=gen)
    rois = torch.cat([
        _rois_in(n, b, feat_shape[2:], 4, seed=b)
        for b, n in enumerate(rois_per_image)
    ])
    _, grad = assert_equals_mmcv(
        feats,
        rois,
        2e-5,
        output_size=out_size,
        spatial_scale=0.25,
        sampling_ratio=ratio)
    for b, n in enumerate(rois_per_image):  # no garbage for images w/o RoIs
        assert (grad[b].abs().max() > 0) == (n > 0)


@pytest.mark.parametrize('aligned', [True, False])
def test_no_rois(aligned):
    feats = torch.randn(2, 3, 6, 6, requires_grad=True)
    out = MMExtRoIAlign(7, 0.25, aligned=aligned)(feats, torch.zeros(0, 5))
    assert out.shape == (0, 3, 7, 7)
    out.sum().backward()
    assert feats.grad.shape == feats.shape and feats.grad.abs().max() == 0


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_gradcheck(aligned, sampling_ratio):
    feats = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 0.5, 9.0, 8.0], [1, -3.0, -2.0, 4.0, 3.0],
                         [1, 2.2, 2.6, 2.9, 3.1]],
                        dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda f: mmext_roi_align(f, rois, 2, 0.7, sampling_ratio, aligned),
        (feats, ))


def test_independent_of_thread_count():
    # two channel groups of the backward, packed blocks and a tail
    feats, rois = make_inputs(torch.float32, channels=43)
    feats.requires_grad_()
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            out = mmext_roi_align(feats, rois, 3, 0.25, 2)
            results.append((out, *torch.autograd.grad(out.sum(), feats)))
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_half_cpu_close_to_float():
    feats, rois = make_inputs(torch.float32, seed=7)
    expected = mmext_roi_align(feats, rois, 3, 0.25, 2)
    out = mmext_roi_align(feats.half(), rois.half(), 3, 0.25, 2)
    assert out.dtype == torch.float16
    # rois are rounded to half too, so allow a little more than half eps
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=2e-2)


def test_module_api():
    layer = MMExtRoIAlign(7, spatial_scale=0.125, sampling_ratio=2,
                          aligned=False)
    assert layer.output_size == (7, 7)
    assert list(layer.parameters()) == []
    assert repr(layer) == ('MMExtRoIAlign(output_size=(7, 7), '
                           'spatial_scale=0.125, sampling_ratio=2, '
                           'pool_mode=avg, aligned=False, '
                           'use_torchvision=False)')
    # mmcv's positional order: output_size, spatial_scale, sampling_ratio,
    # pool_mode, aligned
    mmcv_args = (7, 0.125, 2, 'avg', False)
    feats, rois = make_inputs(torch.float64)
    torch.testing.assert_close(
        MMExtRoIAlign(*mmcv_args)(feats, rois),
        RoIAlign(*mmcv_args)(feats, rois),
        rtol=0,
        atol=1e-10)


def extractor_cfg(extractor, layer, layer_kwargs=None, **kwargs):
    layer_kwargs = layer_kwargs or dict(output_size=7, sampling_ratio=0)
    return dict(
        type=extractor,
        roi_layer=dict(type=layer, **layer_kwargs),
        out_channels=8,
        featmap_strides=[4, 8, 16, 32],
        **kwargs)


@pytest.mark.parametrize('extractor,kwargs', [
    ('SingleRoIExtractor', dict(finest_scale=16)),
    ('GenericRoIExtractor', dict(aggregation='sum')),
])
def test_roi_extractor_by_name_equals_mmcv(extractor, kwargs):
    assert mmcv_ops.MMExtRoIAlign is MMExtRoIAlign
    ours = MODELS.build(extractor_cfg(extractor, 'MMExtRoIAlign', **kwargs))
    theirs = MODELS.build(extractor_cfg(extractor, 'RoIAlign', **kwargs))
    assert all(isinstance(layer, MMExtRoIAlign) for layer in ours.roi_layers)
    assert [layer.spatial_scale for layer in ours.roi_layers] == \
        [0.25, 0.125, 0.0625, 0.03125]
    gen = torch.Generator().manual_seed(13)
    feats = tuple(
        torch.randn(2, 8, 64 // s, 80 // s, generator=gen).requires_grad_()
        for s in (1, 2, 4, 8))
    # boxes of 17-94 px (levels 0-2 at finest_scale 16) and two of ~200 px
    # (level 3)
    rois = torch.cat([_rois_in(12, b, (64, 80), 4, seed=b) for b in (0, 1)] +
                     [torch.tensor([[0, 10., 10., 250., 200.],
                                    [1, 30., 0., 320., 256.]])])
    out = ours(feats, rois)
    grads = torch.autograd.grad(out.sum(), feats)
    expected = theirs(feats, rois)
    expected_grads = torch.autograd.grad(expected.sum(), feats)
    assert out.shape == (26, 8, 7, 7)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    for g, eg in zip(grads, expected_grads):
        torch.testing.assert_close(g, eg, rtol=0, atol=1e-4)


def test_other_builders_find_it():
    """mmdet's MODELS registry and mmext's ShapeAwareRoIExtractor (which
    looks in mmext.ops first) resolve the name too."""
    layer = MODELS.build(dict(type='MMExtRoIAlign', output_size=7))
    assert isinstance(layer, MMExtRoIAlign) and layer.output_size == (7, 7)
    extractor = MODELS.build(
        extractor_cfg('ShapeAwareRoIExtractor', 'MMExtRoIAlign'))
    assert isinstance(extractor.roi_layers[1], MMExtRoIAlign)
    assert extractor.roi_layers[1].spatial_scale == 0.125


def _roi_layer_types(cfg):
    """The ``roi_layer`` types nested anywhere in a model config."""
    if isinstance(cfg, dict):
        layer = cfg.get('roi_layer')
        if isinstance(layer, dict):
            yield layer['type']
        for value in cfg.values():
            yield from _roi_layer_types(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            yield from _roi_layer_types(value)


def test_toy_configs_use_it_coco_configs_keep_mmcv():
    """CPU (toy) configs pool with MMExtRoIAlign; the others keep mmcv's
    RoIAlign (mmext has no mask-free CUDA kernel)."""
    paths = [
        p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                             recursive=True) if '_base_' not in p
    ]
    assert paths
    for path in paths:
        types = set(_roi_layer_types(Config.fromfile(path).model))
        if path.endswith('_toy.py') and not types:
            continue  # one-stage peers (BoxInst) pool no RoIs
        if path.endswith('_toy.py'):
            assert 'MMExtRoIAlign' in types and 'RoIAlign' not in types, path
        else:
            assert 'MMExtRoIAlign' not in types, path


@pytest.mark.parametrize('kwargs,match', [
    (dict(pool_mode='max'), "pool_mode='avg' only"),
    (dict(use_torchvision=True), 'use_torchvision=True'),
    (dict(output_size=(0, 7)), 'mmext_roi_align: output_size'),
    (dict(sampling_ratio=-1), 'mmext_roi_align: sampling_ratio'),
    (dict(spatial_scale=0.), 'mmext_roi_align: spatial_scale'),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MMExtRoIAlign(**dict(dict(output_size=7), **kwargs))
    if 'spatial_scale' in kwargs:
        return  # an extractor sets it from the strides
    # a config error surfaces when the model is built
    with pytest.raises(ValueError, match=match):
        MODELS.build(
            extractor_cfg('SingleRoIExtractor', 'MMExtRoIAlign',
                          dict(dict(output_size=7), **kwargs)))


def _bad_call(name):
    feats = torch.rand(2, 3, 8, 8)
    rois = torch.tensor([[0, 1.0, 1.0, 20.0, 20.0]])
    if name == 'input_3d':
        feats = feats[0]
    elif name == 'rois_4_cols':
        rois = rois[:, 1:]
    elif name == 'rois_dtype':
        rois = rois.double()
    elif name == 'input_dtype':
        feats = (feats * 10).long()
    elif name == 'batch_index':
        rois[0, 0] = 2
    elif name == 'rois_nan':
        rois[0, 3] = float('nan')
    elif name == 'rois_negative_size':
        rois[0, 3] = 0.0
    return feats, rois


@pytest.mark.parametrize('name,error,match', [
    ('input_3d', ValueError, 'mmext_roi_align: input must be a 4-D'),
    ('rois_4_cols', ValueError, r'mmext_roi_align: rois must be \(K, 5\)'),
    ('rois_dtype', TypeError, 'rois dtype torch.float64 does not match'),
    ('input_dtype', TypeError, 'input must be float16, float32 or float64'),
    ('batch_index', ValueError,
     r'mmext_roi_align: rois\[0, 0\] \(batch index\)'),
    ('rois_nan', ValueError, r'rois\[0\] has a non-finite value'),
    ('rois_negative_size', ValueError, 'x2 < x1 or y2 < y1'),
])
def test_bad_call_arguments(name, error, match):
    feats, rois = _bad_call(name)
    with pytest.raises(error, match=match):
        MMExtRoIAlign(3, 0.25)(feats, rois)


def test_extension_call_checks():
    """Direct calls bypass the Python checks but still raise."""
    feats = torch.rand(1, 2, 6, 6)
    rois = torch.tensor([[0, 1.0, 1.0, 4.0, 4.0]])
    with pytest.raises(TypeError, match='same dtype'):
        MMExtRoIAlignFunction.apply(feats, rois.double(), (2, 2), 1.0, 0,
                                    True)
    ext = load_ext(('sa_roi_align_backward', ))
    with pytest.raises(ValueError, match='needs_masks_grad without masks'):
        ext.sa_roi_align_backward(
            torch.rand(1, 2, 2, 2), feats, rois, None, 2, 2, 1.0, 0, True,
            True, True)


@needs_cuda
def test_cuda_runs_mmcv():
    feats, rois = make_inputs(torch.float32)
    feats = feats.cuda().requires_grad_()
    out = MMExtRoIAlign(7, 0.25, 2)(feats, rois.cuda())
    expected = RoIAlign(7, 0.25, 2)(feats, rois.cuda())
    assert torch.equal(out, expected)
    out.sum().backward()
    assert feats.grad.shape == feats.shape
