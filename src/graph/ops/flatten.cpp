// Flatten: (N, d1, d2, ...) -> (N, d1 * d2 * ...) in plain row-major order (PyTorch's
// flatten(start_dim=1)). The output is plain whatever layout the input came in.
#include "graph/ops/op_util.hpp"
#include "graph/ops/reshape_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 2, "flatten '" + node.name + "': needs an input (N, ...) of rank 2 or more, got " +
                                      in[0].str());
  int64_t features = 1;
  for (int d = 1; d < in[0].rank(); ++d) features *= in[0][d];
  return {in[0][0], features};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return in[0].clone().reshaped(infer(node, {in[0].shape()}));
}

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<ops::PlainViewKernel>(b); }

}  // namespace

extern const OpDef op_def_flatten = {"flatten", 1, 1, infer, nullptr, nullptr, reference, compile, true};

}  // namespace nimble
