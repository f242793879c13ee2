#pragma once
#include <cstdint>

namespace nimble::kernels {

// 2x2, stride-2, unpadded max pooling of int8 values in nhwc: (N, H, W, C) -> (N, H/2, W/2, C),
// an odd last row or column dropped as PyTorch does. oneDNN 2.6's int8 pooling kernel is several
// times slower and was a large share of the int8 cnn's batch-256 time (bench/probes/int8_max_pool.cpp;
// docs/results.md, Int8 kernels).
void max_pool_2x2_nhwc(const uint8_t* src, uint8_t* dst, int64_t n, int64_t h, int64_t w, int64_t c);
void max_pool_2x2_nhwc(const int8_t* src, int8_t* dst, int64_t n, int64_t h, int64_t w, int64_t c);

}  // namespace nimble::kernels
