// Global average pooling: (N, C, H, W) -> (N, C, 1, 1), a oneDNN average pooling whose window is
// the whole image. Keeps its producer's layout.
#include "graph/ops/pool_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::PoolGeometry g = ops::global_pool_geometry(node, in[0]);
  return {g.n, g.c, 1, 1};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return ops::pool_reference(ops::global_pool_geometry(node, in[0].shape()), in[0], ops::PoolKind::avg_exclude_pad);
}

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) {
  return std::make_unique<ops::PoolKernel>(b, ops::global_pool_geometry(b.node, b.src_shape[0]),
                                           ops::PoolKind::avg_exclude_pad);
}

}  // namespace

extern const OpDef op_def_global_avg_pool = {"global_avg_pool", 1, 1, infer, nullptr, nullptr, reference, compile, true};

}  // namespace nimble
