// global_avg_pool's kernel (its semantics and reference: graph/ops/global_avg_pool.cpp).
#include "kernels/pool_kernel.hpp"

namespace nimble::kernels {

std::unique_ptr<Kernel> compile_global_avg_pool(KernelBuilder& b) {
  return std::make_unique<PoolKernel>(b, ops::global_pool_geometry(b.node, b.src_shape[0]), PoolKind::avg_exclude_pad);
}

}  // namespace nimble::kernels
