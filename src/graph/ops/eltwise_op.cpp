#include "graph/ops/eltwise_op.hpp"

namespace nimble::ops {

Shape eltwise_infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 1 && in[0].numel() > 0,
               std::string(op_name(node.op)) + " '" + node.name + "' needs a non-empty input, got " + in[0].str());
  return in[0];
}

Tensor eltwise_reference(const Node& node, const std::vector<Tensor>& in, bool) {
  float (*f)(float) = op_traits(node.op).scalar;
  Tensor dst(in[0].shape());
  const float* x = in[0].data<float>();
  float* y = dst.data<float>();
  for (int64_t i = 0; i < in[0].numel(); ++i) y[i] = f(x[i]);
  return dst;
}

}  // namespace nimble::ops
