// Hardswish (MobileNetV3): x * relu6(x + 3) / 6; gradient 0 at x <= -3, 1 at x >= 3.
// Any rank; keeps its input's layout. No attributes, no parameters.
#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
Tensor reference(const Node&, const std::vector<Tensor>& in, bool) { return ops::eltwise_reference("hardswish", in[0]); }
std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return ops::eltwise_compile(b, "hardswish"); }
}  // namespace

extern const OpDef op_def_hardswish = {"hardswish", 1, 1, ops::eltwise_infer, nullptr, nullptr, reference, compile};

}  // namespace nimble
