// Max pooling. attrs: kernel [kh, kw], stride [sh, sw] (default = kernel), padding [ph, pw]
// (default 0; padded positions never win). Keeps its producer's layout.
#include "graph/ops/pool_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::PoolGeometry g = ops::pool_geometry(node, in[0]);
  return {g.n, g.c, g.oh, g.ow};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return ops::pool_reference(ops::pool_geometry(node, in[0].shape()), in[0], ops::PoolKind::max);
}

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) {
  return std::make_unique<ops::PoolKernel>(b, ops::pool_geometry(b.node, b.src_shape[0]), ops::PoolKind::max);
}

}  // namespace

extern const OpDef op_def_max_pool2d = {"max_pool2d", 1, 1, infer, nullptr, nullptr, reference, compile, true};

}  // namespace nimble
