#pragma once
// Zhu & Gupta (2017), "To prune, or not to prune": sparsity rises as a cubic from `initial` at step
// `begin` to `target` at step `end` and stays there:
//   s(t) = target + (initial - target) * (1 - (t - begin) / (end - begin))^3.
// Masks are recomputed every `every` steps within the ramp (and once at `end`).
#include <cstdint>

namespace nimble::prune {

struct CubicSchedule {
  double initial = 0.0, target = 0.5;
  int64_t begin = 0, end = 1000, every = 50;
  double at(int64_t step) const;
  bool is_update_step(int64_t step) const;  // in [begin, end], on the `every` grid or at `end`
};

}  // namespace nimble::prune
