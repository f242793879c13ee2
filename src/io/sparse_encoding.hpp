#pragma once
// Bitmask encoding of mostly-zero f32 tensors in checkpoints (pruned weights), so a model file
// shrinks with its sparsity: ceil(n / 8) mask bytes (bit i % 8 of byte i / 8 set when element i is
// stored) followed by the stored elements' IEEE-754 bits, little-endian, in index order. Only +0.0
// counts as zero (-0.0 is stored), so decoding reproduces every bit. Internal to io/.
#include <cstdint>
#include <vector>

#include "nimble/core/tensor.hpp"

namespace nimble::io::detail {

inline uint64_t bitmask_encoded_bytes(uint64_t numel, uint64_t nnz) { return (numel + 7) / 8 + 4 * nnz; }

// The encoding of `t` (f32) when it is at most 3/4 of the dense size, else empty; `nnz` receives
// the stored count.
std::vector<uint8_t> encode_bitmask(const Tensor& t, uint64_t& nnz);

// Decodes into `out` (f32, numel elements); throws Error when the mask's bit count is not `nnz` or
// bits past the last element are set.
void decode_bitmask(const uint8_t* bytes, uint64_t nbytes, uint64_t nnz, Tensor& out);

}  // namespace nimble::io::detail
