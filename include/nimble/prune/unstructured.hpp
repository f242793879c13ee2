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

// True when each output filter of a conv / linear weight has at most 9 weights (depthwise 3x3, a
// 3x3 stem on one channel, a 1x1 conv over <= 9 channels): per-layer magnitude pruning leaves such
// layers dense.
bool small_filters(const Tensor& weights);

// Zeroes the `sparsity` fraction (of all conv / linear weights) with the smallest magnitudes:
// `layer` prunes every layer except those with small filters at one common rate, so that the
// total comes to `sparsity` up to rounding (every layer at `sparsity` when that rate would pass
// 99.9% or no other layer exists); `global` ranks all weights against one threshold. Every layer
// keeps at least one weight. Ties at a threshold are broken by position so the counts are exact.
Masks magnitude_masks(const Graph& g, double sparsity, Scope scope);

// In every group of M consecutive input channels at one (output channel, kernel position) keeps the
// N largest magnitudes; a tail group shorter than M keeps min(N, its size). Linear rows group
// their input features the same way. Throws Error unless 0 < N <= M <= 64.
Masks nm_masks(const Graph& g, int n, int m);

}  // namespace nimble::prune
