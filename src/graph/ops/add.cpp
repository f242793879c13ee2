// Elementwise sum of two same-shaped inputs (residual connections). The output keeps input 0's
// layout; input 1 is reordered to it only when its producer chose a different one.
#include "graph/ops/op_util.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0] == in[1], "add '" + node.name + "': inputs must have the same shape, got " + in[0].str() +
                                   " and " + in[1].str());
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  infer(node, {in[0].shape(), in[1].shape()});
  Tensor dst(in[0].shape());
  const float* a = in[0].data<float>();  // (N, ...)
  const float* b = in[1].data<float>();  // (N, ...)
  float* d = dst.data<float>();          // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) d[i] = a[i] + b[i];
  return dst;
}

class AddKernel : public runtime::Kernel {
 public:
  explicit AddKernel(runtime::KernelBuilder& b) {
    const auto& eng = b.engine;
    const md& layout = b.src_desc[0];
    src1_in_ = LayoutConverter(b.src_desc[1], layout, eng);
    add_ = dnnl::binary(dnnl::binary::primitive_desc(
        dnnl::binary::desc(dnnl::algorithm::binary_add, layout, layout, layout), eng));
    b.dst_desc = layout;
    if (b.training()) diff_to_src1_ = LayoutConverter(layout, b.src_desc[1], eng);
  }

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    add_.execute(s, {{DNNL_ARG_SRC_0, a.src[0]}, {DNNL_ARG_SRC_1, src1_in_(s, a.src[1])}, {DNNL_ARG_DST, a.dst}});
  }

  // d(a + b)/da = d(a + b)/db = 1: both gradients are diff_dst, each in its input's layout.
  void backward(dnnl::stream& s, runtime::KernelArgs& a) override {
    if (a.diff_src[0])
      std::memcpy(a.diff_src[0].get_data_handle(), a.diff_dst.get_data_handle(), a.diff_dst.get_desc().get_size());
    if (a.diff_src[1]) diff_to_src1_.into(s, a.diff_dst, a.diff_src[1]);
  }

 private:
  dnnl::binary add_;
  LayoutConverter src1_in_, diff_to_src1_;
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<AddKernel>(b); }

}  // namespace

extern const OpDef op_def_add = {"add", 2, 2, infer, nullptr, nullptr, reference, compile};

}  // namespace nimble
