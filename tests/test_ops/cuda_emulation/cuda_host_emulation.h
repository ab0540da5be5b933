// Copyright (c) mmext contributors. All rights reserved.
//
// Host emulation of the few CUDA constructs mmext's kernels use, so that the
// kernel header mmext/ops/csrc/common/cuda/sa_roi_align_cuda_kernel.cuh (the
// file nvcc compiles, included unchanged) runs as plain C++ in the CPU test
// suite. Include this header before the kernel header.
//
// * __global__ / __device__ / __host__ disappear, __forceinline__ becomes
//   inline: a kernel is an ordinary function template.
// * blockIdx / threadIdx / blockDim / gridDim are thread_local variables;
//   emulate_launch(grid, block, kernel, args...) stands for
//   kernel<<<grid, block>>>(args...) and calls the kernel once per (block,
//   thread) with the indices set, blocks and threads in order. The kernels'
//   own CUDA_1D_KERNEL_LOOP (grid-stride loop) is used as nvcc sees it.
// * gpuAtomicAdd (ATen/cuda/Atomic.cuh) is a plain read-add-write: threads
//   run one after another, so there is no race to emulate.
//
// What this cannot show: races between real threads, launch limits, the
// device compiler's floating-point contraction (FMA), and the host code of
// the .cu launchers (allocation, dtype dispatch, stream), which the Python
// side of the test mirrors.
#ifndef MMEXT_CUDA_HOST_EMULATION_H
#define MMEXT_CUDA_HOST_EMULATION_H

#if defined(__CUDACC__) || defined(__HIPCC__)
#error "cuda_host_emulation.h is for host compilers only"
#endif

#include <cstdint>
#include <stdexcept>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct dim3 {
  unsigned int x, y, z;
  dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
      : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 blockIdx(0, 0, 0);
inline thread_local dim3 threadIdx(0, 0, 0);
inline thread_local dim3 blockDim(1, 1, 1);
inline thread_local dim3 gridDim(1, 1, 1);

template <typename T>
inline T gpuAtomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}

// kernel<<<grid, block>>>(args...) for 1-D grids and blocks, as the kernels
// are launched. A launch with 0 blocks or threads (or more than CUDA's
// limits) is an error on a GPU, so it throws here.
template <typename Kernel, typename... Args>
void emulate_launch(dim3 grid, dim3 block, Kernel kernel, Args... args) {
  if (grid.x == 0 || block.x == 0 || grid.x > 2147483647u ||
      block.x > 1024u || grid.y != 1 || grid.z != 1 || block.y != 1 ||
      block.z != 1)
    throw std::invalid_argument("invalid CUDA launch configuration");
  gridDim = grid;
  blockDim = block;
  for (unsigned int b = 0; b < grid.x; ++b) {
    blockIdx = dim3(b, 0, 0);
    for (unsigned int t = 0; t < block.x; ++t) {
      threadIdx = dim3(t, 0, 0);
      kernel(args...);
    }
  }
}

#endif  // MMEXT_CUDA_HOST_EMULATION_H
