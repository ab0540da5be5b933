// Copyright (c) mmext contributors. All rights reserved.
//
// Python bindings of mmext._ext (mmcv layout: one pybind.cpp declaring the
// device-dispatching entry points of every op).
#include <torch/extension.h>

#include <optional>
#include <vector>

using at::Tensor;

// masks = None: plain RoIAlign (CPU only), see pytorch/sa_roi_align.cpp.
Tensor sa_roi_align_forward(const Tensor& input, const Tensor& rois,
                            const std::optional<Tensor>& masks,
                            int pooled_height, int pooled_width,
                            float spatial_scale, int sampling_ratio,
                            bool aligned);

std::vector<Tensor> sa_roi_align_backward(
    const Tensor& grad_output, const Tensor& input, const Tensor& rois,
    const std::optional<Tensor>& masks, int pooled_height, int pooled_width,
    float spatial_scale, int sampling_ratio, bool aligned,
    bool needs_input_grad, bool needs_masks_grad);

bool with_cuda() {
#ifdef WITH_CUDA
  return true;
#else
  return false;
#endif
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("with_cuda", &with_cuda,
        "whether mmext._ext was compiled with its CUDA kernels");
  m.def("sa_roi_align_forward", &sa_roi_align_forward,
        "Shape-aware RoIAlign forward: returns (K, C, out_h, out_w); "
        "masks=None gives plain RoIAlign (CPU)",
        py::arg("input"), py::arg("rois"), py::arg("masks"),
        py::arg("pooled_height"), py::arg("pooled_width"),
        py::arg("spatial_scale"), py::arg("sampling_ratio"),
        py::arg("aligned"));
  m.def("sa_roi_align_backward", &sa_roi_align_backward,
        "Shape-aware RoIAlign backward: returns [grad_input, grad_masks] "
        "(None where not requested or masks=None)",
        py::arg("grad_output"), py::arg("input"), py::arg("rois"),
        py::arg("masks"), py::arg("pooled_height"), py::arg("pooled_width"),
        py::arg("spatial_scale"), py::arg("sampling_ratio"),
        py::arg("aligned"), py::arg("needs_input_grad"),
        py::arg("needs_masks_grad"));
}
