#pragma once
// What every element-wise op file shares: its shape inference and its reference kernel, both
// from the op's traits.scalar. Such an op needs no kernel file: the kernel registry runs it
// on the generic element-wise kernel (kernels/ops/eltwise_op_kernel.cpp).
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

// Same shape as the input, any rank >= 1.
Shape eltwise_infer(const Node& node, const std::vector<Shape>& in);
// traits.scalar over every element.
Tensor eltwise_reference(const Node& node, const std::vector<Tensor>& in, bool training);

}  // namespace nimble::ops
