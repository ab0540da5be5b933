// Copyright (c) mmext contributors. All rights reserved.
//
// CPU kernels of Shape-aware RoIAlign. The sampling math is mmcv's
// (common/sa_roi_align_kernel.h); the loop order and the memory layout are
// not:
//
// * mmcv's cpu/roi_align.cpp runs RoI-major (for each RoI, for each channel),
//   so every RoI walks through all C feature planes of its image and misses
//   the cache on nearly every bilinear read. Here RoIs are processed in chunks
//   (grouped by image) and, inside a chunk, channel-block-major: all RoIs of
//   the chunk read the kBlock channels of a block, and a point's weights,
//   offsets and mask value are computed once for the kBlock channels.
// * The sampling points of a RoI form a separable grid (out_h * grid_h rows x
//   out_w * grid_w columns), so per RoI only the row and column neighbours /
//   weights are tabulated, plus the mask value of every point (it does not
//   depend on the channel).
// * In NCHW a point's kBlock channel values lie in kBlock planes, so the
//   channel loop is scalar. When the RoIs of an image read about as many
//   values as a plane holds (dense RoIs, e.g. training with 512 RoIs), the
//   block's planes are first packed pixel-major (the kBlock values of a
//   pixel contiguous, an NHWC tile) into a per-thread buffer that stays in
//   cache; then the channel loops read and write contiguous memory and
//   vectorise. The backward accumulates the feature gradient in such a
//   buffer and unpacks it into grad_input, which so needs no zero fill for
//   those planes. Sparse RoIs read the planes where they lie.
// * Channels are independent, so the forward parallelises over channel
//   blocks (at::parallel_for) without write conflicts, and so does the feature
//   gradient (each channel scatters into its own grad_input plane). The mask
//   gradient sums over channels: it is accumulated per fixed group of
//   kChannelsPerGroup channels and the groups are summed in a fixed order, so
//   results are bitwise independent of the thread count.
// * Without a mask (masks undefined: mmext's plain RoIAlign, MMExtRoIAlign in
//   mmext/ops/roi_align.py) the same loops run with kMask = false: no mask
//   values are interpolated, stored or read, and no mask gradient exists, so
//   a point is plain bilinear sampling, mmcv RoIAlign's 'avg' mode.
// See tools/analysis_tools/benchmark_sa_roi_align.py for the timings against
// mmcv RoIAlign and the PyTorch reference.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sa_roi_align_kernel.h"

using at::Tensor;
namespace sara = mmext::sa_roi_align;

namespace {

// Sampling points (of all RoIs of a chunk) kept in the tables at once.
constexpr int64_t kChunkPoints = 1 << 17;
// Channels whose values are read together (forward and backward).
constexpr int kBlock = 8;
// Channels per group of the mask-gradient reduction (fixed: determinism).
constexpr int kChannelsPerGroup = 32;
static_assert(kChannelsPerGroup % kBlock == 0, "groups hold whole blocks");
// An image's block is packed when its RoIs have at least this many sampling
// points per feature pixel (each point reads 4 pixels): packing costs about
// one pass over the planes, the scalar gathers it saves about a quarter pass
// per point and pixel (measured with the benchmark script).
constexpr double kPackMinPointsPerPixel = 0.2;

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

// The RoIs of one image inside a chunk: plans[begin, end).
struct ImageSegment {
  int64_t begin, end;
  int batch_ind;
  int64_t num_points;
};

// Whether the segment's channel blocks are processed on packed copies (its
// RoIs are dense, see kPackMinPointsPerPixel); forward and backward agree.
inline bool use_packed_blocks(const ImageSegment& seg, int64_t plane) {
  return seg.num_points >= kPackMinPointsPerPixel * plane;
}

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
  std::vector<ImageSegment> segments;
  std::vector<AxisSample<T>> rows, cols;
  std::vector<T> mask_vals;  // empty without a mask
  int64_t num_points = 0;    // sampling points of the chunk

  void sort_by_image(const scalar_t* rois, int num_rois) {
    order.resize(num_rois);
    for (int n = 0; n < num_rois; n++) order[n] = n;
    std::stable_sort(order.begin(), order.end(), [rois](int a, int b) {
      return static_cast<double>(rois[static_cast<int64_t>(a) * 5]) <
             static_cast<double>(rois[static_cast<int64_t>(b) * 5]);
    });
  }

  // Plans (geometry and table offsets) of the RoIs order[pos_begin:] while
  // the chunk holds at most kChunkPoints points (at least one RoI), and
  // their image segments. Returns the end position of the chunk.
  int plan(const scalar_t* rois, int pos_begin, int batch_size,
           float spatial_scale, int pooled_h, int pooled_w,
           int sampling_ratio, bool aligned, bool with_mask) {
    plans.clear();
    segments.clear();
    int64_t num_rows = 0, num_cols = 0;
    num_points = 0;
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
      const int64_t index = static_cast<int64_t>(plans.size());
      if (segments.empty() || segments.back().batch_ind != p.g.batch_ind)
        segments.push_back({index, index, p.g.batch_ind, 0});
      segments.back().end = index + 1;
      segments.back().num_points += r * c;
      plans.push_back(p);
    }
    rows.resize(num_rows);
    cols.resize(num_cols);
    mask_vals.resize(with_mask ? num_points : 0);
    return pos;
  }

  // Row / column tables and (when masks is not null) mask values of the
  // planned RoIs.
  void fill(const scalar_t* masks, int height, int width,
            int mask_h, int mask_w, int pooled_h, int pooled_w) {
    const int64_t mask_plane = static_cast<int64_t>(mask_h) * mask_w;
    at::parallel_for(
        0, static_cast<int64_t>(plans.size()), 16,
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; i++) {
            const RoIPlan<T>& p = plans[i];
            const sara::RoIGeometry<T>& g = p.g;
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
            if (masks == nullptr) continue;
            const scalar_t* mask = masks + p.roi * mask_plane;
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

#if !defined(__GNUC__)
#error "mmext's CPU SaRoIAlign kernel needs GCC or Clang (vector extensions)"
#endif

// The CB channel values of one pixel, held as CB / L SIMD vectors of L lanes
// (GCC / Clang vector extension) of 16 bytes, the width every x86-64 (SSE2)
// and aarch64 (NEON) build has: wider generic vectors made GCC round-trip
// broadcasts and accumulators through the stack. Fewer channels than fit in
// 16 bytes (the one-channel tail) use one vector of CB lanes.
template <typename T, int CB>
struct Lanes {
  static constexpr int L =
      CB * sizeof(T) >= 16 ? static_cast<int>(16 / sizeof(T)) : CB;
  static constexpr int NV = CB / L;
  static_assert(NV * L == CB, "CB must be a multiple of the vector width");
  typedef T Vec __attribute__((vector_size(L * sizeof(T))));
  Vec v[NV];

  static Lanes zero() {
    Lanes z;
    for (int i = 0; i < NV; i++) z.v[i] = Vec{};
    return z;
  }
  void load(const T* p) { std::memcpy(v, p, sizeof(v)); }
  void store(T* p) const { std::memcpy(p, v, sizeof(v)); }
  T get(int k) const { return v[k / L][k % L]; }

  Lanes& operator+=(const Lanes& o) {
    for (int i = 0; i < NV; i++) v[i] += o.v[i];
    return *this;
  }
  friend Lanes operator+(Lanes a, const Lanes& b) { return a += b; }
  friend Lanes operator*(Lanes a, const Lanes& b) {
    for (int i = 0; i < NV; i++) a.v[i] *= b.v[i];
    return a;
  }
  friend Lanes operator*(Lanes a, T s) {
    for (int i = 0; i < NV; i++) a.v[i] *= s;
    return a;
  }
  friend Lanes operator*(T s, Lanes a) { return a * s; }
};

// Where the values (or gradients) of a block of CB channels of one image
// lie. Both load / add the CB values of flat pixel o as Lanes.
// PlanarBlock: the NCHW planes themselves (planes[k][o]).
template <int CB, typename T, typename V>
struct PlanarBlock {
  V* planes[CB];
  void load(int64_t o, Lanes<T, CB>& v) const {
    T values[CB];
    for (int k = 0; k < CB; k++) values[k] = static_cast<T>(planes[k][o]);
    v.load(values);
  }
  void add(int64_t o, const Lanes<T, CB>& v) const {
    for (int k = 0; k < CB; k++) planes[k][o] += v.get(k);
  }
};

// InterleavedBlock: a packed copy, pixel-major (data[o * CB + k]): one
// contiguous vector load / store per pixel.
template <int CB, typename T>
struct InterleavedBlock {
  T* data;
  void load(int64_t o, Lanes<T, CB>& v) const { v.load(data + o * CB); }
  void add(int64_t o, const Lanes<T, CB>& v) const {
    Lanes<T, CB> sum;
    sum.load(data + o * CB);
    sum += v;
    sum.store(data + o * CB);
  }
};

// Planes [c0, c0 + CB) of image b of an (N, C, H, W) tensor.
template <int CB, typename T, typename V>
PlanarBlock<CB, T, V> planar_block(V* base, int b, int64_t c0, int channels,
                                   int64_t plane) {
  PlanarBlock<CB, T, V> block;
  for (int k = 0; k < CB; k++)
    block.planes[k] =
        base == nullptr
            ? nullptr
            : base + (static_cast<int64_t>(b) * channels + c0 + k) * plane;
  return block;
}

#if defined(__SSE2__)
// out[j * out_stride + i] (+)= in[i * in_stride + j] for one 4 x 4 (float)
// or 2 x 2 (double) tile: the SIMD step of pack_block / unpack_block.
constexpr int kTileLanes = 16;  // bytes: 4 floats, 2 doubles
inline void transpose_tile(const float* in, int64_t in_stride, float* out,
                           int64_t out_stride, bool accumulate) {
  __m128 r0 = _mm_loadu_ps(in), r1 = _mm_loadu_ps(in + in_stride);
  __m128 r2 = _mm_loadu_ps(in + 2 * in_stride);
  __m128 r3 = _mm_loadu_ps(in + 3 * in_stride);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  if (accumulate) {
    r0 = _mm_add_ps(r0, _mm_loadu_ps(out));
    r1 = _mm_add_ps(r1, _mm_loadu_ps(out + out_stride));
    r2 = _mm_add_ps(r2, _mm_loadu_ps(out + 2 * out_stride));
    r3 = _mm_add_ps(r3, _mm_loadu_ps(out + 3 * out_stride));
  }
  _mm_storeu_ps(out, r0);
  _mm_storeu_ps(out + out_stride, r1);
  _mm_storeu_ps(out + 2 * out_stride, r2);
  _mm_storeu_ps(out + 3 * out_stride, r3);
}
inline void transpose_tile(const double* in, int64_t in_stride, double* out,
                           int64_t out_stride, bool accumulate) {
  const __m128d r0 = _mm_loadu_pd(in), r1 = _mm_loadu_pd(in + in_stride);
  __m128d t0 = _mm_unpacklo_pd(r0, r1), t1 = _mm_unpackhi_pd(r0, r1);
  if (accumulate) {
    t0 = _mm_add_pd(t0, _mm_loadu_pd(out));
    t1 = _mm_add_pd(t1, _mm_loadu_pd(out + out_stride));
  }
  _mm_storeu_pd(out, t0);
  _mm_storeu_pd(out + out_stride, t1);
}
#endif

// dst = the CB planes starting at src, pixel-major.
template <int CB, typename T, typename scalar_t>
void pack_block(const scalar_t* src, int64_t plane, T* dst) {
  int64_t o = 0;
#if defined(__SSE2__)
  constexpr int n = kTileLanes / sizeof(T);
  if constexpr (std::is_same_v<T, scalar_t> && CB % n == 0) {
    for (; o + n <= plane; o += n)
      for (int c = 0; c < CB; c += n)
        transpose_tile(src + c * plane + o, plane, dst + o * CB + c, CB,
                       /*accumulate=*/false);
  }
#endif
  for (; o < plane; o++)
    for (int k = 0; k < CB; k++)
      dst[o * CB + k] = static_cast<T>(src[k * plane + o]);
}

// The CB planes starting at dst = (or +=) the pixel-major src.
template <int CB, typename T>
void unpack_block(const T* src, int64_t plane, bool accumulate, T* dst) {
  int64_t o = 0;
#if defined(__SSE2__)
  constexpr int n = kTileLanes / sizeof(T);
  if constexpr (CB % n == 0) {
    for (; o + n <= plane; o += n)
      for (int c = 0; c < CB; c += n)
        transpose_tile(src + o * CB + c, CB, dst + c * plane + o, plane,
                       accumulate);
  }
#endif
  for (; o < plane; o++)
    for (int k = 0; k < CB; k++)
      dst[k * plane + o] = (accumulate ? dst[k * plane + o] : T(0)) +
                           src[o * CB + k];
}

// Sum of the lanes [begin, begin + N) of v in a fixed tree order
// (deterministic; N a power of 2).
template <int N, typename T, int CB>
inline T lane_sum(const Lanes<T, CB>& v, int begin = 0) {
  if constexpr (N == 1) {
    return v.get(begin);
  } else {
    return lane_sum<N / 2>(v, begin) + lane_sum<N / 2>(v, begin + N / 2);
  }
}

// Forward of the channels [c0, c0 + CB) of the RoIs of one image segment.
// The point geometry (weights, offsets, mask value) is computed once for CB
// channels. kMask = false: plain RoIAlign (no mask value).
template <int CB, bool kMask, typename T, typename scalar_t,
          typename Features>
void forward_segment(const ChunkTables<T, scalar_t>& tables,
                     const ImageSegment& seg, const Features& feat,
                     scalar_t* output, int64_t c0, int channels,
                     int pooled_h, int pooled_w) {
  const int64_t out_plane = static_cast<int64_t>(pooled_h) * pooled_w;
  for (int64_t i = seg.begin; i < seg.end; i++) {
    const RoIPlan<T>& p = tables.plans[i];
    const sara::RoIGeometry<T>& g = p.g;
    scalar_t* out = output + (p.roi * channels + c0) * out_plane;
    const AxisSample<T>* rows = tables.rows.data() + p.row_begin;
    const AxisSample<T>* cols = tables.cols.data() + p.col_begin;
    const T* mvals = kMask ? tables.mask_vals.data() + p.point_begin
                           : nullptr;
    const int64_t num_cols = static_cast<int64_t>(pooled_w) * g.grid_w;
    for (int ph = 0; ph < pooled_h; ph++) {
      for (int pw = 0; pw < pooled_w; pw++) {
        Lanes<T, CB> acc = Lanes<T, CB>::zero();
        for (int iy = 0; iy < g.grid_h; iy++) {
          const int ry = ph * g.grid_h + iy;
          const AxisSample<T>& r = rows[ry];
          const T* mrow = kMask ? mvals + ry * num_cols : nullptr;
          for (int ix = 0; ix < g.grid_w; ix++) {
            const int cx = pw * g.grid_w + ix;
            const AxisSample<T>& cl = cols[cx];
            // mmcv's weights and order: w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4
            const T w1 = r.w_low * cl.w_low, w2 = r.w_low * cl.w_high;
            const T w3 = r.w_high * cl.w_low, w4 = r.w_high * cl.w_high;
            const int o1 = r.low + cl.low, o2 = r.low + cl.high;
            const int o3 = r.high + cl.low, o4 = r.high + cl.high;
            Lanes<T, CB> v1, v2, v3, v4;
            feat.load(o1, v1);
            feat.load(o2, v2);
            feat.load(o3, v3);
            feat.load(o4, v4);
            if constexpr (kMask)
              acc += (w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4) * mrow[cx];
            else
              acc += w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4;
          }
        }
        for (int k = 0; k < CB; k++)
          out[k * out_plane + ph * pooled_w + pw] =
              static_cast<scalar_t>(acc.get(k) / g.count);
      }
    }
  }
}

// Per-thread buffer of one packed channel block.
template <typename T>
struct PackBuffer {
  std::vector<T> data;
  T* get(int64_t size) {
    if (static_cast<int64_t>(data.size()) < size) data.resize(size);
    return data.data();
  }
};

// masks is null exactly when kMask is false.
template <typename scalar_t, bool kMask>
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
                      pooled_w, sampling_ratio, aligned, kMask);
    tables.fill(masks, height, width, mask_h, mask_w, pooled_h, pooled_w);
    at::parallel_for(0, num_blocks, 1, [&](int64_t b_begin, int64_t b_end) {
      PackBuffer<T> packed;
      for (int64_t block = b_begin; block < b_end; block++) {
        const int64_t c0 = block * kBlock;
        for (const ImageSegment& seg : tables.segments) {
          if (c0 + kBlock > channels) {  // the last channels, one by one
            for (int64_t c = c0; c < channels; c++)
              forward_segment<1, kMask>(
                  tables, seg,
                  planar_block<1, T>(input, seg.batch_ind, c, channels, plane),
                  output, c, channels, pooled_h, pooled_w);
          } else if (use_packed_blocks(seg, plane)) {
            T* buf = packed.get(plane * kBlock);
            pack_block<kBlock>(
                input + (static_cast<int64_t>(seg.batch_ind) * channels +
                         c0) * plane,
                plane, buf);
            forward_segment<kBlock, kMask>(
                tables, seg, InterleavedBlock<kBlock, T>{buf}, output, c0,
                channels, pooled_h, pooled_w);
          } else {
            forward_segment<kBlock, kMask>(
                tables, seg,
                planar_block<kBlock, T>(input, seg.batch_ind, c0, channels,
                                     plane),
                output, c0, channels, pooled_h, pooled_w);
          }
        }
      }
    });
  }
}

// Backward of the channels [c0, c0 + CB) of the RoIs of one image segment:
// scatter into their feature gradients `grad`, and add d out / d mask value
// of every point (summed over these channels) to `point_grad` (indexed like
// mask_vals). kMask = false: plain RoIAlign (then kMaskGrad is false).
template <int CB, bool kMask, bool kInputGrad, bool kMaskGrad, typename T,
          typename scalar_t, typename Features, typename Grads>
void backward_segment(const ChunkTables<T, scalar_t>& tables,
                      const ImageSegment& seg, const Features& feat,
                      const Grads& grad, const scalar_t* grad_output,
                      T* point_grad, int64_t c0, int channels, int pooled_h,
                      int pooled_w) {
  static_assert(kMask || !kMaskGrad, "a mask gradient needs a mask");
  const int64_t out_plane = static_cast<int64_t>(pooled_h) * pooled_w;
  for (int64_t i = seg.begin; i < seg.end; i++) {
    const RoIPlan<T>& p = tables.plans[i];
    const sara::RoIGeometry<T>& g = p.g;
    const scalar_t* grad_out = grad_output + (p.roi * channels + c0) *
                                                 out_plane;
    const AxisSample<T>* rows = tables.rows.data() + p.row_begin;
    const AxisSample<T>* cols = tables.cols.data() + p.col_begin;
    const T* mvals = kMask ? tables.mask_vals.data() + p.point_begin
                           : nullptr;
    T* pgr = kMaskGrad ? point_grad + p.point_begin : nullptr;
    const int64_t num_cols = static_cast<int64_t>(pooled_w) * g.grid_w;
    for (int ph = 0; ph < pooled_h; ph++) {
      for (int pw = 0; pw < pooled_w; pw++) {
        T grad_values[CB];
        for (int k = 0; k < CB; k++)
          grad_values[k] =
              static_cast<T>(grad_out[k * out_plane + ph * pooled_w + pw]) /
              g.count;
        Lanes<T, CB> grad_bin;
        grad_bin.load(grad_values);
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
              const Lanes<T, CB> gm =
                  kMask ? grad_bin * mvals[point] : grad_bin;
              grad.add(o1, gm * w1);
              grad.add(o2, gm * w2);
              grad.add(o3, gm * w3);
              grad.add(o4, gm * w4);
            }
            if (kMaskGrad) {
              Lanes<T, CB> v1, v2, v3, v4;
              feat.load(o1, v1);
              feat.load(o2, v2);
              feat.load(o3, v3);
              feat.load(o4, v4);
              pgr[point] += lane_sum<CB>(
                  grad_bin * (w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4));
            }
          }
        }
      }
    }
  }
}

// The backward of the channels [c0, c0 + CB) of one image segment, on the
// planes or (packed = true) on packed copies. `first` says that the
// segment's image has not been written to grad_input yet (its planes hold
// garbage).
template <int CB, bool kMask, bool kInputGrad, bool kMaskGrad, typename T,
          typename scalar_t>
void backward_block(const ChunkTables<T, scalar_t>& tables,
                    const ImageSegment& seg, bool packed, bool first,
                    const scalar_t* grad_output, const scalar_t* input,
                    T* grad_input, T* point_grad, PackBuffer<T>& feat_buf,
                    PackBuffer<T>& grad_buf, int64_t c0, int channels,
                    int64_t plane, int pooled_h, int pooled_w) {
  const int64_t offset =
      (static_cast<int64_t>(seg.batch_ind) * channels + c0) * plane;
  if (packed) {
    T* feat = nullptr;
    T* grad = nullptr;
    if (kMaskGrad) {
      feat = feat_buf.get(plane * CB);
      pack_block<CB>(input + offset, plane, feat);
    }
    if (kInputGrad) {
      grad = grad_buf.get(plane * CB);
      std::fill(grad, grad + plane * CB, T(0));
    }
    backward_segment<CB, kMask, kInputGrad, kMaskGrad>(
        tables, seg, InterleavedBlock<CB, T>{feat},
        InterleavedBlock<CB, T>{grad}, grad_output, point_grad, c0, channels,
        pooled_h, pooled_w);
    if (kInputGrad)
      unpack_block<CB>(grad, plane, !first, grad_input + offset);
  } else {
    if (kInputGrad && first)
      std::fill(grad_input + offset, grad_input + offset + CB * plane, T(0));
    backward_segment<CB, kMask, kInputGrad, kMaskGrad>(
        tables, seg,
        planar_block<CB, T>(input, seg.batch_ind, c0, channels, plane),
        planar_block<CB, T>(grad_input, seg.batch_ind, c0, channels, plane),
        grad_output, point_grad, c0, channels, pooled_h, pooled_w);
  }
}

// The backward of the channels [c_begin, c_end) (a mask-gradient group) of
// all segments of a chunk: whole blocks, then the last channels one by one.
template <bool kMask, bool kInputGrad, bool kMaskGrad, typename T,
          typename scalar_t>
void backward_group(const ChunkTables<T, scalar_t>& tables,
                    const std::vector<char>& image_written,
                    const scalar_t* grad_output, const scalar_t* input,
                    T* grad_input, T* point_grad, PackBuffer<T>& feat_buf,
                    PackBuffer<T>& grad_buf, int64_t c_begin, int64_t c_end,
                    int channels, int64_t plane, int pooled_h, int pooled_w) {
  for (const ImageSegment& seg : tables.segments) {
    const bool first = !image_written[seg.batch_ind];
    const bool packed = use_packed_blocks(seg, plane);
    int64_t c = c_begin;
    for (; c + kBlock <= c_end; c += kBlock)
      backward_block<kBlock, kMask, kInputGrad, kMaskGrad>(
          tables, seg, packed, first, grad_output, input, grad_input,
          point_grad, feat_buf, grad_buf, c, channels, plane, pooled_h,
          pooled_w);
    for (; c < c_end; c++)
      backward_block<1, kMask, kInputGrad, kMaskGrad>(
          tables, seg, /*packed=*/false, first, grad_output, input,
          grad_input, point_grad, feat_buf, grad_buf, c, channels, plane,
          pooled_h, pooled_w);
  }
}

// grad_input / grad_masks are in the op-math type T (float for half).
// grad_input is uninitialised: every plane is written exactly once before
// it is accumulated into; grad_masks is zero. masks is null exactly when
// kMask is false, and then so is grad_masks.
template <typename scalar_t, bool kMask>
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
  // images whose grad_input planes hold values (not garbage)
  std::vector<char> image_written(batch_size, 0);

  tables.sort_by_image(rois, num_rois);
  for (int pos = 0; pos < num_rois;) {
    pos = tables.plan(rois, pos, batch_size, spatial_scale, pooled_h,
                      pooled_w, sampling_ratio, aligned, kMask);
    tables.fill(masks, height, width, mask_h, mask_w, pooled_h, pooled_w);
    const int64_t chunk_points = tables.num_points;
    if (grad_masks != nullptr) point_grad.assign(num_groups * chunk_points, 0);

    at::parallel_for(0, num_groups, 1, [&](int64_t g_begin, int64_t g_end) {
      PackBuffer<T> feat_buf, grad_buf;
      for (int64_t group = g_begin; group < g_end; group++) {
        T* pg = grad_masks != nullptr
                    ? point_grad.data() + group * chunk_points
                    : nullptr;
        const int64_t c_begin = group * kChannelsPerGroup;
        const int64_t c_end =
            std::min<int64_t>(c_begin + kChannelsPerGroup, channels);
        // specialised on the mask and on which gradients are needed: no
        // branches inside
        if constexpr (!kMask)
          backward_group<false, true, false>(
              tables, image_written, grad_output, input, grad_input, pg,
              feat_buf, grad_buf, c_begin, c_end, channels, plane, pooled_h,
              pooled_w);
        else if (grad_input != nullptr && pg != nullptr)
          backward_group<true, true, true>(
              tables, image_written, grad_output, input, grad_input, pg,
              feat_buf, grad_buf, c_begin, c_end, channels, plane, pooled_h,
              pooled_w);
        else if (grad_input != nullptr)
          backward_group<true, true, false>(
              tables, image_written, grad_output, input, grad_input, pg,
              feat_buf, grad_buf, c_begin, c_end, channels, plane, pooled_h,
              pooled_w);
        else
          backward_group<true, false, true>(
              tables, image_written, grad_output, input, grad_input, pg,
              feat_buf, grad_buf, c_begin, c_end, channels, plane, pooled_h,
              pooled_w);
      }
    });
    for (const ImageSegment& seg : tables.segments)
      image_written[seg.batch_ind] = 1;

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

  if (grad_input != nullptr) {
    // images without RoIs get no gradient
    for (int b = 0; b < batch_size; b++) {
      if (image_written[b]) continue;
      T* planes = grad_input + static_cast<int64_t>(b) * channels * plane;
      std::fill(planes, planes + channels * plane, T(0));
    }
  }
}

// Asks Linux to back a large, not yet touched output buffer with
// transparent huge pages. Fresh memory is otherwise mapped in on first touch
// one 4 KiB page fault at a time: for the feature gradient of an FPN level
// (2 x 256 x 200 x 304 floats, 124 MB) those 30k faults cost about as much
// as the whole scatter. The same hint as PyTorch's THP_MEM_ALLOC_ENABLE, for
// these buffers only; a no-op where THP is off or not on Linux.
void advise_huge_pages(const Tensor& buffer) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const uintptr_t bytes = buffer.numel() * buffer.element_size();
  if (bytes < 8 * kHugePage) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(buffer.data_ptr());
  const uintptr_t begin = (first + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (first + bytes) & ~(kHugePage - 1);
  if (end > begin)  // a hint: failure changes nothing but the speed
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

// Value checks that mmcv leaves to luck (an out-of-range batch index reads
// out of bounds); on CPU they are cheap, so they raise ValueError. `op`
// names the op in the messages.
template <typename scalar_t>
void check_rois_cpu(const scalar_t* rois, int num_rois, int batch_size,
                    float spatial_scale, bool aligned, const char* op) {
  using T = at::opmath_type<scalar_t>;
  for (int n = 0; n < num_rois; n++) {
    const scalar_t* roi = rois + static_cast<int64_t>(n) * 5;
    for (int j = 0; j < 5; j++) {
      TORCH_CHECK_VALUE(sara::is_finite(static_cast<T>(roi[j])),
                        op, ": rois[", n, "] has a non-finite value");
    }
    const T b = static_cast<T>(roi[0]);
    TORCH_CHECK_VALUE(b >= 0 && b < batch_size && b == static_cast<int>(b),
                      op, ": rois[", n, ", 0] (batch index) = ",
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
          roi_width >= 0 && roi_height >= 0, op, ": rois[", n,
          "] has x2 < x1 or y2 < y1, which aligned=True does not allow "
          "(like mmcv RoIAlign)");
    }
  }
}

}  // namespace

// masks may be undefined: plain RoIAlign (kMask = false kernels).
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
  advise_huge_pages(output);

  const bool with_mask = masks.defined();
  AT_DISPATCH_FLOATING_TYPES_AND_HALF(
      input.scalar_type(), "sa_roi_align_forward_cpu", [&] {
        check_rois_cpu<scalar_t>(rois.data_ptr<scalar_t>(), num_rois,
                                 batch_size, spatial_scale, aligned,
                                 sara::op_name(with_mask));
        const auto kernel =
            with_mask ? sa_roi_align_forward_cpu_kernel<scalar_t, true>
                      : sa_roi_align_forward_cpu_kernel<scalar_t, false>;
        kernel(input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
               with_mask ? masks.data_ptr<scalar_t>() : nullptr,
               output.data_ptr<scalar_t>(), num_rois, batch_size, channels,
               input.size(2), input.size(3), with_mask ? masks.size(1) : 0,
               with_mask ? masks.size(2) : 0, pooled_height, pooled_width,
               spatial_scale, sampling_ratio, aligned);
      });
  return output;
}

// masks may be undefined (plain RoIAlign; needs_masks_grad is then false).
std::vector<Tensor> sa_roi_align_backward_cpu(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const Tensor& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad) {
  // half accumulates in float (opmath type), float / double in themselves
  const at::ScalarType acc_dtype = input.scalar_type() == at::kHalf
                                       ? at::kFloat
                                       : input.scalar_type();
  const int num_rois = rois.size(0);
  const bool run_kernel = num_rois > 0 && input.size(1) > 0 &&
                          (needs_input_grad || needs_masks_grad);
  Tensor grad_input, grad_masks;
  // the kernel writes every element of grad_input (no zero fill needed)
  if (needs_input_grad)
    grad_input = run_kernel ? at::empty(input.sizes(),
                                        input.options().dtype(acc_dtype))
                            : at::zeros(input.sizes(),
                                        input.options().dtype(acc_dtype));
  if (needs_input_grad && run_kernel) advise_huge_pages(grad_input);
  if (needs_masks_grad)
    grad_masks = at::zeros(masks.sizes(), masks.options().dtype(acc_dtype));

  const bool with_mask = masks.defined();
  if (run_kernel) {
    AT_DISPATCH_FLOATING_TYPES_AND_HALF(
        input.scalar_type(), "sa_roi_align_backward_cpu", [&] {
          using acc_t = at::opmath_type<scalar_t>;
          check_rois_cpu<scalar_t>(rois.data_ptr<scalar_t>(), num_rois,
                                   input.size(0), spatial_scale, aligned,
                                   sara::op_name(with_mask));
          const auto kernel =
              with_mask ? sa_roi_align_backward_cpu_kernel<scalar_t, true>
                        : sa_roi_align_backward_cpu_kernel<scalar_t, false>;
          kernel(grad_output.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(),
                 rois.data_ptr<scalar_t>(),
                 with_mask ? masks.data_ptr<scalar_t>() : nullptr,
                 needs_input_grad ? grad_input.data_ptr<acc_t>() : nullptr,
                 needs_masks_grad ? grad_masks.data_ptr<acc_t>() : nullptr,
                 num_rois, input.size(0), input.size(1), input.size(2),
                 input.size(3), with_mask ? masks.size(1) : 0,
                 with_mask ? masks.size(2) : 0, pooled_height, pooled_width,
                 spatial_scale, sampling_ratio, aligned);
        });
  }
  if (needs_input_grad && grad_input.scalar_type() != input.scalar_type())
    grad_input = grad_input.to(input.scalar_type());
  if (needs_masks_grad && grad_masks.scalar_type() != masks.scalar_type())
    grad_masks = grad_masks.to(masks.scalar_type());
  return {grad_input, grad_masks};
}
