// max_pool2d's kernel (its semantics and reference: graph/ops/max_pool2d.cpp).
#include "kernels/pool_kernel.hpp"

namespace nimble::kernels {

std::unique_ptr<Kernel> compile_max_pool2d(KernelBuilder& b) {
  return std::make_unique<PoolKernel>(b, ops::pool_geometry(b.node, b.src_shape[0]), PoolKind::max);
}

}  // namespace nimble::kernels
