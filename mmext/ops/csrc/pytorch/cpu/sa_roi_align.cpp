// Copyright (c) mmext contributors. All rights reserved.
//
// CPU kernels of Shape-aware RoIAlign. The sampling math is mmcv's
// (common/sa_roi_align_kernel.h); the loop order is not:
//
// * mmcv's cpu/roi_align.cpp runs RoI-major (for each RoI, for each channel),
//   so every RoI walks through all C feature planes of its image and misses
//   the cache on nearly every bilinear read. Here RoIs are processed in chunks
//   (grouped by image) and, inside a chunk, channel-block-major: the planes
//   of kBlock channels stay in cache while all RoIs of the chunk read them,
//   and a point's weights, offsets and mask value are computed once for the
//   kBlock channels.
// * The sampling points of a RoI form a separable grid (out_h * grid_h rows x
//   out_w * grid_w columns), so per RoI only the row and column neighbours /
//   weights are tabulated, plus the mask value of every point (it does not
//   depend on the channel). A chunk's tables are sized to stay in cache.
// * Channels are independent, so the forward parallelises over channel
//   blocks (at::parallel_for) without write conflicts, and so does the feature
//   gradient (each channel scatters into its own grad_input plane). The mask
//   gradient sums over channels: it is accumulated per fixed group of
//   kChannelsPerGroup channels and the groups are summed in a fixed order, so
//   results are bitwise independent of the thread count.
// On an FPN-P2-sized map (2 x 256 x 200 x 304, 512 RoIs, 7 x 7, ratio 2) the
// forward takes about a quarter of mmcv RoIAlign's CPU time (single thread);
// see tools/analysis_tools/benchmark_sa_roi_align.py.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "sa_roi_align_kernel.h"

using at::Tensor;
namespace sara = mmext::sa_roi_align;

namespace {

// Sampling points (of all RoIs of a chunk) kept in the tables at once.
constexpr int64_t kChunkPoints = 1 << 17;
// Channels whose planes are read together (forward and backward).
constexpr int kBlock = 8;
// Channels per group of the mask-gradient reduction (fixed: determinism).
constexpr int kChannelsPerGroup = 32;
static_assert(kChannelsPerGroup % kBlock == 0, "groups hold whole blocks");

// One sampling row (y) or column (x) of a RoI: neighbours and weights.
// For rows, `low` / `high` are already multiplied by the plane width. An
// invalid coordinate (outside [-1, size]) has zero weights, which zeroes the
// whole point, as mmcv does.
template <typename T>
struct AxisSample {
  int low, high;
  T w_low, w_high;
};

template <typename T>
struct RoIPlan {
  int roi;  // index into rois / masks / output
  sara::RoIGeometry<T> g;
  int64_t row_begin;    // first entry in the row table (out_h * grid_h)
  int64_t col_begin;    // first entry in the column table (out_w * grid_w)
  int64_t point_begin;  // first mask value (rows x cols, row-major)
};

template <typename T, typename scalar_t>
sara::RoIGeometry<T> cpu_roi_geometry(const scalar_t* roi, int batch_size,
                                      float spatial_scale, int pooled_h,
                                      int pooled_w, int sampling_ratio,
                                      bool aligned) {
  return sara::roi_geometry<T>(
      static_cast<T>(roi[0]), static_cast<T>(roi[1]), static_cast<T>(roi[2]),
      static_cast<T>(roi[3]), static_cast<T>(roi[4]), batch_size,
      static_cast<T>(spatial_scale), pooled_h, pooled_w, sampling_ratio,
      aligned);
}

// Tables of a chunk of RoIs. RoIs are visited grouped by image (stable
// order), so that a chunk reads the planes of as few images as possible.
template <typename T, typename scalar_t>
struct ChunkTables {
  std::vector<int> order;  // RoI indices sorted by batch index
  std::vector<RoIPlan<T>> plans;
  std::vector<AxisSample<T>> rows, cols;
  std::vector<T> mask_vals;

  void sort_by_image(const scalar_t* rois, int num_rois) {
    order.resize(num_rois);
    for (int n = 0; n < num_rois; n++) order[n] = n;
    std::stable_sort(order.begin(), order.end(), [rois](int a, int b) {
      return static_cast<double>(rois[static_cast<int64_t>(a) * 5]) <
             static_cast<double>(rois[static_cast<int64_t>(b) * 5]);
    });
  }

  // Plans (geometry and table offsets) of the RoIs order[pos_begin:] while
  // the chunk holds at most kChunkPoints points (at least one RoI). Returns
  // the end position of the chunk.
  int plan(const scalar_t* rois, int pos_begin, int batch_size,
           float spatial_scale, int pooled_h, int pooled_w,
           int sampling_ratio, bool aligned) {
    plans.clear();
    int64_t num_rows = 0, num_cols = 0, num_points = 0;
    const int num_rois = static_cast<int>(order.size());
    int pos = pos_begin;
    for (; pos < num_rois; pos++) {
      RoIPlan<T> p;
      p.roi = order[pos];
      p.g = cpu_roi_geometry<T>(rois + static_cast<int64_t>(p.roi) * 5,
                                batch_size, spatial_scale, pooled_h, pooled_w,
                                sampling_ratio, aligned);
      if (!p.g.valid) p.g.grid_h = p.g.grid_w = 0;  // zeros, nothing read
      const int64_t r = static_cast<int64_t>(pooled_h) * p.g.grid_h;
      const int64_t c = static_cast<int64_t>(pooled_w) * p.g.grid_w;
      if (pos > pos_begin && num_points + r * c > kChunkPoints) break;
      p.row_begin = num_rows;
      p.col_begin = num_cols;
      p.point_begin = num_points;
      num_rows += r;
      num_cols += c;
      num_points += r * c;
      plans.push_back(p);
    }
    rows.resize(num_rows);
    cols.resize(num_cols);
    mask_vals.resize(num_points);
    return pos;
  }

  // Row / column tables and mask values of the planned RoIs.
  void fill(const scalar_t* masks, int height, int width,
            int mask_h, int mask_w, int pooled_h, int pooled_w) {
    const int64_t mask_plane = static_cast<int64_t>(mask_h) * mask_w;
    at::parallel_for(
        0, static_cast<int64_t>(plans.size()), 16,
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; i++) {
            const RoIPlan<T>& p = plans[i];
            const sara::RoIGeometry<T>& g = p.g;
            const scalar_t* mask = masks + p.roi * mask_plane;
            AxisSample<T>* row = rows.data() + p.row_begin;
            for (int ph = 0; ph < pooled_h; ph++) {
              for (int iy = 0; iy < g.grid_h; iy++, row++) {
                const T y = sara::sample_coord(g.start_h, g.bin_size_h, ph,
                                               iy, g.grid_h);
                sara::feature_axis(height, y, row->low, row->high,
                                   row->w_low, row->w_high);
                row->low *= width;
                row->high *= width;
              }
            }
            AxisSample<T>* col = cols.data() + p.col_begin;
            for (int pw = 0; pw < pooled_w; pw++) {
              for (int ix = 0; ix < g.grid_w; ix++, col++) {
                const T x = sara::sample_coord(g.start_w, g.bin_size_w, pw,
                                               ix, g.grid_w);
                sara::feature_axis(width, x, col->low, col->high, col->w_low,
                                   col->w_high);
              }
            }
            T* mval = mask_vals.data() + p.point_begin;
            for (int ph = 0; ph < pooled_h; ph++) {
              for (int iy = 0; iy < g.grid_h; iy++) {
                const T v = sara::box_fraction<T>(ph, iy, g.grid_h, pooled_h);
                for (int pw = 0; pw < pooled_w; pw++) {
                  for (int ix = 0; ix < g.grid_w; ix++) {
                    const T u =
                        sara::box_fraction<T>(pw, ix, g.grid_w, pooled_w);
                    T w1, w2, w3, w4;
                    int p1, p2, p3, p4;
                    sara::mask_bilinear(mask_h, mask_w, v, u, w1, w2, w3, w4,
                                        p1, p2, p3, p4);
                    *mval++ = w1 * static_cast<T>(mask[p1]) +
                              w2 * static_cast<T>(mask[p2]) +
                              w3 * static_cast<T>(mask[p3]) +
                              w4 * static_cast<T>(mask[p4]);
                  }
                }
              }
            }
          }
        });
  }
};

// Forward of the channels [c0, c0 + CB) of the RoIs of a chunk. The point
// geometry (weights, offsets, mask value) is computed once for CB channels,
// whose planes stay in cache together.
template <int CB, typename T, typename scalar_t>
void forward_channel_block(const ChunkTables<T, scalar_t>& tables,
                           const scalar_t* input, scalar_t* output,
                           int64_t c0, int channels, int64_t plane,
                           int pooled_h, int pooled_w) {
  const int64_t out_plane = static_cast<int64_t>(pooled_h) * pooled_w;
  for (const RoIPlan<T>& p : tables.plans) {
    const int64_t n = p.roi;
    const sara::RoIGeometry<T>& g = p.g;
    const scalar_t* in[CB];
    scalar_t* out[CB];
    for (int cb = 0; cb < CB; cb++) {
      in[cb] = input + (static_cast<int64_t>(g.batch_ind) * channels + c0 +
                        cb) * plane;
      out[cb] = output + (n * channels + c0 + cb) * out_plane;
    }
    const AxisSample<T>* rows = tables.rows.data() + p.row_begin;
    const AxisSample<T>* cols = tables.cols.data() + p.col_begin;
    const T* mvals = tables.mask_vals.data() + p.point_begin;
    const int64_t num_cols = static_cast<int64_t>(pooled_w) * g.grid_w;
    for (int ph = 0; ph < pooled_h; ph++) {
      for (int pw = 0; pw < pooled_w; pw++) {
        T acc[CB];
        for (int cb = 0; cb < CB; cb++) acc[cb] = 0;
        for (int iy = 0; iy < g.grid_h; iy++) {
          const int ry = ph * g.grid_h + iy;
          const AxisSample<T>& r = rows[ry];
          const T* mrow = mvals + ry * num_cols;
          for (int ix = 0; ix < g.grid_w; ix++) {
            const int cx = pw * g.grid_w + ix;
            const AxisSample<T>& cl = cols[cx];
            // mmcv's weights and order: w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4
            const T w1 = r.w_low * cl.w_low, w2 = r.w_low * cl.w_high;
            const T w3 = r.w_high * cl.w_low, w4 = r.w_high * cl.w_high;
            const int o1 = r.low + cl.low, o2 = r.low + cl.high;
            const int o3 = r.high + cl.low, o4 = r.high + cl.high;
            const T m = mrow[cx];
            for (int cb = 0; cb < CB; cb++) {
              const scalar_t* f = in[cb];
              acc[cb] += (w1 * static_cast<T>(f[o1]) +
                          w2 * static_cast<T>(f[o2]) +
                          w3 * static_cast<T>(f[o3]) +
                          w4 * static_cast<T>(f[o4])) *
                         m;
            }
          }
        }
        for (int cb = 0; cb < CB; cb++)
          out[cb][ph * pooled_w + pw] =
              static_cast<scalar_t>(acc[cb] / g.count);
      }
    }
  }
}

template <typename scalar_t>
void sa_roi_align_forward_cpu_kernel(
    const scalar_t* input, const scalar_t* rois, const scalar_t* masks,
    scalar_t* output, int num_rois, int batch_size, int channels, int height,
    int width, int mask_h, int mask_w, int pooled_h, int pooled_w,
    float spatial_scale, int sampling_ratio, bool aligned) {
  using T = at::opmath_type<scalar_t>;
  const int64_t plane = static_cast<int64_t>(height) * width;
  const int64_t num_blocks = (channels + kBlock - 1) / kBlock;
  ChunkTables<T, scalar_t> tables;

  tables.sort_by_image(rois, num_rois);
  for (int pos = 0; pos < num_rois;) {
    pos = tables.plan(rois, pos, batch_size, spatial_scale, pooled_h,
                      pooled_w, sampling_ratio, aligned);
    tables.fill(masks, height, width, mask_h, mask_w, pooled_h, pooled_w);
    at::parallel_for(0, num_blocks, 1, [&](int64_t b_begin, int64_t b_end) {
      for (int64_t block = b_begin; block < b_end; block++) {
        const int64_t c0 = block * kBlock;
        if (c0 + kBlock <= channels) {
          forward_channel_block<kBlock>(tables, input, output, c0, channels,
                                        plane, pooled_h, pooled_w);
        } else {
          for (int64_t c = c0; c < channels; c++)
            forward_channel_block<1>(tables, input, output, c, channels,
                                     plane, pooled_h, pooled_w);
        }
      }
    });
  }
}

// Backward of the channels [c0, c0 + CB) of the RoIs of a chunk: scatter
// into their grad_input planes, and add d out / d mask value of every point
// (summed over these channels) to `point_grad` (indexed like mask_vals).
template <int CB, bool kInputGrad, bool kMaskGrad, typename T,
          typename scalar_t>
void backward_channel_block(const ChunkTables<T, scalar_t>& tables,
                            const scalar_t* grad_output,
                            const scalar_t* input, T* grad_input,
                            T* point_grad, int64_t c0, int channels,
                            int64_t plane, int pooled_h, int pooled_w) {
  const int64_t out_plane = static_cast<int64_t>(pooled_h) * pooled_w;
  for (const RoIPlan<T>& p : tables.plans) {
    const int64_t n = p.roi;
    const sara::RoIGeometry<T>& g = p.g;
    const scalar_t* in[CB];
    T* grad_in[CB];
    const scalar_t* grad_out[CB];
    for (int cb = 0; cb < CB; cb++) {
      const int64_t in_offset =
          (static_cast<int64_t>(g.batch_ind) * channels + c0 + cb) * plane;
      in[cb] = input + in_offset;
      grad_in[cb] = grad_input != nullptr ? grad_input + in_offset : nullptr;
      grad_out[cb] = grad_output + (n * channels + c0 + cb) * out_plane;
    }
    const AxisSample<T>* rows = tables.rows.data() + p.row_begin;
    const AxisSample<T>* cols = tables.cols.data() + p.col_begin;
    const T* mvals = tables.mask_vals.data() + p.point_begin;
    T* pgr = point_grad != nullptr ? point_grad + p.point_begin : nullptr;
    const int64_t num_cols = static_cast<int64_t>(pooled_w) * g.grid_w;
    for (int ph = 0; ph < pooled_h; ph++) {
      for (int pw = 0; pw < pooled_w; pw++) {
        T grad_bin[CB];
        for (int cb = 0; cb < CB; cb++)
          grad_bin[cb] =
              static_cast<T>(grad_out[cb][ph * pooled_w + pw]) / g.count;
        for (int iy = 0; iy < g.grid_h; iy++) {
          const int ry = ph * g.grid_h + iy;
          const AxisSample<T>& r = rows[ry];
          for (int ix = 0; ix < g.grid_w; ix++) {
            const int cx = pw * g.grid_w + ix;
            const AxisSample<T>& cl = cols[cx];
            const T w1 = r.w_low * cl.w_low, w2 = r.w_low * cl.w_high;
            const T w3 = r.w_high * cl.w_low, w4 = r.w_high * cl.w_high;
            const int o1 = r.low + cl.low, o2 = r.low + cl.high;
            const int o3 = r.high + cl.low, o4 = r.high + cl.high;
            const int64_t point = ry * num_cols + cx;
            if (kInputGrad) {
              const T m = mvals[point];
              for (int cb = 0; cb < CB; cb++) {
                const T gm = grad_bin[cb] * m;
                T* gi = grad_in[cb];
                gi[o1] += gm * w1;
                gi[o2] += gm * w2;
                gi[o3] += gm * w3;
                gi[o4] += gm * w4;
              }
            }
            if (kMaskGrad) {
              T sum = 0;
              for (int cb = 0; cb < CB; cb++) {
                const scalar_t* f = in[cb];
                sum += grad_bin[cb] * (w1 * static_cast<T>(f[o1]) +
                                       w2 * static_cast<T>(f[o2]) +
                                       w3 * static_cast<T>(f[o3]) +
                                       w4 * static_cast<T>(f[o4]));
              }
              pgr[point] += sum;
            }
          }
        }
      }
    }
  }
}

// backward_channel_block specialised on which gradients are needed (null
// pointers), so that the point loop has no branches.
template <int CB, typename T, typename scalar_t>
void backward_dispatch(const ChunkTables<T, scalar_t>& tables,
                       const scalar_t* grad_output, const scalar_t* input,
                       T* grad_input, T* point_grad, int64_t c0, int channels,
                       int64_t plane, int pooled_h, int pooled_w) {
  if (grad_input != nullptr && point_grad != nullptr)
    backward_channel_block<CB, true, true>(tables, grad_output, input,
                                           grad_input, point_grad, c0,
                                           channels, plane, pooled_h,
                                           pooled_w);
  else if (grad_input != nullptr)
    backward_channel_block<CB, true, false>(tables, grad_output, input,
                                            grad_input, point_grad, c0,
                                            channels, plane, pooled_h,
                                            pooled_w);
  else if (point_grad != nullptr)
    backward_channel_block<CB, false, true>(tables, grad_output, input,
                                            grad_input, point_grad, c0,
                                            channels, plane, pooled_h,
                                            pooled_w);
}

// grad_input / grad_masks are in the op-math type T (float for half).
template <typename scalar_t>
void sa_roi_align_backward_cpu_kernel(
    const scalar_t* grad_output, const scalar_t* input, const scalar_t* rois,
    const scalar_t* masks,
    at::opmath_type<scalar_t>* grad_input,  // nullable
    at::opmath_type<scalar_t>* grad_masks,  // nullable
    int num_rois, int batch_size, int channels, int height, int width,
    int mask_h, int mask_w, int pooled_h, int pooled_w, float spatial_scale,
    int sampling_ratio, bool aligned) {
  using T = at::opmath_type<scalar_t>;
  const int64_t plane = static_cast<int64_t>(height) * width;
  const int64_t mask_plane = static_cast<int64_t>(mask_h) * mask_w;
  // the mask gradient is reduced over fixed channel groups (determinism)
  const int num_groups =
      std::max(1, (channels + kChannelsPerGroup - 1) / kChannelsPerGroup);
  ChunkTables<T, scalar_t> tables;
  std::vector<T> point_grad;  // (num_groups, chunk points): d out / d mask

  tables.sort_by_image(rois, num_rois);
  for (int pos = 0; pos < num_rois;) {
    pos = tables.plan(rois, pos, batch_size, spatial_scale, pooled_h,
                      pooled_w, sampling_ratio, aligned);
    tables.fill(masks, height, width, mask_h, mask_w, pooled_h, pooled_w);
    const int64_t chunk_points = tables.mask_vals.size();
    if (grad_masks != nullptr) point_grad.assign(num_groups * chunk_points, 0);

    at::parallel_for(0, num_groups, 1, [&](int64_t g_begin, int64_t g_end) {
      for (int64_t group = g_begin; group < g_end; group++) {
        T* pg = grad_masks != nullptr
                    ? point_grad.data() + group * chunk_points
                    : nullptr;
        const int64_t c_end =
            std::min<int64_t>((group + 1) * kChannelsPerGroup, channels);
        int64_t c = group * kChannelsPerGroup;
        for (; c + kBlock <= c_end; c += kBlock)
          backward_dispatch<kBlock>(tables, grad_output, input, grad_input,
                                    pg, c, channels, plane, pooled_h,
                                    pooled_w);
        for (; c < c_end; c++)
          backward_dispatch<1>(tables, grad_output, input, grad_input, pg, c,
                               channels, plane, pooled_h, pooled_w);
      }
    });

    if (grad_masks != nullptr) {
      // sum the groups in order, then scatter each point to its 4 pixels
      for (const RoIPlan<T>& p : tables.plans) {
        const sara::RoIGeometry<T>& g = p.g;
        T* grad_mask = grad_masks + p.roi * mask_plane;
        int64_t point = p.point_begin;
        for (int ph = 0; ph < pooled_h; ph++) {
          for (int iy = 0; iy < g.grid_h; iy++) {
            const T v = sara::box_fraction<T>(ph, iy, g.grid_h, pooled_h);
            for (int pw = 0; pw < pooled_w; pw++) {
              for (int ix = 0; ix < g.grid_w; ix++, point++) {
                T gp = point_grad[point];
                for (int group = 1; group < num_groups; group++)
                  gp += point_grad[group * chunk_points + point];
                const T u = sara::box_fraction<T>(pw, ix, g.grid_w, pooled_w);
                T w1, w2, w3, w4;
                int p1, p2, p3, p4;
                sara::mask_bilinear(mask_h, mask_w, v, u, w1, w2, w3, w4, p1,
                                    p2, p3, p4);
                grad_mask[p1] += gp * w1;
                grad_mask[p2] += gp * w2;
                grad_mask[p3] += gp * w3;
                grad_mask[p4] += gp * w4;
              }
            }
          }
        }
      }
    }
  }
}

// Value checks that mmcv leaves to luck (an out-of-range batch index reads
// out of bounds); on CPU they are cheap, so they raise ValueError.
template <typename scalar_t>
void check_rois_cpu(const scalar_t* rois, int num_rois, int batch_size,
                    float spatial_scale, bool aligned) {
  using T = at::opmath_type<scalar_t>;
  for (int n = 0; n < num_rois; n++) {
    const scalar_t* roi = rois + static_cast<int64_t>(n) * 5;
    for (int j = 0; j < 5; j++) {
      TORCH_CHECK_VALUE(sara::is_finite(static_cast<T>(roi[j])),
                        "sa_roi_align: rois[", n, "] has a non-finite value");
    }
    const T b = static_cast<T>(roi[0]);
    TORCH_CHECK_VALUE(b >= 0 && b < batch_size && b == static_cast<int>(b),
                      "sa_roi_align: rois[", n, ", 0] (batch index) = ",
                      static_cast<double>(b),
                      " is not an integer in [0, input.size(0)=", batch_size,
                      ")");
    if (aligned) {
      // the same expressions as roi_geometry, then mmcv's assertion
      const T s = static_cast<T>(spatial_scale);
      const T offset = static_cast<T>(0.5);
      const T roi_width = (static_cast<T>(roi[3]) * s - offset) -
                          (static_cast<T>(roi[1]) * s - offset);
      const T roi_height = (static_cast<T>(roi[4]) * s - offset) -
                           (static_cast<T>(roi[2]) * s - offset);
      TORCH_CHECK_VALUE(
          roi_width >= 0 && roi_height >= 0, "sa_roi_align: rois[", n,
          "] has x2 < x1 or y2 < y1, which aligned=True does not allow "
          "(like mmcv RoIAlign)");
    }
  }
}

}  // namespace

Tensor sa_roi_align_forward_cpu(const Tensor& input, const Tensor& rois,
                                const Tensor& masks, int pooled_height,
                                int pooled_width, float spatial_scale,
                                int sampling_ratio, bool aligned) {
  const int num_rois = rois.size(0);
  const int batch_size = input.size(0);
  const int channels = input.size(1);
  // every element is written (0 for RoIs without sampling points)
  Tensor output = at::empty({num_rois, channels, pooled_height, pooled_width},
                            input.options());
  if (output.numel() == 0) return output;

  AT_DISPATCH_FLOATING_TYPES_AND_HALF(
      input.scalar_type(), "sa_roi_align_forward_cpu", [&] {
        check_rois_cpu<scalar_t>(rois.data_ptr<scalar_t>(), num_rois,
                                 batch_size, spatial_scale, aligned);
        sa_roi_align_forward_cpu_kernel<scalar_t>(
            input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
            masks.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
            num_rois, batch_size, channels, input.size(2), input.size(3),
            masks.size(1), masks.size(2), pooled_height, pooled_width,
            spatial_scale, sampling_ratio, aligned);
      });
  return output;
}

std::vector<Tensor> sa_roi_align_backward_cpu(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const Tensor& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad) {
  // half accumulates in float (opmath type), float / double in themselves
  const at::ScalarType acc_dtype = input.scalar_type() == at::kHalf
                                       ? at::kFloat
                                       : input.scalar_type();
  Tensor grad_input, grad_masks;
  if (needs_input_grad)
    grad_input = at::zeros(input.sizes(), input.options().dtype(acc_dtype));
  if (needs_masks_grad)
    grad_masks = at::zeros(masks.sizes(), masks.options().dtype(acc_dtype));

  const int num_rois = rois.size(0);
  if (num_rois > 0 && input.size(1) > 0 &&
      (needs_input_grad || needs_masks_grad)) {
    AT_DISPATCH_FLOATING_TYPES_AND_HALF(
        input.scalar_type(), "sa_roi_align_backward_cpu", [&] {
          using acc_t = at::opmath_type<scalar_t>;
          check_rois_cpu<scalar_t>(rois.data_ptr<scalar_t>(), num_rois,
                                   input.size(0), spatial_scale, aligned);
          sa_roi_align_backward_cpu_kernel<scalar_t>(
              grad_output.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(),
              rois.data_ptr<scalar_t>(), masks.data_ptr<scalar_t>(),
              needs_input_grad ? grad_input.data_ptr<acc_t>() : nullptr,
              needs_masks_grad ? grad_masks.data_ptr<acc_t>() : nullptr,
              num_rois, input.size(0), input.size(1), input.size(2),
              input.size(3), masks.size(1), masks.size(2), pooled_height,
              pooled_width, spatial_scale, sampling_ratio, aligned);
        });
  }
  if (needs_input_grad && grad_input.scalar_type() != input.scalar_type())
    grad_input = grad_input.to(input.scalar_type());
  if (needs_masks_grad && grad_masks.scalar_type() != masks.scalar_type())
    grad_masks = grad_masks.to(masks.scalar_type());
  return {grad_input, grad_masks};
}
