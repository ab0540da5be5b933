// Copyright (c) mmext contributors. All rights reserved.
//
// Shape-aware RoIAlign: argument checks and device dispatch. The Python
// wrappers (mmext/ops/sa_roi_align.py, roi_align.py) already raise TypeError
// / ValueError with friendlier messages; these checks are the safety net for
// direct calls of mmext._ext, so that a bad call raises instead of reading
// out of bounds. `masks` is optional: without it the CPU kernels compute
// plain RoIAlign (mmext's MMExtRoIAlign).
#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include "sa_roi_align_kernel.h"

using at::Tensor;

Tensor sa_roi_align_forward_cpu(const Tensor& input, const Tensor& rois,
                                const Tensor& masks, int pooled_height,
                                int pooled_width, float spatial_scale,
                                int sampling_ratio, bool aligned);

std::vector<Tensor> sa_roi_align_backward_cpu(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const Tensor& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad);

#ifdef WITH_CUDA
Tensor sa_roi_align_forward_cuda(const Tensor& input, const Tensor& rois,
                                 const Tensor& masks, int pooled_height,
                                 int pooled_width, float spatial_scale,
                                 int sampling_ratio, bool aligned);

std::vector<Tensor> sa_roi_align_backward_cuda(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const Tensor& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad);
#endif

namespace mmext_sa = mmext::sa_roi_align;

namespace {

// `masks` may be undefined (mmext's plain RoIAlign).
void check_sa_roi_align_args(const Tensor& input, const Tensor& rois,
                             const Tensor& masks, int pooled_height,
                             int pooled_width, int sampling_ratio) {
  const bool with_mask = masks.defined();
  const char* op = mmext_sa::op_name(with_mask);
  TORCH_CHECK_VALUE(input.dim() == 4, op,
                    ": input must be (N, C, H, W), got ", input.sizes());
  TORCH_CHECK_VALUE(rois.dim() == 2 && rois.size(1) == 5, op,
                    ": rois must be (K, 5), got ", rois.sizes());
  TORCH_CHECK_VALUE(input.size(2) > 0 && input.size(3) > 0, op,
                    ": input height and width must be > 0, got ",
                    input.sizes());
  TORCH_CHECK_VALUE(pooled_height > 0 && pooled_width > 0, op,
                    ": output_size must be positive, got (", pooled_height,
                    ", ", pooled_width, ")");
  TORCH_CHECK_VALUE(sampling_ratio >= 0, op,
                    ": sampling_ratio must be >= 0, got ", sampling_ratio);
  TORCH_CHECK_TYPE(input.scalar_type() == at::kFloat ||
                       input.scalar_type() == at::kDouble ||
                       input.scalar_type() == at::kHalf,
                   op, ": input must be float16/32/64, got ",
                   input.scalar_type());
  TORCH_CHECK_TYPE(rois.scalar_type() == input.scalar_type(), op,
                   ": input and rois must have the same dtype, got ",
                   input.scalar_type(), ", ", rois.scalar_type());
  TORCH_CHECK(rois.device() == input.device(), op,
              ": input and rois must be on the same device, got ",
              input.device(), ", ", rois.device());
  TORCH_CHECK(input.is_contiguous() && rois.is_contiguous(), op,
              ": input and rois must be contiguous");
  // the kernels index with int inside a feature / mask plane
  TORCH_CHECK(input.size(2) * input.size(3) <= INT32_MAX, op,
              ": feature map too large");
  if (!with_mask) return;
  TORCH_CHECK_VALUE(masks.dim() == 3 && masks.size(0) == rois.size(0),
                    "sa_roi_align: masks must be (K, Hp, Wp) with K = "
                    "rois.size(0) = ",
                    rois.size(0), ", got ", masks.sizes());
  TORCH_CHECK_VALUE(masks.size(1) > 0 && masks.size(2) > 0,
                    "sa_roi_align: mask height and width must be > 0, got ",
                    masks.sizes());
  TORCH_CHECK_TYPE(masks.scalar_type() == input.scalar_type(),
                   "sa_roi_align: input, rois and masks must have the same "
                   "dtype, got ",
                   input.scalar_type(), ", ", rois.scalar_type(), ", ",
                   masks.scalar_type());
  TORCH_CHECK(masks.device() == input.device(),
              "sa_roi_align: input, rois and masks must be on the same "
              "device, got ",
              input.device(), ", ", rois.device(), ", ", masks.device());
  TORCH_CHECK(masks.is_contiguous(),
              "sa_roi_align: input, rois and masks must be contiguous");
  TORCH_CHECK(masks.size(1) * masks.size(2) <= INT32_MAX,
              "sa_roi_align: mask too large");
}

// mmext has no mask-free CUDA kernel: on CUDA, MMExtRoIAlign runs mmcv's.
void check_cuda_has_mask(const Tensor& masks) {
  TORCH_CHECK(masks.defined(),
              "mmext_roi_align: mmext has no CUDA kernel of the mask-free "
              "RoIAlign; mmext.ops.MMExtRoIAlign calls mmcv.ops.roi_align "
              "for CUDA tensors");
}

}  // namespace

Tensor sa_roi_align_forward(const Tensor& input, const Tensor& rois,
                            const std::optional<Tensor>& masks_opt,
                            int pooled_height, int pooled_width,
                            float spatial_scale, int sampling_ratio,
                            bool aligned) {
  const Tensor masks = masks_opt.value_or(Tensor());
  check_sa_roi_align_args(input, rois, masks, pooled_height, pooled_width,
                          sampling_ratio);
  if (input.is_cuda()) {
    check_cuda_has_mask(masks);
#ifdef WITH_CUDA
    return sa_roi_align_forward_cuda(input, rois, masks, pooled_height,
                                     pooled_width, spatial_scale,
                                     sampling_ratio, aligned);
#else
    TORCH_CHECK(false,
                "sa_roi_align: mmext._ext was built without CUDA; rebuild "
                "it with a CUDA toolkit and a CUDA build of torch "
                "(pip install --no-build-isolation -e .)");
#endif
  }
  TORCH_CHECK(input.device().is_cpu(),
              mmext_sa::op_name(masks.defined()), ": unsupported device ",
              input.device());
  return sa_roi_align_forward_cpu(input, rois, masks, pooled_height,
                                  pooled_width, spatial_scale, sampling_ratio,
                                  aligned);
}

std::vector<Tensor> sa_roi_align_backward(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const std::optional<Tensor>& masks_opt, int pooled_height,
    int pooled_width, float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad) {
  const Tensor masks = masks_opt.value_or(Tensor());
  check_sa_roi_align_args(input, rois, masks, pooled_height, pooled_width,
                          sampling_ratio);
  const char* op = mmext_sa::op_name(masks.defined());
  TORCH_CHECK_VALUE(masks.defined() || !needs_masks_grad, op,
                    ": needs_masks_grad without masks");
  TORCH_CHECK_VALUE(
      grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
          grad_output.size(1) == input.size(1) &&
          grad_output.size(2) == pooled_height &&
          grad_output.size(3) == pooled_width,
      op, ": grad_output must be (K, C, out_h, out_w), got ",
      grad_output.sizes());
  TORCH_CHECK_TYPE(grad_output.scalar_type() == input.scalar_type(),
                   op, ": grad_output dtype ",
                   grad_output.scalar_type(), " != input dtype ",
                   input.scalar_type());
  TORCH_CHECK(grad_output.device() == input.device(),
              op, ": grad_output must be on ", input.device());
  TORCH_CHECK(grad_output.is_contiguous(),
              op, ": grad_output must be contiguous");
  if (input.is_cuda()) {
    check_cuda_has_mask(masks);
#ifdef WITH_CUDA
    return sa_roi_align_backward_cuda(
        grad_output, input, rois, masks, pooled_height, pooled_width,
        spatial_scale, sampling_ratio, aligned, needs_input_grad,
        needs_masks_grad);
#else
    TORCH_CHECK(false,
                "sa_roi_align: mmext._ext was built without CUDA; rebuild "
                "it with a CUDA toolkit and a CUDA build of torch "
                "(pip install --no-build-isolation -e .)");
#endif
  }
  TORCH_CHECK(input.device().is_cpu(),
              mmext_sa::op_name(masks.defined()), ": unsupported device ",
              input.device());
  return sa_roi_align_backward_cpu(grad_output, input, rois, masks,
                                   pooled_height, pooled_width, spatial_scale,
                                   sampling_ratio, aligned, needs_input_grad,
                                   needs_masks_grad);
}
