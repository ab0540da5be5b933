// Copyright (c) mmext contributors. All rights reserved.
//
// Shape-aware RoIAlign: argument checks and device dispatch. The Python
// wrapper (mmext/ops/sa_roi_align.py) already raises TypeError / ValueError
// with friendlier messages; these checks are the safety net for direct calls
// of mmext._ext, so that a bad call raises instead of reading out of bounds.
#include <ATen/ATen.h>

#include <vector>

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

namespace {

void check_sa_roi_align_args(const Tensor& input, const Tensor& rois,
                             const Tensor& masks, int pooled_height,
                             int pooled_width, int sampling_ratio) {
  TORCH_CHECK_VALUE(input.dim() == 4,
                    "sa_roi_align: input must be (N, C, H, W), got ",
                    input.sizes());
  TORCH_CHECK_VALUE(rois.dim() == 2 && rois.size(1) == 5,
                    "sa_roi_align: rois must be (K, 5), got ", rois.sizes());
  TORCH_CHECK_VALUE(masks.dim() == 3 && masks.size(0) == rois.size(0),
                    "sa_roi_align: masks must be (K, Hp, Wp) with K = "
                    "rois.size(0) = ",
                    rois.size(0), ", got ", masks.sizes());
  TORCH_CHECK_VALUE(input.size(2) > 0 && input.size(3) > 0,
                    "sa_roi_align: input height and width must be > 0, got ",
                    input.sizes());
  TORCH_CHECK_VALUE(masks.size(1) > 0 && masks.size(2) > 0,
                    "sa_roi_align: mask height and width must be > 0, got ",
                    masks.sizes());
  TORCH_CHECK_VALUE(pooled_height > 0 && pooled_width > 0,
                    "sa_roi_align: output_size must be positive, got (",
                    pooled_height, ", ", pooled_width, ")");
  TORCH_CHECK_VALUE(sampling_ratio >= 0,
                    "sa_roi_align: sampling_ratio must be >= 0, got ",
                    sampling_ratio);
  TORCH_CHECK_TYPE(input.scalar_type() == at::kFloat ||
                       input.scalar_type() == at::kDouble ||
                       input.scalar_type() == at::kHalf,
                   "sa_roi_align: input must be float16/32/64, got ",
                   input.scalar_type());
  TORCH_CHECK_TYPE(rois.scalar_type() == input.scalar_type() &&
                       masks.scalar_type() == input.scalar_type(),
                   "sa_roi_align: input, rois and masks must have the same "
                   "dtype, got ",
                   input.scalar_type(), ", ", rois.scalar_type(), ", ",
                   masks.scalar_type());
  TORCH_CHECK(rois.device() == input.device() &&
                  masks.device() == input.device(),
              "sa_roi_align: input, rois and masks must be on the same "
              "device, got ",
              input.device(), ", ", rois.device(), ", ", masks.device());
  TORCH_CHECK(input.is_contiguous() && rois.is_contiguous() &&
                  masks.is_contiguous(),
              "sa_roi_align: input, rois and masks must be contiguous");
  // the kernels index with int inside a feature / mask plane
  TORCH_CHECK(input.size(2) * input.size(3) <= INT32_MAX &&
                  masks.size(1) * masks.size(2) <= INT32_MAX,
              "sa_roi_align: feature map or mask too large");
}

}  // namespace

Tensor sa_roi_align_forward(const Tensor& input, const Tensor& rois,
                            const Tensor& masks, int pooled_height,
                            int pooled_width, float spatial_scale,
                            int sampling_ratio, bool aligned) {
  check_sa_roi_align_args(input, rois, masks, pooled_height, pooled_width,
                          sampling_ratio);
  if (input.is_cuda()) {
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
              "sa_roi_align: unsupported device ", input.device());
  return sa_roi_align_forward_cpu(input, rois, masks, pooled_height,
                                  pooled_width, spatial_scale, sampling_ratio,
                                  aligned);
}

std::vector<Tensor> sa_roi_align_backward(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const Tensor& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad) {
  check_sa_roi_align_args(input, rois, masks, pooled_height, pooled_width,
                          sampling_ratio);
  TORCH_CHECK_VALUE(
      grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
          grad_output.size(1) == input.size(1) &&
          grad_output.size(2) == pooled_height &&
          grad_output.size(3) == pooled_width,
      "sa_roi_align: grad_output must be (K, C, out_h, out_w), got ",
      grad_output.sizes());
  TORCH_CHECK_TYPE(grad_output.scalar_type() == input.scalar_type(),
                   "sa_roi_align: grad_output dtype ",
                   grad_output.scalar_type(), " != input dtype ",
                   input.scalar_type());
  TORCH_CHECK(grad_output.device() == input.device(),
              "sa_roi_align: grad_output must be on ", input.device());
  TORCH_CHECK(grad_output.is_contiguous(),
              "sa_roi_align: grad_output must be contiguous");
  if (input.is_cuda()) {
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
              "sa_roi_align: unsupported device ", input.device());
  return sa_roi_align_backward_cpu(grad_output, input, rois, masks,
                                   pooled_height, pooled_width, spatial_scale,
                                   sampling_ratio, aligned, needs_input_grad,
                                   needs_masks_grad);
}
