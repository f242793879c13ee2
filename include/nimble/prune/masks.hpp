#pragma once
// Pruning masks: which elements of which parameters are held at zero. Every pruning method
// produces masks; the gradual hook re-applies them after each optimizer step so that pruned
// weights stay zero under momentum and weight decay.
#include <map>
#include <string>
#include <vector>

#include "nimble/graph/graph.hpp"

namespace nimble::prune {

// "node.key" (Graph::named_params) -> f32 tensor of the parameter's shape holding 0 or 1.
using Masks = std::map<std::string, Tensor>;

// Sets the masked-out elements of each parameter to +0.0 (and bumps its version so a Session
// re-reads it).
// Throws Error for a mask that names no parameter of `g` or has another shape.
void apply_masks(Graph& g, const Masks& masks);

// The same in two steps, for masks applied after every optimizer step: look the parameters up
// once, then zero them as often as needed.
struct BoundMask {
  ParamPtr param;
  Tensor mask;
};
std::vector<BoundMask> bind_masks(const Graph& g, const Masks& masks);
void apply_masks(const std::vector<BoundMask>& bound);

// Fraction of zeros among the elements of the conv2d / linear weights (what unstructured pruning
// targets), and the count behind it.
struct Sparsity {
  int64_t zeros = 0, total = 0;
  double fraction() const { return total ? double(zeros) / double(total) : 0.0; }
};
Sparsity weight_sparsity(const Graph& g);
Sparsity weight_sparsity(const Node& n);  // one conv2d / linear node; zero total for others

}  // namespace nimble::prune
