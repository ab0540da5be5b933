// Copyright (c) mmext contributors. All rights reserved.
//
// Shape-aware RoIAlign (MR R-CNN): per-point math shared by the CPU kernel
// (pytorch/cpu/sa_roi_align.cpp) and the CUDA kernel
// (common/cuda/sa_roi_align_cuda_kernel.cuh). The CPU kernel without a mask
// is mmext's plain RoIAlign (mmext/ops/roi_align.py).
//
// The feature sampling reproduces mmcv 2.1.0 RoIAlign ('avg' mode) operation
// by operation (roi_align_cuda_kernel.cuh / cpu/roi_align.cpp): same RoI
// scaling, -0.5 offset when aligned, min-size-1 rule when not aligned,
// adaptive grid ceil(roi_size / pooled_size) when sampling_ratio == 0, the
// out-of-range rule (y < -1 || y > H || x < -1 || x > W -> 0) and clamping.
// With T = float / double every feature expression is evaluated in the same
// order as mmcv, so an all-ones mask reproduces mmcv RoIAlign up to the
// rounding of the interpolated mask value (1 +- 1 ulp). Half inputs compute
// in float (the op-math type), where mmcv computes in half.
//
// The mask covers the (sampled) RoI box: mask pixel (i, j) covers the box
// fraction [j / Wp, (j + 1) / Wp) x [i / Hp, (i + 1) / Hp). A sampling point
// at box fraction (u, v) reads the mask bilinearly between pixel centres with
// border clamping, i.e. exactly
//   F.grid_sample(mask[None, None], 2 * (u, v) - 1, mode='bilinear',
//                 padding_mode='border', align_corners=False).
// The box fraction of sampling point (p, i) of a bin is computed from its
// indices, u = (p + (i + 0.5) / grid) / pooled, which equals
// (x - roi_start) / roi_size for the roi_start / roi_size used for sampling
// (after the min-size-1 rule when aligned=False) and stays defined for
// zero-size RoIs.
#ifndef SA_ROI_ALIGN_KERNEL_H
#define SA_ROI_ALIGN_KERNEL_H

#include <math.h>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define SA_HOST_DEVICE __host__ __device__
#define SA_INLINE __forceinline__
#else
#define SA_HOST_DEVICE
#define SA_INLINE inline
#endif

namespace mmext {
namespace sa_roi_align {

// The op's name in error messages. Without a mask the kernels are mmext's
// plain RoIAlign (mmext/ops/roi_align.py), whose users never called
// sa_roi_align.
inline const char* op_name(bool with_mask) {
  return with_mask ? "sa_roi_align" : "mmext_roi_align";
}

// Geometry of one RoI, shared by all channels and bins.
template <typename T>
struct RoIGeometry {
  int batch_ind;
  T start_h;
  T start_w;
  T bin_size_h;
  T bin_size_w;
  int grid_h;  // sampling points per bin along y (>= 0)
  int grid_w;  // sampling points per bin along x (>= 0)
  T count;     // max(grid_h * grid_w, 1): the divisor of the bin mean
  bool valid;  // false for a non-finite RoI or a batch index outside [0, N)
};

// True for finite values (NaN and +-inf give false); usable on device.
template <typename T>
SA_HOST_DEVICE SA_INLINE bool is_finite(T v) {
  return (v - v) == static_cast<T>(0);
}

// `roi` points at [batch_ind, x1, y1, x2, y2] converted to T.
template <typename T>
SA_HOST_DEVICE SA_INLINE RoIGeometry<T> roi_geometry(
    const T roi_b, const T roi_x1, const T roi_y1, const T roi_x2,
    const T roi_y2, const int batch_size, const T spatial_scale,
    const int pooled_height, const int pooled_width, const int sampling_ratio,
    const bool aligned) {
  RoIGeometry<T> g;
  g.valid = is_finite(roi_b) && is_finite(roi_x1) && is_finite(roi_y1) &&
            is_finite(roi_x2) && is_finite(roi_y2) &&
            roi_b >= static_cast<T>(0) &&
            roi_b < static_cast<T>(batch_size);
  if (!g.valid) {
    g.batch_ind = 0;
    g.start_h = g.start_w = g.bin_size_h = g.bin_size_w =
        static_cast<T>(0);
    g.grid_h = g.grid_w = 0;
    g.count = static_cast<T>(1);
    return g;
  }
  g.batch_ind = static_cast<int>(roi_b);

  // Do not use rounding; this implementation detail is critical (mmcv).
  const T offset = aligned ? (T)0.5 : (T)0.0;
  const T roi_start_w = roi_x1 * spatial_scale - offset;
  const T roi_start_h = roi_y1 * spatial_scale - offset;
  const T roi_end_w = roi_x2 * spatial_scale - offset;
  const T roi_end_h = roi_y2 * spatial_scale - offset;

  T roi_width = roi_end_w - roi_start_w;
  T roi_height = roi_end_h - roi_start_h;
  if (!aligned) {  // mmcv: for backward-compatibility only
    roi_width = roi_width > (T)1. ? roi_width : (T)1.;
    roi_height = roi_height > (T)1. ? roi_height : (T)1.;
  }
  g.start_h = roi_start_h;
  g.start_w = roi_start_w;
  g.bin_size_h = static_cast<T>(roi_height) / static_cast<T>(pooled_height);
  g.bin_size_w = static_cast<T>(roi_width) / static_cast<T>(pooled_width);

  // We use roi_bin_grid to sample the grid and mimic integral (mmcv).
  int grid_h = (sampling_ratio > 0)
                   ? sampling_ratio
                   : static_cast<int>(ceilf(roi_height / pooled_height));
  int grid_w = (sampling_ratio > 0)
                   ? sampling_ratio
                   : static_cast<int>(ceilf(roi_width / pooled_width));
  // A negative size (x2 < x1 with aligned=True) samples nothing, like
  // mmcv's CUDA kernel (its CPU kernel raises; ours raises on CPU too).
  g.grid_h = grid_h > 0 ? grid_h : 0;
  g.grid_w = grid_w > 0 ? grid_w : 0;
  const int n = g.grid_h * g.grid_w;
  // When the grid is empty, output zeros == 0/1, instead of NaN (mmcv).
  g.count = static_cast<T>(n > 1 ? n : 1);
  return g;
}

// Coordinate of sampling point `i` (of `grid`) in bin `p`, in feature map
// pixels; identical expression to mmcv.
template <typename T>
SA_HOST_DEVICE SA_INLINE T sample_coord(const T roi_start, const T bin_size,
                                        const int p, const int i,
                                        const int grid) {
  return roi_start + p * bin_size +
         static_cast<T>(i + .5f) * bin_size / static_cast<T>(grid);
}

// Box fraction in [0, 1] of sampling point `i` (of `grid`) in bin `p` (of
// `pooled`): (coord - roi_start) / roi_size, computed from the indices.
template <typename T>
SA_HOST_DEVICE SA_INLINE T box_fraction(const int p, const int i,
                                        const int grid, const int pooled) {
  return (static_cast<T>(p) +
          (static_cast<T>(i) + static_cast<T>(0.5)) / static_cast<T>(grid)) /
         static_cast<T>(pooled);
}

// mmcv's bilinear rule along one feature axis of `size` pixels: the lower /
// upper neighbour and their weights. Returns false (weights 0, indices 0)
// when the coordinate is outside [-1, size] (or not finite), where mmcv
// returns 0 for the whole point.
template <typename T>
SA_HOST_DEVICE SA_INLINE bool feature_axis(const int size, T coord, int& low,
                                           int& high, T& w_low, T& w_high) {
  // deal with cases that inverse elements are out of feature map boundary
  if (!(coord >= (T)-1.0 && coord <= (T)size)) {
    low = high = 0;
    w_low = w_high = static_cast<T>(0);
    return false;
  }
  if (coord <= 0) coord = 0;
  low = (int)coord;
  if (low >= size - 1) {
    high = low = size - 1;
    coord = (T)low;
  } else {
    high = low + 1;
  }
  w_high = coord - low;
  w_low = static_cast<T>(1) - w_high;
  return true;
}

// Bilinear weights and flat positions of a feature map sample, mmcv's rules
// (w1 = hy * hx, ... in mmcv's order). Returns false (all weights 0,
// positions 0) when the point is outside [-1, H] x [-1, W] (or not finite).
template <typename T>
SA_HOST_DEVICE SA_INLINE bool feature_bilinear(const int height,
                                               const int width, T y, T x,
                                               T& w1, T& w2, T& w3, T& w4,
                                               int& pos1, int& pos2,
                                               int& pos3, int& pos4) {
  int y_low, y_high, x_low, x_high;
  T hy, ly, hx, lx;
  const bool valid_y = feature_axis(height, y, y_low, y_high, hy, ly);
  const bool valid_x = feature_axis(width, x, x_low, x_high, hx, lx);
  if (!(valid_y && valid_x)) {
    w1 = w2 = w3 = w4 = static_cast<T>(0);
    pos1 = pos2 = pos3 = pos4 = 0;
    return false;
  }
  w1 = hy * hx;
  w2 = hy * lx;
  w3 = ly * hx;
  w4 = ly * lx;
  pos1 = y_low * width + x_low;
  pos2 = y_low * width + x_high;
  pos3 = y_high * width + x_low;
  pos4 = y_high * width + x_high;
  return true;
}

// Bilinear weights and flat positions of the mask sample at box fraction
// (v, u) = (y, x): grid_sample(align_corners=False, padding_mode='border').
template <typename T>
SA_HOST_DEVICE SA_INLINE void mask_bilinear(const int mask_height,
                                            const int mask_width, const T v,
                                            const T u, T& w1, T& w2, T& w3,
                                            T& w4, int& pos1, int& pos2,
                                            int& pos3, int& pos4) {
  // pixel (i, j) has its centre at fraction ((i + 0.5) / Hp, (j + 0.5) / Wp)
  T my = v * static_cast<T>(mask_height) - static_cast<T>(0.5);
  T mx = u * static_cast<T>(mask_width) - static_cast<T>(0.5);
  const T max_y = static_cast<T>(mask_height - 1);
  const T max_x = static_cast<T>(mask_width - 1);
  // border padding: clamp the coordinate (the `!(>)` form also maps NaN to 0)
  const T zero = static_cast<T>(0);
  my = (my > zero) ? (my < max_y ? my : max_y) : zero;
  mx = (mx > zero) ? (mx < max_x ? mx : max_x) : zero;

  const int y0 = static_cast<int>(my);
  const int x0 = static_cast<int>(mx);
  // at the last pixel the upper neighbour has weight 0: reuse the pixel
  const int y1 = (y0 + 1 < mask_height) ? y0 + 1 : y0;
  const int x1 = (x0 + 1 < mask_width) ? x0 + 1 : x0;
  const T ly = my - static_cast<T>(y0);
  const T lx = mx - static_cast<T>(x0);
  const T hy = static_cast<T>(1) - ly, hx = static_cast<T>(1) - lx;
  w1 = hy * hx;
  w2 = hy * lx;
  w3 = ly * hx;
  w4 = ly * lx;
  pos1 = y0 * mask_width + x0;
  pos2 = y0 * mask_width + x1;
  pos3 = y1 * mask_width + x0;
  pos4 = y1 * mask_width + x1;
}

}  // namespace sa_roi_align
}  // namespace mmext

#endif  // SA_ROI_ALIGN_KERNEL_H
