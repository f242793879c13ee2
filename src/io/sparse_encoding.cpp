#include "io/sparse_encoding.hpp"

#include <cstring>

#include "nimble/core/error.hpp"

namespace nimble::io::detail {

namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
}  // namespace

std::vector<uint8_t> encode_bitmask(const Tensor& t, uint64_t& nnz) {
  NIMBLE_ASSERT(t.dtype() == DType::f32);
  const uint64_t n = uint64_t(t.numel());
  const float* p = t.data<float>();
  nnz = 0;
  for (uint64_t i = 0; i < n; ++i) nnz += bits_of(p[i]) != 0;
  const uint64_t size = bitmask_encoded_bytes(n, nnz);
  if (n == 0 || size * 4 > n * 4 * 3) return {};
  std::vector<uint8_t> out(size, 0);
  uint8_t* values = out.data() + (n + 7) / 8;
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t u = bits_of(p[i]);
    if (u == 0) continue;
    out[i / 8] |= uint8_t(1u << (i % 8));
    for (int b = 0; b < 4; ++b) *values++ = uint8_t(u >> (8 * b));
  }
  return out;
}

void decode_bitmask(const uint8_t* bytes, uint64_t nbytes, uint64_t nnz, Tensor& out) {
  NIMBLE_ASSERT(out.dtype() == DType::f32);
  const uint64_t n = uint64_t(out.numel()), mask_bytes = (n + 7) / 8;
  NIMBLE_CHECK(nbytes == bitmask_encoded_bytes(n, nnz), "bitmask encoding: size does not match the element count");
  uint64_t set = 0;
  for (uint64_t i = 0; i < mask_bytes; ++i) set += uint64_t(__builtin_popcount(bytes[i]));
  NIMBLE_CHECK(set == nnz,
               "bitmask encoding: the mask has " + std::to_string(set) + " bits set but nnz is " + std::to_string(nnz));
  NIMBLE_CHECK(n % 8 == 0 || (bytes[mask_bytes - 1] >> (n % 8)) == 0,
               "bitmask encoding: bits set past the last element");
  const uint8_t* values = bytes + mask_bytes;
  float* dst = out.data<float>();
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t u = 0;
    if (bytes[i / 8] & (1u << (i % 8))) {
      for (int b = 0; b < 4; ++b) u |= uint32_t(*values++) << (8 * b);
    }
    std::memcpy(dst + i, &u, 4);
  }
}

}  // namespace nimble::io::detail
