// ReLU6: min(max(x, 0), 6) as oneDNN clip_v2; gradient 0 at x <= 0 and x >= 6, like PyTorch.
// Any rank; keeps its input's layout. No attributes, no parameters.
#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
Tensor reference(const Node&, const std::vector<Tensor>& in, bool) { return ops::eltwise_reference("relu6", in[0]); }
std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return ops::eltwise_compile(b, "relu6"); }
}  // namespace

extern const OpDef op_def_relu6 = {"relu6", 1, 1, ops::eltwise_infer, nullptr, nullptr, reference, compile};

}  // namespace nimble
