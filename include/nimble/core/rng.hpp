#pragma once
#include <cstdint>

namespace nimble {

// Explicitly seeded generator (xoshiro256**): the same seed gives the same run.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  float uniform();  // [0, 1)
  float uniform(float lo, float hi);
  float normal();              // standard normal (Box-Muller)
  uint64_t below(uint64_t n);  // [0, n)
  Rng split();                 // an independent child stream

 private:
  uint64_t s_[4];
};

}  // namespace nimble
