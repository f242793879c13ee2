// ReLU: max(x, 0); gradient 0 at x <= 0 (PyTorch's convention at 0).
// Any rank; keeps its input's layout. No attributes, no parameters.
#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
Tensor reference(const Node&, const std::vector<Tensor>& in, bool) { return ops::eltwise_reference("relu", in[0]); }
std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return ops::eltwise_compile(b, "relu"); }
}  // namespace

extern const OpDef op_def_relu = {"relu", 1, 1, ops::eltwise_infer, nullptr, nullptr, reference, compile};

}  // namespace nimble
