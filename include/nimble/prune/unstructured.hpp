#pragma once
// Unstructured pruning of conv2d / linear weights: magnitude (per layer or global threshold) and
// N:M patterns (N non-zeros in every M consecutive input channels, as sparse tensor cores use).
#include <string>
#include <vector>

#include "nimble/prune/masks.hpp"

namespace nimble::prune {

enum class Scope { layer, global };
Scope scope_from_name(const std::string& name);  // "layer" | "global"; throws Error otherwise

// The weights unstructured pruning applies to: every conv2d and linear "weights" parameter.
std::vector<std::string> prunable_weights(const Graph& g);

// Zeroes the `sparsity` fraction of smallest-magnitude weights: in each layer (`layer`) or below one
// threshold over all layers (`global`). Every layer keeps at least one weight. Ties at the
// threshold are broken by position so the count is exact.
Masks magnitude_masks(const Graph& g, double sparsity, Scope scope);

// In every group of M consecutive input channels at one (output channel, kernel position) keeps the
// N largest magnitudes; a tail group shorter than M keeps min(N, its size). Linear rows group
// their input features the same way. Throws Error unless 0 < N <= M <= 64.
Masks nm_masks(const Graph& g, int n, int m);

}  // namespace nimble::prune
