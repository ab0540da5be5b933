// Copyright (c) mmext contributors. All rights reserved.
//
// The SaRoIAlign CUDA kernels compiled as host C++ for the CPU test suite
// (tests/test_ops/test_sa_roi_align_cuda_emulation.py). The kernels are the
// ones nvcc compiles: sa_roi_align_cuda_kernel.cuh is included, not copied.
// The entry points are plain C functions on raw pointers (loaded with
// ctypes), so that this file includes no torch header beyond c10's Half and
// ATen's OpMathType and compiles in a few seconds.
//
// Each entry point mirrors one launch of pytorch/cuda/sa_roi_align_cuda.cu:
// the same kernel instantiation <scalar_t, sa_roi_align_acc_t<scalar_t>>,
// the same launch configuration (sa_roi_align_get_blocks(n),
// THREADS_PER_BLOCK) unless `blocks` / `threads` are given (> 0), which lets
// a test force many trips around the grid-stride loop. Gradient buffers are
// of the accumulation type, as in the .cu; the caller allocates and zeroes
// them (sa_roi_align_emu_acc_size tells their element size).
#include "cuda_host_emulation.h"  // first: the CUDA constructs
#include "sa_roi_align_cuda_kernel.cuh"

#include <c10/util/Half.h>

#include <cstdint>
#include <exception>

using namespace mmext::sa_roi_align;

namespace {

// dtype codes of the C interface
enum : int { kEmuHalf = 0, kEmuFloat = 1, kEmuDouble = 2 };

template <typename F>
int dispatch(int dtype, F&& f) {
  try {
    switch (dtype) {
      case kEmuHalf:
        f(c10::Half());
        return 0;
      case kEmuFloat:
        f(float());
        return 0;
      case kEmuDouble:
        f(double());
        return 0;
      default:
        return -2;
    }
  } catch (const std::exception&) {
    return -1;  // invalid launch configuration
  }
}

dim3 grid_of(int64_t n, int blocks) {
  return dim3(blocks > 0 ? blocks : sa_roi_align_get_blocks(n));
}

dim3 block_of(int threads) {
  return dim3(threads > 0 ? threads : THREADS_PER_BLOCK);
}

}  // namespace

extern "C" {

// Element size in bytes of the accumulation type of `dtype` (the gradient
// buffers' type), 0 for an unknown dtype.
int sa_roi_align_emu_acc_size(int dtype) {
  int size = 0;
  dispatch(dtype, [&](auto tag) {
    using scalar_t = decltype(tag);
    size = static_cast<int>(sizeof(sa_roi_align_acc_t<scalar_t>));
  });
  return size;
}

int sa_roi_align_emu_forward(int dtype, int64_t nthreads, const void* input,
                             const void* rois, const void* masks,
                             void* output, int batch_size, int channels,
                             int height, int width, int mask_height,
                             int mask_width, int pooled_height,
                             int pooled_width, float spatial_scale,
                             int sampling_ratio, int aligned, int blocks,
                             int threads) {
  return dispatch(dtype, [&](auto tag) {
    using scalar_t = decltype(tag);
    using acc_t = sa_roi_align_acc_t<scalar_t>;
    emulate_launch(grid_of(nthreads, blocks), block_of(threads),
                   sa_roi_align_forward_cuda_kernel<scalar_t, acc_t>,
                   nthreads, static_cast<const scalar_t*>(input),
                   static_cast<const scalar_t*>(rois),
                   static_cast<const scalar_t*>(masks),
                   static_cast<scalar_t*>(output), batch_size, channels,
                   height, width, mask_height, mask_width, pooled_height,
                   pooled_width, static_cast<acc_t>(spatial_scale),
                   sampling_ratio, aligned != 0);
  });
}

int sa_roi_align_emu_backward_input(
    int dtype, int64_t nthreads, const void* grad_output, const void* rois,
    const void* masks, void* grad_input, int batch_size, int channels,
    int height, int width, int mask_height, int mask_width,
    int pooled_height, int pooled_width, float spatial_scale,
    int sampling_ratio, int aligned, int blocks, int threads) {
  return dispatch(dtype, [&](auto tag) {
    using scalar_t = decltype(tag);
    using acc_t = sa_roi_align_acc_t<scalar_t>;
    emulate_launch(grid_of(nthreads, blocks), block_of(threads),
                   sa_roi_align_backward_input_cuda_kernel<scalar_t, acc_t>,
                   nthreads, static_cast<const scalar_t*>(grad_output),
                   static_cast<const scalar_t*>(rois),
                   static_cast<const scalar_t*>(masks),
                   static_cast<acc_t*>(grad_input), batch_size, channels,
                   height, width, mask_height, mask_width, pooled_height,
                   pooled_width, static_cast<acc_t>(spatial_scale),
                   sampling_ratio, aligned != 0);
  });
}

int sa_roi_align_emu_backward_masks(
    int dtype, int64_t nthreads, const void* grad_output, const void* input,
    const void* rois, void* grad_masks, int batch_size, int channels,
    int height, int width, int mask_height, int mask_width,
    int pooled_height, int pooled_width, float spatial_scale,
    int sampling_ratio, int aligned, int blocks, int threads) {
  return dispatch(dtype, [&](auto tag) {
    using scalar_t = decltype(tag);
    using acc_t = sa_roi_align_acc_t<scalar_t>;
    emulate_launch(grid_of(nthreads, blocks), block_of(threads),
                   sa_roi_align_backward_masks_cuda_kernel<scalar_t, acc_t>,
                   nthreads, static_cast<const scalar_t*>(grad_output),
                   static_cast<const scalar_t*>(input),
                   static_cast<const scalar_t*>(rois),
                   static_cast<acc_t*>(grad_masks), batch_size, channels,
                   height, width, mask_height, mask_width, pooled_height,
                   pooled_width, static_cast<acc_t>(spatial_scale),
                   sampling_ratio, aligned != 0);
  });
}

}  // extern "C"
