#pragma once
// 2x2, stride-2, unpadded max pooling for training, in fp32 or bf16 (stored as uint16_t), over
// channel-innermost layouts (kernels/channel_blocks.hpp). `g` describes the input; the output is
// (h / 2, w / 2) in the same blocking, an odd last row or column dropped as PyTorch does.
// oneDNN 2.6's forward-training + backward is several times slower than these loops, in fp32 and
// bf16 alike (bench/probes/bn_pool_training.cpp; docs/results.md, Kernels and probes).
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
