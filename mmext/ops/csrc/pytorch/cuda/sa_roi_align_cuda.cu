// Copyright (c) mmext contributors. All rights reserved.
//
// CUDA launchers of Shape-aware RoIAlign (compiled only with WITH_CUDA, see
// setup.py). Kernels: common/cuda/sa_roi_align_cuda_kernel.cuh.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <vector>

#include "sa_roi_align_cuda_kernel.cuh"

using at::Tensor;
using namespace mmext::sa_roi_align;

Tensor sa_roi_align_forward_cuda(const Tensor& input, const Tensor& rois,
                                 const Tensor& masks, int pooled_height,
                                 int pooled_width, float spatial_scale,
                                 int sampling_ratio, bool aligned) {
  c10::cuda::CUDAGuard device_guard(input.device());
  const int64_t num_rois = rois.size(0);
  const int batch_size = input.size(0);
  const int channels = input.size(1);
  const int height = input.size(2);
  const int width = input.size(3);
  Tensor output = at::empty({num_rois, channels, pooled_height, pooled_width},
                            input.options());
  const int64_t output_size = output.numel();
  if (output_size == 0) return output;  // a launch with 0 blocks is an error

  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND_HALF(
      input.scalar_type(), "sa_roi_align_forward_cuda_kernel", [&] {
        using acc_t = sa_roi_align_acc_t<scalar_t>;
        sa_roi_align_forward_cuda_kernel<scalar_t, acc_t>
            <<<sa_roi_align_get_blocks(output_size), THREADS_PER_BLOCK, 0,
               stream>>>(output_size, input.data_ptr<scalar_t>(),
                         rois.data_ptr<scalar_t>(), masks.data_ptr<scalar_t>(),
                         output.data_ptr<scalar_t>(), batch_size, channels,
                         height, width, masks.size(1), masks.size(2),
                         pooled_height, pooled_width,
                         static_cast<acc_t>(spatial_scale), sampling_ratio,
                         aligned);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return output;
}

std::vector<Tensor> sa_roi_align_backward_cuda(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const Tensor& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad) {
  c10::cuda::CUDAGuard device_guard(input.device());
  const int64_t num_rois = rois.size(0);
  const int batch_size = input.size(0);
  const int channels = input.size(1);
  const int height = input.size(2);
  const int width = input.size(3);
  // half scatters into float buffers (atomics on half lose too much)
  const at::ScalarType acc_dtype = input.scalar_type() == at::kHalf
                                       ? at::kFloat
                                       : input.scalar_type();
  Tensor grad_input, grad_masks;
  if (needs_input_grad)
    grad_input = at::zeros(input.sizes(), input.options().dtype(acc_dtype));
  if (needs_masks_grad)
    grad_masks = at::zeros(masks.sizes(), masks.options().dtype(acc_dtype));

  const int64_t output_size = grad_output.numel();
  const int64_t num_bins = num_rois * pooled_height * pooled_width;
  if (output_size > 0) {
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND_HALF(
        input.scalar_type(), "sa_roi_align_backward_cuda_kernel", [&] {
          using acc_t = sa_roi_align_acc_t<scalar_t>;
          if (needs_input_grad) {
            sa_roi_align_backward_input_cuda_kernel<scalar_t, acc_t>
                <<<sa_roi_align_get_blocks(output_size), THREADS_PER_BLOCK, 0,
                   stream>>>(output_size, grad_output.data_ptr<scalar_t>(),
                             rois.data_ptr<scalar_t>(),
                             masks.data_ptr<scalar_t>(),
                             grad_input.data_ptr<acc_t>(), batch_size,
                             channels, height, width, masks.size(1),
                             masks.size(2), pooled_height, pooled_width,
                             static_cast<acc_t>(spatial_scale),
                             sampling_ratio, aligned);
            C10_CUDA_KERNEL_LAUNCH_CHECK();
          }
          if (needs_masks_grad) {
            sa_roi_align_backward_masks_cuda_kernel<scalar_t, acc_t>
                <<<sa_roi_align_get_blocks(num_bins), THREADS_PER_BLOCK, 0,
                   stream>>>(num_bins, grad_output.data_ptr<scalar_t>(),
                             input.data_ptr<scalar_t>(),
                             rois.data_ptr<scalar_t>(),
                             grad_masks.data_ptr<acc_t>(), batch_size,
                             channels, height, width, masks.size(1),
                             masks.size(2), pooled_height, pooled_width,
                             static_cast<acc_t>(spatial_scale),
                             sampling_ratio, aligned);
            C10_CUDA_KERNEL_LAUNCH_CHECK();
          }
        });
  }
  if (needs_input_grad && grad_input.scalar_type() != input.scalar_type())
    grad_input = grad_input.to(input.scalar_type());
  if (needs_masks_grad && grad_masks.scalar_type() != masks.scalar_type())
    grad_masks = grad_masks.to(masks.scalar_type());
  return {grad_input, grad_masks};
}
