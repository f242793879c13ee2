#include "kernels/registry.hpp"

namespace nimble::kernels {

#define NIMBLE_KERNEL_DECLARE(name) std::unique_ptr<Kernel> compile_##name(KernelBuilder& b);
#define NIMBLE_ELTWISE_DECLARE(name)
NIMBLE_OPS_BY_KERNEL(NIMBLE_KERNEL_DECLARE, NIMBLE_ELTWISE_DECLARE)
#undef NIMBLE_KERNEL_DECLARE
#undef NIMBLE_ELTWISE_DECLARE
std::unique_ptr<Kernel> compile_eltwise(KernelBuilder& b);

namespace {
const CompileFn kKernelTable[] = {
#define NIMBLE_KERNEL_ENTRY(name) compile_##name,
#define NIMBLE_ELTWISE_ENTRY(name) compile_eltwise,
    NIMBLE_OPS_BY_KERNEL(NIMBLE_KERNEL_ENTRY, NIMBLE_ELTWISE_ENTRY)
#undef NIMBLE_KERNEL_ENTRY
#undef NIMBLE_ELTWISE_ENTRY
};
static_assert(sizeof(kKernelTable) / sizeof(kKernelTable[0]) == size_t(kOpCount), "one kernel per OpKind");
}  // namespace

CompileFn kernel_for(OpKind op) {
  NIMBLE_ASSERT(int(op) < kOpCount);
  return kKernelTable[int(op)];
}

}  // namespace nimble::kernels
