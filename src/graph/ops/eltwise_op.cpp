#include "graph/ops/eltwise_op.hpp"

#include "kernels/eltwise_kernel.hpp"
#include "runtime/kernel.hpp"

namespace nimble::ops {

Shape eltwise_infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 1 && in[0].numel() > 0,
               std::string(op_name(node.op)) + " '" + node.name + "' needs a non-empty input, got " + in[0].str());
  return in[0];
}

Tensor eltwise_reference(const std::string& act, const Tensor& src) {
  Tensor dst(src.shape());
  const float* x = src.data<float>();
  float* y = dst.data<float>();
  for (int64_t i = 0; i < src.numel(); ++i) y[i] = apply_activation(act, x[i]);
  return dst;
}

namespace {
class EltwiseOpKernel : public runtime::Kernel {
 public:
  EltwiseOpKernel(runtime::KernelBuilder& b, const std::string& act)
      : eltwise_(act, b.src_desc[0], b.training(), b.training() && b.need_diff_src[0], b.engine) {
    b.dst_desc = b.src_desc[0];  // elementwise: keep the producer's layout
  }
  void forward(dnnl::stream& s, runtime::KernelArgs& a) override { eltwise_.forward(s, a.dst, a.src[0]); }
  void backward(dnnl::stream& s, runtime::KernelArgs& a) override {
    if (eltwise_.has_backward() && a.diff_src[0]) eltwise_.backward(s, a.diff_src[0], a.src[0], a.diff_dst);
  }

 private:
  kernels::EltwiseKernel eltwise_;
};
}  // namespace

std::unique_ptr<runtime::Kernel> eltwise_compile(runtime::KernelBuilder& b, const std::string& act) {
  return std::make_unique<EltwiseOpKernel>(b, act);
}

}  // namespace nimble::ops
