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

// The same for qconv2d (kernels/single_channel_conv.hpp's int8 form), in any precision: one input
// channel in plain u8 / s8, ungrouped, no residual, an int8 output written nhwc, ReLU / ReLU6 or
// no activation. oneDNN 2.6's int8 convolution over one input channel took 3.2 us for a 16x28x28
// stem at batch 1 on AMD Zen 5 (its reduction is 9 taps long; VNNI wants multiples of 4 channels).
std::unique_ptr<Kernel> compile_single_channel_qconv(KernelBuilder& b);

}  // namespace nimble::kernels
