// Average pooling. attrs: kernel [kh, kw], stride [sh, sw] (default = kernel), padding [ph, pw]
// (default 0), count_include_pad (default 1 like PyTorch: padded zeros count in the divisor).
// Keeps its producer's layout.
#include "graph/ops/pool_common.hpp"

namespace nimble {
namespace {

ops::PoolKind kind_of(const Node& node) {
  return node.attr_int("count_include_pad", 1) ? ops::PoolKind::avg_include_pad : ops::PoolKind::avg_exclude_pad;
}

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::PoolGeometry g = ops::pool_geometry(node, in[0]);
  return {g.n, g.c, g.oh, g.ow};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return ops::pool_reference(ops::pool_geometry(node, in[0].shape()), in[0], kind_of(node));
}

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) {
  return std::make_unique<ops::PoolKernel>(b, ops::pool_geometry(b.node, b.src_shape[0]), kind_of(b.node));
}

}  // namespace

extern const OpDef op_def_avg_pool2d = {"avg_pool2d", 1, 1, infer, nullptr, nullptr, reference, compile, true};

}  // namespace nimble
