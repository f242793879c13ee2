// Sigmoid: 1 / (1 + exp(-x)) (oneDNN eltwise_logistic).
// Any rank; keeps its input's layout. No attributes, no parameters.
#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
Tensor reference(const Node&, const std::vector<Tensor>& in, bool) { return ops::eltwise_reference("sigmoid", in[0]); }
std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return ops::eltwise_compile(b, "sigmoid"); }
}  // namespace

extern const OpDef op_def_sigmoid = {"sigmoid", 1, 1, ops::eltwise_infer, nullptr, nullptr, reference, compile};

}  // namespace nimble
