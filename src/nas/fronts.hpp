#pragma once
// Non-dominated sorting under any dominance relation: Pareto domination (pareto.cpp) and constrained
// domination (nsga2.cpp) share it.
#include <cstddef>
#include <functional>
#include <vector>

namespace nimble::nas {

// Rank of each of n items under `dominates(i, j)` (Deb's fast non-dominated sort, O(n^2) calls): 0 for items no
// one dominates, k for items dominated only by items of rank < k.
std::vector<int> ranks_under(size_t n, const std::function<bool(size_t, size_t)>& dominates);

}  // namespace nimble::nas
