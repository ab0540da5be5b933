// Copyright (c) mmext contributors. All rights reserved.
//
// CUDA kernels of Shape-aware RoIAlign, in the style of mmcv's
// roi_align_cuda_kernel.cuh: one thread per output element for the forward
// and the feature gradient (atomicAdd scatter), one thread per output bin for
// the mask gradient (it reduces over the channels in registers and scatters
// to the 4 mask pixels of each sampling point with atomicAdd, instead of C
// threads fighting over the same mask pixels). The per-point math lives in
// common/sa_roi_align_kernel.h, shared with the CPU kernel.
//
// `scalar_t` is the storage type, `T` the op-math type (float for half,
// sa_roi_align_acc_t): all coordinates, weights and sums are computed in T,
// a half output is rounded once at the end, and gradient buffers are in T.
//
// The CPU test suite compiles this very file as host C++
// (tests/test_ops/cuda_emulation/): a shim header, included first, turns the
// qualifiers into nothing, blockIdx / threadIdx into loop variables and
// gpuAtomicAdd into a plain add. The only CUDA-only line is the Atomic.cuh
// include below, guarded so that nvcc compiles the same code as before.
#ifndef SA_ROI_ALIGN_CUDA_KERNEL_CUH
#define SA_ROI_ALIGN_CUDA_KERNEL_CUH

#if defined(__CUDACC__) || defined(__HIPCC__)
#include <ATen/cuda/Atomic.cuh>
#endif
#include <ATen/OpMathType.h>

#include <cstdint>

#include "sa_roi_align_kernel.h"

// Accumulation (op-math) type of a storage type: float for half, itself for
// float / double. Shared by the launchers and the host emulation.
template <typename scalar_t>
using sa_roi_align_acc_t = at::opmath_type<scalar_t>;

#ifndef CUDA_1D_KERNEL_LOOP
// grid-stride loop with a 64-bit index (K * C * out_h * out_w can exceed int)
#define CUDA_1D_KERNEL_LOOP(i, n)                                   \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + \
                   threadIdx.x;                                     \
       i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)
#endif

#ifndef THREADS_PER_BLOCK
#define THREADS_PER_BLOCK 512
#endif

inline int sa_roi_align_get_blocks(const int64_t n,
                                   const int num_threads = THREADS_PER_BLOCK) {
  const int64_t optimal_block_num = (n + num_threads - 1) / num_threads;
  const int64_t max_block_num = 4096;
  return static_cast<int>(optimal_block_num < max_block_num ? optimal_block_num
                                                            : max_block_num);
}

namespace mmext {
namespace sa_roi_align {

template <typename scalar_t, typename T>
__device__ __forceinline__ RoIGeometry<T> cuda_roi_geometry(
    const scalar_t* roi, const int batch_size, const T spatial_scale,
    const int pooled_height, const int pooled_width, const int sampling_ratio,
    const bool aligned) {
  return roi_geometry<T>(static_cast<T>(roi[0]), static_cast<T>(roi[1]),
                         static_cast<T>(roi[2]), static_cast<T>(roi[3]),
                         static_cast<T>(roi[4]), batch_size, spatial_scale,
                         pooled_height, pooled_width, sampling_ratio,
                         aligned);
}

template <typename scalar_t, typename T>
__device__ __forceinline__ T mask_value(const scalar_t* mask,
                                        const int mask_height,
                                        const int mask_width, const T v,
                                        const T u) {
  T mw1, mw2, mw3, mw4;
  int mp1, mp2, mp3, mp4;
  mask_bilinear(mask_height, mask_width, v, u, mw1, mw2, mw3, mw4, mp1, mp2,
                mp3, mp4);
  return mw1 * static_cast<T>(mask[mp1]) + mw2 * static_cast<T>(mask[mp2]) +
         mw3 * static_cast<T>(mask[mp3]) + mw4 * static_cast<T>(mask[mp4]);
}

/*** Forward ***/
template <typename scalar_t, typename T>
__global__ void sa_roi_align_forward_cuda_kernel(
    const int64_t nthreads, const scalar_t* input, const scalar_t* rois,
    const scalar_t* masks, scalar_t* output, const int batch_size,
    const int channels, const int height, const int width,
    const int mask_height, const int mask_width, const int pooled_height,
    const int pooled_width, const T spatial_scale, const int sampling_ratio,
    const bool aligned) {
  CUDA_1D_KERNEL_LOOP(index, nthreads) {
    // (n, c, ph, pw) is an element in the pooled output
    const int pw = index % pooled_width;
    const int ph = (index / pooled_width) % pooled_height;
    const int c = (index / pooled_width / pooled_height) % channels;
    const int64_t n = index / pooled_width / pooled_height / channels;

    const RoIGeometry<T> g = cuda_roi_geometry<scalar_t, T>(
        rois + n * 5, batch_size, spatial_scale, pooled_height, pooled_width,
        sampling_ratio, aligned);
    if (!g.valid) {  // bad batch index / non-finite RoI: zeros, no crash
      output[index] = static_cast<scalar_t>(0);
      continue;
    }
    const scalar_t* offset_input =
        input + (static_cast<int64_t>(g.batch_ind) * channels + c) *
                    static_cast<int64_t>(height) * width;
    const scalar_t* offset_mask =
        masks + n * static_cast<int64_t>(mask_height) * mask_width;

    T output_val = 0.;
    for (int iy = 0; iy < g.grid_h; iy++) {
      const T y = sample_coord(g.start_h, g.bin_size_h, ph, iy, g.grid_h);
      const T v = box_fraction<T>(ph, iy, g.grid_h, pooled_height);
      for (int ix = 0; ix < g.grid_w; ix++) {
        const T x = sample_coord(g.start_w, g.bin_size_w, pw, ix, g.grid_w);
        T w1, w2, w3, w4;
        int p1, p2, p3, p4;
        if (!feature_bilinear(height, width, y, x, w1, w2, w3, w4, p1, p2, p3,
                              p4))
          continue;
        const T val = w1 * static_cast<T>(offset_input[p1]) +
                      w2 * static_cast<T>(offset_input[p2]) +
                      w3 * static_cast<T>(offset_input[p3]) +
                      w4 * static_cast<T>(offset_input[p4]);
        const T u = box_fraction<T>(pw, ix, g.grid_w, pooled_width);
        output_val +=
            val * mask_value<scalar_t, T>(offset_mask, mask_height,
                                          mask_width, v, u);
      }
    }
    output[index] = static_cast<scalar_t>(output_val / g.count);
  }
}

/*** Backward: features ***/
template <typename scalar_t, typename T>
__global__ void sa_roi_align_backward_input_cuda_kernel(
    const int64_t nthreads, const scalar_t* grad_output, const scalar_t* rois,
    const scalar_t* masks, T* grad_input, const int batch_size,
    const int channels, const int height, const int width,
    const int mask_height, const int mask_width, const int pooled_height,
    const int pooled_width, const T spatial_scale, const int sampling_ratio,
    const bool aligned) {
  CUDA_1D_KERNEL_LOOP(index, nthreads) {
    const int pw = index % pooled_width;
    const int ph = (index / pooled_width) % pooled_height;
    const int c = (index / pooled_width / pooled_height) % channels;
    const int64_t n = index / pooled_width / pooled_height / channels;

    const RoIGeometry<T> g = cuda_roi_geometry<scalar_t, T>(
        rois + n * 5, batch_size, spatial_scale, pooled_height, pooled_width,
        sampling_ratio, aligned);
    if (!g.valid) continue;
    T* offset_grad_input =
        grad_input + (static_cast<int64_t>(g.batch_ind) * channels + c) *
                         static_cast<int64_t>(height) * width;
    const scalar_t* offset_mask =
        masks + n * static_cast<int64_t>(mask_height) * mask_width;
    const T grad_bin = static_cast<T>(grad_output[index]) / g.count;

    for (int iy = 0; iy < g.grid_h; iy++) {
      const T y = sample_coord(g.start_h, g.bin_size_h, ph, iy, g.grid_h);
      const T v = box_fraction<T>(ph, iy, g.grid_h, pooled_height);
      for (int ix = 0; ix < g.grid_w; ix++) {
        const T x = sample_coord(g.start_w, g.bin_size_w, pw, ix, g.grid_w);
        T w1, w2, w3, w4;
        int p1, p2, p3, p4;
        if (!feature_bilinear(height, width, y, x, w1, w2, w3, w4, p1, p2, p3,
                              p4))
          continue;
        const T u = box_fraction<T>(pw, ix, g.grid_w, pooled_width);
        const T gm = grad_bin * mask_value<scalar_t, T>(offset_mask,
                                                        mask_height,
                                                        mask_width, v, u);
        gpuAtomicAdd(offset_grad_input + p1, gm * w1);
        gpuAtomicAdd(offset_grad_input + p2, gm * w2);
        gpuAtomicAdd(offset_grad_input + p3, gm * w3);
        gpuAtomicAdd(offset_grad_input + p4, gm * w4);
      }
    }
  }
}

/*** Backward: masks ***/
// One thread per (n, ph, pw) bin: d out / d mask value at a sampling point is
// sum_c grad_output[n, c, ph, pw] * feature_c(point) / count.
template <typename scalar_t, typename T>
__global__ void sa_roi_align_backward_masks_cuda_kernel(
    const int64_t nthreads, const scalar_t* grad_output,
    const scalar_t* input, const scalar_t* rois, T* grad_masks,
    const int batch_size, const int channels, const int height,
    const int width, const int mask_height, const int mask_width,
    const int pooled_height, const int pooled_width, const T spatial_scale,
    const int sampling_ratio, const bool aligned) {
  CUDA_1D_KERNEL_LOOP(index, nthreads) {
    const int pw = index % pooled_width;
    const int ph = (index / pooled_width) % pooled_height;
    const int64_t n = index / pooled_width / pooled_height;

    const RoIGeometry<T> g = cuda_roi_geometry<scalar_t, T>(
        rois + n * 5, batch_size, spatial_scale, pooled_height, pooled_width,
        sampling_ratio, aligned);
    if (!g.valid) continue;
    const int64_t plane = static_cast<int64_t>(height) * width;
    const int64_t out_plane =
        static_cast<int64_t>(pooled_height) * pooled_width;
    const scalar_t* offset_input =
        input + static_cast<int64_t>(g.batch_ind) * channels * plane;
    const scalar_t* offset_grad_output =
        grad_output + n * channels * out_plane + ph * pooled_width + pw;
    T* offset_grad_mask =
        grad_masks + n * static_cast<int64_t>(mask_height) * mask_width;

    for (int iy = 0; iy < g.grid_h; iy++) {
      const T y = sample_coord(g.start_h, g.bin_size_h, ph, iy, g.grid_h);
      const T v = box_fraction<T>(ph, iy, g.grid_h, pooled_height);
      for (int ix = 0; ix < g.grid_w; ix++) {
        const T x = sample_coord(g.start_w, g.bin_size_w, pw, ix, g.grid_w);
        T w1, w2, w3, w4;
        int p1, p2, p3, p4;
        if (!feature_bilinear(height, width, y, x, w1, w2, w3, w4, p1, p2, p3,
                              p4))
          continue;  // the feature is 0 there: no gradient to the mask
        T grad_point = 0.;
        for (int c = 0; c < channels; c++) {
          const scalar_t* in_c = offset_input + c * plane;
          const T val = w1 * static_cast<T>(in_c[p1]) +
                        w2 * static_cast<T>(in_c[p2]) +
                        w3 * static_cast<T>(in_c[p3]) +
                        w4 * static_cast<T>(in_c[p4]);
          grad_point +=
              static_cast<T>(offset_grad_output[c * out_plane]) * val;
        }
        grad_point /= g.count;
        const T u = box_fraction<T>(pw, ix, g.grid_w, pooled_width);
        T mw1, mw2, mw3, mw4;
        int mp1, mp2, mp3, mp4;
        mask_bilinear(mask_height, mask_width, v, u, mw1, mw2, mw3, mw4, mp1,
                      mp2, mp3, mp4);
        gpuAtomicAdd(offset_grad_mask + mp1, grad_point * mw1);
        gpuAtomicAdd(offset_grad_mask + mp2, grad_point * mw2);
        gpuAtomicAdd(offset_grad_mask + mp3, grad_point * mw3);
        gpuAtomicAdd(offset_grad_mask + mp4, grad_point * mw4);
      }
    }
  }
}

}  // namespace sa_roi_align
}  // namespace mmext

#endif  // SA_ROI_ALIGN_CUDA_KERNEL_CUH
