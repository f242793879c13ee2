// flatten's kernel (its semantics and reference: graph/ops/flatten.cpp).
#include "kernels/plain_view_kernel.hpp"

namespace nimble::kernels {

std::unique_ptr<Kernel> compile_flatten(KernelBuilder& b) { return std::make_unique<PlainViewKernel>(b); }

}  // namespace nimble::kernels
