"""Memory format of the mask heads' convolutions on the CPU.

PyTorch's CPU convolutions (oneDNN) compute in channels-last (NHWC). For a
contiguous (NCHW) input a transposed convolution converts its output back to
NCHW, a full ``aten::copy_`` of the upsampled output (2x2 / stride-2: four
times the input): in a toy MaskPlus training step the DPM's, the QMT
branches' and the upsampling deconvolutions spend about 100 ms of 800 on it
(``benchmark_model.py --profile``). With a channels-last input, convolutions,
deconvolutions, ReLU, concatenation and addition stay channels-last and that
copy is not made. The values are those of the NCHW computation up to float
rounding (same weights, same operators, another summation order inside
oneDNN); the tensors keep their shapes, only their strides differ.

On other devices nothing changes (cuDNN picks its own layouts; mmdet's and
mmcv's CUDA code is written for NCHW).
"""
from typing import Optional

import torch
from torch import Tensor


def cpu_channels_last(x: Optional[Tensor]) -> Optional[Tensor]:
    """``x`` in channels-last memory format if it is a 4-D CPU tensor.

    Args:
        x (Tensor, optional): Features, shape (N, C, H, W).

    Returns:
        Tensor or None: The same values, channels-last strides on the CPU;
        ``x`` itself otherwise (other devices, other ranks, None).
    """
    if x is None or x.device.type != 'cpu' or x.dim() != 4:
        return x
    return x.contiguous(memory_format=torch.channels_last)
