#pragma once
// conv2d over a one-channel input (a grey-image stem) on the hand-written kernel
// (kernels/single_channel_conv.hpp). Internal: conv2d's compile hook asks here first.
#include <memory>

#include "kernels/kernel.hpp"

namespace nimble::kernels {

// The kernel for this layer where it applies, else null (the layer then runs on oneDNN in fp32):
// the session computes convolutions in bf16 (the kernel stores bf16 nhwc, which oneDNN 2.6
// cannot do from an fp32 convolution; in fp32 oneDNN's own kernel is as fast or faster,
// bench/probes/single_channel_conv.cpp), one input channel, ungrouped, the session's plain fp32
// input as src (so no input gradient), no fused activation other than ReLU/ReLU6, no
// fake-quantized weights, and the kernel runs here for the geometry.
std::unique_ptr<Kernel> compile_single_channel_conv(KernelBuilder& b);

}  // namespace nimble::kernels
