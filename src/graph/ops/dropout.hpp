#pragma once
// What dropout's reference and kernel share: the mask, so that both draw the same one.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

inline float drop_probability(const Node& node) {
  const double p = node.attr_float("p", 0.5);
  NIMBLE_CHECK(p >= 0.0 && p <= 1.0, "dropout '" + node.name + "': p must be in [0, 1], got " + std::to_string(p));
  return float(p);
}

inline float keep_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

// Seed of the node's generator: the `seed` attribute mixed with the node name (FNV-1a, stable
// across platforms) so two dropout layers with the default seed draw different masks.
inline uint64_t generator_seed(const Node& node) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : node.name) h = (h ^ ch) * 0x100000001b3ull;
  return uint64_t(node.attr_int("seed", 0)) ^ h;
}

// Element `i` of the draw with seed `draw`: the i-th output of a splitmix64 stream.
inline bool keep_element(uint64_t draw, uint64_t i, float p) {
  uint64_t z = draw + (i + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const float u = float(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  return u >= p;
}

}  // namespace nimble::ops
