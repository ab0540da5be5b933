"""The SaRoIAlign CUDA kernels, executed on the CPU through a host emulation.

No GPU is needed: ``mmext/ops/csrc/common/cuda/sa_roi_align_cuda_kernel.cuh``
(the file nvcc compiles, included unchanged) is compiled as host C++ with
``tests/test_ops/cuda_emulation/cuda_host_emulation.h`` (qualifiers removed,
block / thread indices as loops, ``gpuAtomicAdd`` as a plain add) into a
small library built at test time with ``torch.utils.cpp_extension.load``
(about 3 s), and run against mmext's CPU kernel: forward, feature gradient
and mask gradient, float and double (and half with float accumulation),
``aligned`` True / False, sampling ratios 0-3, RoIs partly or fully outside
the map, tiny and zero-size RoIs, an image without RoIs, and a RoI count
large enough for the kernels' grid-stride loop to wrap with the real launch
configuration.

``EmulatedCudaSaRoIAlign`` mirrors the host code of
``mmext/ops/csrc/pytorch/cuda/sa_roi_align_cuda.cu`` (allocation, the early
return on empty outputs, gradient buffers of the accumulation type); the
kernels themselves are the real ones.
"""
import ctypes
import os
import os.path as osp
import sys

import pytest
import torch

from mmext.ops.ext_loader import load_ext

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EMULATION_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'cuda_emulation')
KERNEL_DIR = osp.join(REPO_ROOT, 'mmext', 'ops', 'csrc', 'common')
LIB_NAME = 'sa_roi_align_cuda_emulated'

# dtype codes of the C interface (sa_roi_align_cuda_emulated.cpp)
DTYPE_CODES = {torch.float16: 0, torch.float32: 1, torch.float64: 2}
ACC_DTYPES = {2: torch.float16, 4: torch.float32, 8: torch.float64}
# CUDA emulation vs CPU kernel: the two sum in different orders
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}
# CUDA launch configuration of the .cuh (THREADS_PER_BLOCK, max 4096 blocks)
THREADS_PER_BLOCK = 512
MAX_BLOCKS = 4096


def build_emulation(build_dir: str) -> ctypes.CDLL:
    """Compile the kernels as host C++ and load them with ctypes."""
    from torch.utils import cpp_extension

    # cpp_extension runs `ninja` from PATH; the venv's ninja sits next to
    # the interpreter even when the venv is not activated
    bin_dir = osp.dirname(sys.executable)
    if bin_dir not in os.environ.get('PATH', '').split(os.pathsep):
        os.environ['PATH'] = bin_dir + os.pathsep + os.environ.get('PATH', '')
    cpp_extension.load(
        name=LIB_NAME,
        sources=[osp.join(EMULATION_DIR, f'{LIB_NAME}.cpp')],
        extra_cflags=['-O1'],
        extra_include_paths=[
            EMULATION_DIR, KERNEL_DIR,
            osp.join(KERNEL_DIR, 'cuda')
        ],
        build_directory=build_dir,
        with_cuda=False,
        is_python_module=False,
        verbose=False)
    lib = ctypes.CDLL(osp.join(build_dir, f'{LIB_NAME}.so'))
    common = [
        ctypes.c_int, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_void_p, ctypes.c_void_p
    ] + [ctypes.c_int] * 8 + [ctypes.c_float] + [ctypes.c_int] * 4
    for name in ('sa_roi_align_emu_forward',
                 'sa_roi_align_emu_backward_input',
                 'sa_roi_align_emu_backward_masks'):
        fn = getattr(lib, name)
        fn.argtypes = common
        fn.restype = ctypes.c_int
    lib.sa_roi_align_emu_acc_size.argtypes = [ctypes.c_int]
    lib.sa_roi_align_emu_acc_size.restype = ctypes.c_int
    return lib


class EmulatedCudaSaRoIAlign:
    """The .cu launchers in Python around the emulated kernels.

    ``blocks`` / ``threads`` (> 0) replace the launch configuration
    (``sa_roi_align_get_blocks(n)`` blocks of ``THREADS_PER_BLOCK``), e.g. to
    make every thread loop many times.
    """

    def __init__(self, lib: ctypes.CDLL, blocks: int = 0,
                 threads: int = 0) -> None:
        self.lib = lib
        self.blocks = blocks
        self.threads = threads

    def acc_dtype(self, dtype: torch.dtype) -> torch.dtype:
        return ACC_DTYPES[self.lib.sa_roi_align_emu_acc_size(
            DTYPE_CODES[dtype])]

    def _geometry(self, input, masks, out_hw, spatial_scale, sampling_ratio,
                  aligned):
        n, c, h, w = input.shape
        return [
            n, c, h, w,
            masks.size(1),
            masks.size(2), out_hw[0], out_hw[1], spatial_scale,
            sampling_ratio,
            int(aligned), self.blocks, self.threads
        ]

    def forward(self, input, rois, masks, out_hw, spatial_scale,
                sampling_ratio, aligned):
        output = torch.full((rois.size(0), input.size(1), *out_hw),
                            float('nan'),
                            dtype=input.dtype)  # every element is written
        if output.numel() == 0:  # as the .cu: a 0-block launch is an error
            return output
        rc = self.lib.sa_roi_align_emu_forward(
            DTYPE_CODES[input.dtype], output.numel(), input.data_ptr(),
            rois.data_ptr(), masks.data_ptr(), output.data_ptr(),
            *self._geometry(input, masks, out_hw, spatial_scale,
                            sampling_ratio, aligned))
        assert rc == 0, f'emulated launch failed ({rc})'
        return output

    def backward(self, grad_output, input, rois, masks, out_hw,
                 spatial_scale, sampling_ratio, aligned):
        acc_dtype = self.acc_dtype(input.dtype)
        grad_input = torch.zeros(input.shape, dtype=acc_dtype)
        grad_masks = torch.zeros(masks.shape, dtype=acc_dtype)
        geometry = self._geometry(input, masks, out_hw, spatial_scale,
                                  sampling_ratio, aligned)
        num_bins = rois.size(0) * out_hw[0] * out_hw[1]
        if grad_output.numel() > 0:
            code = DTYPE_CODES[input.dtype]
            rc = self.lib.sa_roi_align_emu_backward_input(
                code, grad_output.numel(), grad_output.data_ptr(),
                rois.data_ptr(), masks.data_ptr(), grad_input.data_ptr(),
                *geometry)
            assert rc == 0, f'emulated launch failed ({rc})'
            rc = self.lib.sa_roi_align_emu_backward_masks(
                code, num_bins, grad_output.data_ptr(), input.data_ptr(),
                rois.data_ptr(), grad_masks.data_ptr(), *geometry)
            assert rc == 0, f'emulated launch failed ({rc})'
        return grad_input.to(input.dtype), grad_masks.to(masks.dtype)


@pytest.fixture(scope='module')
def emulation_lib(tmp_path_factory) -> ctypes.CDLL:
    return build_emulation(str(tmp_path_factory.mktemp('cuda_emulation')))


def cpu_op(input, rois, masks, grad_output, out_hw, spatial_scale,
           sampling_ratio, aligned):
    """mmext's CPU kernel: (output, grad_input, grad_masks)."""
    ext = load_ext(('sa_roi_align_forward', 'sa_roi_align_backward'))
    kwargs = dict(
        pooled_height=out_hw[0],
        pooled_width=out_hw[1],
        spatial_scale=spatial_scale,
        sampling_ratio=sampling_ratio,
        aligned=aligned)
    output = ext.sa_roi_align_forward(input, rois, masks, **kwargs)
    grad_input, grad_masks = ext.sa_roi_align_backward(
        grad_output, input, rois, masks, needs_input_grad=True,
        needs_masks_grad=True, **kwargs)
    return output, grad_input, grad_masks


def emulated_op(emu, input, rois, masks, grad_output, out_hw, spatial_scale,
                sampling_ratio, aligned):
    """The emulated CUDA kernels: (output, grad_input, grad_masks)."""
    args = (out_hw, spatial_scale, sampling_ratio, aligned)
    output = emu.forward(input, rois, masks, *args)
    return (output, *emu.backward(grad_output, input, rois, masks, *args))


def make_case(dtype, seed=0, num_imgs=3, channels=5, feat_hw=(11, 13),
              num_rois=24, mask_hw=(6, 7), out_hw=(3, 4), stride=4):
    """Inputs with every kind of RoI; the last image has none.

    RoIs: random ones (some partly outside the map), two fully outside, a
    sub-pixel one (min-size-1 rule when aligned=False), a zero-size one and
    a huge one (adaptive grids of several points per bin).
    """
    gen = torch.Generator().manual_seed(seed)
    img_h, img_w = feat_hw[0] * stride, feat_hw[1] * stride
    k = num_rois - 5
    cx = torch.rand(k, generator=gen) * img_w * 1.4 - 0.2 * img_w
    cy = torch.rand(k, generator=gen) * img_h * 1.4 - 0.2 * img_h
    w = torch.rand(k, generator=gen) * img_w * 0.7
    h = torch.rand(k, generator=gen) * img_h * 0.7
    boxes = torch.cat([
        torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1),
        torch.tensor([
            [img_w + 10., 5., img_w + 30., 25.],  # right of the map
            [-40., -40., -8., -6.],  # above-left of the map
            [10.3, 12.1, 10.9, 12.4],  # below one feature pixel
            [20., 16., 20., 16.],  # zero size
            [-30., -20., img_w * 2., img_h * 2.],  # huge, partly outside
        ])
    ])
    batch = torch.randint(0, num_imgs - 1, (num_rois, 1), generator=gen)
    rois = torch.cat([batch.float(), boxes], 1)
    input = torch.randn(num_imgs, channels, *feat_hw, generator=gen)
    masks = torch.rand(num_rois, *mask_hw, generator=gen)
    grad_output = torch.randn(num_rois, channels, *out_hw, generator=gen)
    return [t.to(dtype) for t in (input, rois, masks, grad_output)]


def assert_agree(emulated, expected, tol):
    names = ('output', 'grad_input', 'grad_masks')
    for name, got, want in zip(names, emulated, expected):
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert torch.isfinite(got).all(), f'{name}: not finite / unwritten'
        assert want.abs().max() > 0, f'{name}: trivial case'
        torch.testing.assert_close(
            got, want, rtol=0, atol=tol, msg=lambda m: f'{name}: {m}')


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2, 3])
def test_cuda_kernels_match_cpu(emulation_lib, dtype, aligned,
                                sampling_ratio):
    input, rois, masks, grad_output = make_case(dtype, seed=sampling_ratio)
    args = ((3, 4), 0.25, sampling_ratio, aligned)
    expected = cpu_op(input, rois, masks, grad_output, *args)
    emulated = emulated_op(
        EmulatedCudaSaRoIAlign(emulation_lib), input, rois, masks,
        grad_output, *args)
    assert_agree(emulated, expected, TOL[dtype])
    # RoIs outside the map pool zeros and pass no gradient to their masks
    assert emulated[0][19:21].abs().max() == 0
    assert emulated[2][19:21].abs().max() == 0
    # the image without RoIs gets no gradient (and no garbage)
    assert emulated[1][-1].abs().max() == 0


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_grid_stride_loop(emulation_lib, dtype):
    """3 blocks of 32 threads: every thread handles many elements."""
    input, rois, masks, grad_output = make_case(dtype, seed=7)
    args = ((3, 4), 0.25, 2, True)
    expected = cpu_op(input, rois, masks, grad_output, *args)
    small_grid = emulated_op(
        EmulatedCudaSaRoIAlign(emulation_lib, blocks=3, threads=32), input,
        rois, masks, grad_output, *args)
    assert_agree(small_grid, expected, TOL[dtype])
    # forward elements are independent of the launch configuration
    full_grid = EmulatedCudaSaRoIAlign(emulation_lib).forward(
        input, rois, masks, *args)
    assert torch.equal(small_grid[0], full_grid)


def test_many_rois_real_launch_configuration(emulation_lib):
    """Training-size RoI count: the output has more elements than the
    launch's 4096 x 512 threads, so the grid-stride loop wraps."""
    out_hw = (7, 7)
    input, rois, masks, grad_output = make_case(
        torch.float32, seed=3, num_imgs=2, channels=40, feat_hw=(24, 32),
        num_rois=1100, mask_hw=(14, 14), out_hw=out_hw)
    assert grad_output.numel() > MAX_BLOCKS * THREADS_PER_BLOCK
    args = (out_hw, 0.25, 2, True)
    expected = cpu_op(input, rois, masks, grad_output, *args)
    emulated = emulated_op(
        EmulatedCudaSaRoIAlign(emulation_lib), input, rois, masks,
        grad_output, *args)
    # grad_input sums the scatter of ~1000 RoIs per pixel in float32
    names = ('output', 'grad_input', 'grad_masks')
    for name, got, want in zip(names, emulated, expected):
        assert torch.isfinite(got).all(), name
        scale = max(float(want.abs().max()), 1.0)
        torch.testing.assert_close(
            got, want, rtol=0, atol=TOL[torch.float32] * scale,
            msg=lambda m: f'{name}: {m}')


def test_no_rois_and_empty_launch(emulation_lib):
    input, rois, masks, grad_output = make_case(torch.float32)
    emu = EmulatedCudaSaRoIAlign(emulation_lib)
    out = emu.forward(input, rois[:0], masks[:0], (3, 4), 0.25, 0, True)
    assert out.shape == (0, 5, 3, 4)
    grad_input, grad_masks = emu.backward(grad_output[:0], input, rois[:0],
                                          masks[:0], (3, 4), 0.25, 0, True)
    assert grad_input.abs().max() == 0 and grad_masks.shape == (0, 6, 7)
    # why the .cu returns early: sa_roi_align_get_blocks(0) = 0 blocks, an
    # invalid launch on a GPU (and in the emulation)
    rc = emulation_lib.sa_roi_align_emu_forward(
        1, 0, input.data_ptr(), rois.data_ptr(), masks.data_ptr(),
        input.data_ptr(), 3, 5, 11, 13, 6, 7, 3, 4, 0.25, 0, 1, 0, 0)
    assert rc == -1


def test_invalid_rois_give_zeros_without_reading_out_of_bounds(
        emulation_lib):
    """The kernels' last line of defence (the Python wrapper rejects these
    RoIs before any kernel runs): an invalid RoI pools zeros and passes no
    gradient, whatever its batch index."""
    input, rois, masks, grad_output = make_case(torch.float64)
    bad = rois.clone()
    bad[0, 0] = 1e9  # batch index far outside
    bad[1, 0] = -1
    bad[2, 3] = float('nan')
    bad[3, 1] = float('inf')
    emu = EmulatedCudaSaRoIAlign(emulation_lib)
    out, grad_input, grad_masks = emulated_op(emu, input, bad, masks,
                                              grad_output, (3, 4), 0.25, 2,
                                              True)
    assert out[:4].abs().max() == 0 and grad_masks[:4].abs().max() == 0
    good = emulated_op(emu, input, rois[4:], masks[4:], grad_output[4:],
                       (3, 4), 0.25, 2, True)
    torch.testing.assert_close(out[4:], good[0], rtol=0, atol=0)
    torch.testing.assert_close(grad_input, good[1], rtol=0, atol=1e-12)


# half: float16 storage, float32 accumulation
def _half_rounded(*tensors):
    return [t.half() for t in tensors]


def assert_float16_rounding_of(got, want):
    """``got`` (float16) is ``want`` (float32, same inputs) rounded once to
    float16: within half a float16 ulp plus the float32 summation noise."""
    assert got.dtype == torch.float16
    assert torch.isfinite(got).all()
    torch.testing.assert_close(
        got.float(), want, rtol=2**-11 + 1e-5, atol=1e-6)


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_cuda_half_accumulates_in_float(emulation_lib, aligned,
                                        sampling_ratio):
    """The CUDA kernels on float16 (sa_roi_align_acc_t = float) give the
    float32 result of the same float16 inputs, rounded once to float16.
    Accumulating in float16 would be off by many float16 ulps."""
    emu = EmulatedCudaSaRoIAlign(emulation_lib)
    assert emu.acc_dtype(torch.float16) == torch.float32
    # many sampling points per bin and 32 channels: long sums
    half = _half_rounded(*make_case(
        torch.float32, seed=5, channels=32, feat_hw=(20, 24),
        out_hw=(2, 3)))
    args = ((2, 3), 0.25, sampling_ratio, aligned)
    expected = cpu_op(*[t.float() for t in half], *args)
    emulated = emulated_op(emu, *half, *args)
    for got, want in zip(emulated, expected):
        assert_float16_rounding_of(got, want)


def test_cpu_half_accumulates_in_float():
    """The CPU kernel does the same with float16 (it accumulates in float32
    and rounds once), so CPU and CUDA agree on float16 too."""
    half = _half_rounded(*make_case(
        torch.float32, seed=6, channels=32, feat_hw=(20, 24),
        out_hw=(2, 3)))
    args = ((2, 3), 0.25, 0, True)
    expected = cpu_op(*[t.float() for t in half], *args)
    for got, want in zip(cpu_op(*half, *args), expected):
        assert_float16_rounding_of(got, want)
