// add's kernel (its semantics and reference: graph/ops/add.cpp).
#include "graph/ops/op_util.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class AddKernel : public Kernel {
 public:
  explicit AddKernel(KernelBuilder& b) {
    const auto& eng = b.engine;
    const md& layout = b.src_desc[0];
    src1_in_ = LayoutConverter(b.src_desc[1], layout, eng);
    add_ = dnnl::binary(
        dnnl::binary::primitive_desc(dnnl::binary::desc(dnnl::algorithm::binary_add, layout, layout, layout), eng));
    b.dst_desc = layout;
    if (b.training()) diff_to_src1_ = LayoutConverter(layout, b.src_desc[1], eng);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    execute(add_, s,
            {arg(DNNL_ARG_SRC_0, a.src[0]), arg(DNNL_ARG_SRC_1, src1_in_(s, a.src[1])), arg(DNNL_ARG_DST, a.dst)});
  }

  // d(a + b)/da = d(a + b)/db = 1: both gradients are diff_dst, each in its input's layout.
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (a.diff_src[0])
      std::memcpy(a.diff_src[0].get_data_handle(), a.diff_dst.get_data_handle(), a.diff_dst.get_desc().get_size());
    if (a.diff_src[1]) diff_to_src1_.into(s, a.diff_dst, a.diff_src[1]);
  }

 private:
  dnnl::binary add_;
  LayoutConverter src1_in_, diff_to_src1_;
};

}  // namespace

std::unique_ptr<Kernel> compile_add(KernelBuilder& b) { return std::make_unique<AddKernel>(b); }

}  // namespace nimble::kernels
