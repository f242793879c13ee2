// softmax's kernel (its semantics and reference: graph/ops/softmax.cpp).
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "graph/ops/softmax.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class SoftmaxKernel : public Kernel {
 public:
  explicit SoftmaxKernel(KernelBuilder& b) {
    const auto& eng = b.engine;
    const int axis = ops::axis_of(b.node, b.src_shape[0]);
    // Softmax is cheap next to the layers around it: a plain layout keeps it simple.
    const md plain = plain_desc(b.src_shape[0]);
    auto prop = b.training() ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    fwd_pd_ = dnnl::softmax_forward::primitive_desc(dnnl::softmax_forward::desc(prop, plain, axis), eng);
    fwd_ = dnnl::softmax_forward(fwd_pd_);
    src_in_ = LayoutConverter(b.src_desc[0], plain, eng);
    b.dst_desc = plain;
    if (!b.training() || !b.need_diff_src[0]) return;
    bwd_pd_ = dnnl::softmax_backward::primitive_desc(dnnl::softmax_backward::desc(plain, plain, axis), eng, fwd_pd_);
    bwd_ = dnnl::softmax_backward(bwd_pd_);
    diff_src_out_ = LayoutConverter(plain, b.src_desc[0], eng);
    if (diff_src_out_.needed()) diff_src_buf_ = dnnl::memory(plain, eng);
    has_backward_ = true;
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    fwd_.execute(s, {{DNNL_ARG_SRC, src_in_(s, a.src[0])}, {DNNL_ARG_DST, a.dst}});
  }

  // Softmax's backward needs only its output: diff_src = y * (diff_dst - sum(diff_dst * y)).
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (!has_backward_ || !a.diff_src[0]) return;
    dnnl::memory out = diff_src_out_.needed() ? diff_src_buf_ : a.diff_src[0];
    bwd_.execute(s, {{DNNL_ARG_DST, a.dst}, {DNNL_ARG_DIFF_DST, a.diff_dst}, {DNNL_ARG_DIFF_SRC, out}});
    if (diff_src_out_.needed()) diff_src_out_.into(s, out, a.diff_src[0]);
  }

 private:
  dnnl::softmax_forward::primitive_desc fwd_pd_;
  dnnl::softmax_forward fwd_;
  dnnl::softmax_backward::primitive_desc bwd_pd_;
  dnnl::softmax_backward bwd_;
  LayoutConverter src_in_, diff_src_out_;
  dnnl::memory diff_src_buf_;
  bool has_backward_ = false;
};

}  // namespace

std::unique_ptr<Kernel> compile_softmax(KernelBuilder& b) { return std::make_unique<SoftmaxKernel>(b); }

}  // namespace nimble::kernels
