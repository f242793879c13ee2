#pragma once
// A 4-D activation whose channels are innermost within blocks: element (b, channel cb * block + i,
// y, x) lives at (((b * blocks + cb) * h + y) * w + x) * block + i. nhwc is one block of all C
// channels; oneDNN's nChw16c is blocks of 16. The hand-written training kernels walk this view.
#include <dnnl.hpp>

#include <cstdint>
#include <optional>

namespace nimble::kernels {

struct ChannelBlocks {
  int64_t n = 0, blocks = 0, h = 0, w = 0, block = 0;
  int64_t channels() const { return blocks * block; }
  int64_t slabs() const { return n * blocks; }  // (b, cb) pairs, each h * w * block values
  int64_t slab_size() const { return h * w * block; }
  int64_t numel() const { return slabs() * slab_size(); }
  // Index of element (b, channel c, y, x).
  int64_t offset(int64_t b, int64_t c, int64_t y, int64_t x) const {
    return (((b * blocks + c / block) * h + y) * w + x) * block + c % block;
  }
};

// The view of `d` when it is an fp32 or bf16 nhwc tensor, or nChw16c with whole 16-channel
// blocks, and the CPU has AVX-512: where the hand-written training kernels run vectorized (max
// pooling also needs whole groups of 16 channels; their headers give the speeds against oneDNN).
// nullopt otherwise: their plain loops would be much slower than oneDNN.
std::optional<ChannelBlocks> vectorized_view(const dnnl::memory::desc& d);

}  // namespace nimble::kernels
