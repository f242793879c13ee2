#pragma once
// 2x2, stride-2, unpadded max pooling for training, in fp32 or bf16 (stored as uint16_t), over
// channel-innermost layouts (kernels/channel_blocks.hpp). `g` describes the input; the output is
// (h / 2, w / 2) in the same blocking, an odd last row or column dropped as PyTorch does.
// oneDNN 2.6 takes 2.9-4.1 ms for forward-training + backward over 128x32x28x28 on the
// development machine, in fp32 and in bf16 alike; these loops take 0.52-0.79 ms
// (bench/probes/bn_pool_training.cpp).
#include <cstdint>

#include "kernels/channel_blocks.hpp"

namespace nimble::kernels {

// Writes the window maxima and, per output value, which of the four won (0 top-left, 1 top-right,
// 2 bottom-left, 3 bottom-right; the first in that order on ties).
void max_pool_2x2_forward(const float* src, float* dst, uint8_t* argmax, const ChannelBlocks& g);
void max_pool_2x2_forward(const uint16_t* src, uint16_t* dst, uint8_t* argmax, const ChannelBlocks& g);
// Routes each output gradient to its window's winner; every other input position gets zero.
void max_pool_2x2_backward(const float* diff_dst, const uint8_t* argmax, float* diff_src, const ChannelBlocks& g);
void max_pool_2x2_backward(const uint16_t* diff_dst, const uint8_t* argmax, uint16_t* diff_src, const ChannelBlocks& g);

}  // namespace nimble::kernels
