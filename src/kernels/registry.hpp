#pragma once
// Which kernel runs each op: its own (src/kernels/ops/<op>_kernel.cpp) or, for an element-wise
// op, the generic element-wise kernel. Built from the op list (nimble/graph/op_list.hpp), so an
// op without a kernel is a link error.
#include "kernels/kernel.hpp"

namespace nimble::kernels {

CompileFn kernel_for(OpKind op);

}  // namespace nimble::kernels
