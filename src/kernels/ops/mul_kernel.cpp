// mul's kernel (its semantics and reference: graph/ops/mul.cpp): oneDNN binary_mul, with the
// (N, C, 1, 1) gate broadcast by oneDNN itself; the gate's gradient is a product reduced over H, W.
#include "graph/ops/mul.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

dnnl::binary binary_mul(const md& src0, const md& src1, const dnnl::engine& eng) {
  return dnnl::binary(
      dnnl::binary::primitive_desc(dnnl::binary::desc(dnnl::algorithm::binary_mul, src0, src1, src0), eng));
}

class MulKernel : public Kernel {
 public:
  explicit MulKernel(KernelBuilder& b) {
    const auto& eng = b.engine;
    const md& layout = b.src_desc[0];
    // Input 1 in input 0's layout (and dtype). A gate takes input 0's tag too: oneDNN 2.6's jit
    // binary kernel wants both in one tag (nChw16c with an nchw gate falls back to its reference
    // kernel); plain where input 0's layout is none of the usual ones.
    md gate = layout;
    if (ops::mul_broadcasts(b.src_shape[0], b.src_shape[1])) {
      const tag t = usual_tag(layout, b.src_shape[0]);
      gate = md(to_dims(b.src_shape[1]), layout.data_type(), t == tag::undef ? tag::nchw : t);
      broadcast_ = true;
    }
    src1_in_ = LayoutConverter(b.src_desc[1], gate, eng);
    mul_ = binary_mul(layout, gate, eng);
    b.dst_desc = layout;
    if (!b.training() || !b.need_diff_src[1]) return;
    with_diff_src1_ = true;
    if (broadcast_) {
      // diff_src1 = sum over H, W of diff_dst * src0.
      full_mul_ = binary_mul(layout, layout, eng);
      product_ = dnnl::memory(layout, eng);
      sum_hw_ = dnnl::reduction(dnnl::reduction::primitive_desc(
          dnnl::reduction::desc(dnnl::algorithm::reduction_sum, layout, gate, 0.0f, 0.0f), eng));
    }
    diff_to_src1_ = LayoutConverter(gate, b.src_desc[1], eng);
    if (diff_to_src1_.needed()) diff_src1_buf_ = dnnl::memory(gate, eng);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    mul_.execute(s, {{DNNL_ARG_SRC_0, a.src[0]}, {DNNL_ARG_SRC_1, src1_in_(s, a.src[1])}, {DNNL_ARG_DST, a.dst}});
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    // d(x * y)/dx = y: the forward's own primitive, with diff_dst in place of x.
    if (a.diff_src[0])
      mul_.execute(
          s, {{DNNL_ARG_SRC_0, a.diff_dst}, {DNNL_ARG_SRC_1, src1_in_(s, a.src[1])}, {DNNL_ARG_DST, a.diff_src[0]}});
    if (!with_diff_src1_ || !a.diff_src[1]) return;
    // d(x * y)/dy = x, summed over the positions y was broadcast to.
    dnnl::memory out = diff_to_src1_.needed() ? diff_src1_buf_ : a.diff_src[1];
    if (broadcast_) {
      full_mul_.execute(s, {{DNNL_ARG_SRC_0, a.diff_dst}, {DNNL_ARG_SRC_1, a.src[0]}, {DNNL_ARG_DST, product_}});
      sum_hw_.execute(s, {{DNNL_ARG_SRC, product_}, {DNNL_ARG_DST, out}});
    } else {
      mul_.execute(s, {{DNNL_ARG_SRC_0, a.diff_dst}, {DNNL_ARG_SRC_1, a.src[0]}, {DNNL_ARG_DST, out}});
    }
    if (diff_to_src1_.needed()) diff_to_src1_.into(s, out, a.diff_src[1]);
  }

 private:
  bool broadcast_ = false, with_diff_src1_ = false;
  dnnl::binary mul_, full_mul_;
  dnnl::reduction sum_hw_;
  dnnl::memory product_;  // (N, C, H, W) in input 0's layout: diff_dst * src0 before the sum
  dnnl::memory diff_src1_buf_;
  LayoutConverter src1_in_, diff_to_src1_;
};

}  // namespace

std::unique_ptr<Kernel> compile_mul(KernelBuilder& b) { return std::make_unique<MulKernel>(b); }

}  // namespace nimble::kernels
