#pragma once
// Hooks shared by the activation ops (relu, relu6, hardswish, sigmoid): each op file only names
// its activation. The runtime kernel is kernels::EltwiseKernel, in the layout of its input.
#include <memory>
#include <string>

#include "graph/ops/op_util.hpp"
#include "runtime/kernel.hpp"

namespace nimble::ops {

// Same shape as the input, any rank >= 1.
Shape eltwise_infer(const Node& node, const std::vector<Shape>& in);
// Plain loop over every element with ops::apply_activation.
Tensor eltwise_reference(const std::string& act, const Tensor& src);
std::unique_ptr<runtime::Kernel> eltwise_compile(runtime::KernelBuilder& b, const std::string& act);

}  // namespace nimble::ops
