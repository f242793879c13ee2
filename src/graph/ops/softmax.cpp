// Softmax along one axis: dst = exp(x - max) / sum(exp(x - max)).
// attrs: axis (default 1; negative counts from the end). Any rank >= 2. Runs in plain layout.
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

int axis_of(const Node& node, const Shape& s) {
  const int64_t axis = node.attr_int("axis", 1);
  NIMBLE_CHECK(axis >= -s.rank() && axis < s.rank(), "softmax '" + node.name + "': axis " + std::to_string(axis) +
                                                          " is out of range for input " + s.str());
  return int(axis < 0 ? axis + s.rank() : axis);
}

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 2, "softmax '" + node.name + "' needs an input of rank >= 2 (batch first), got " +
                                      in[0].str());
  NIMBLE_CHECK(in[0].numel() > 0, "softmax '" + node.name + "': input " + in[0].str() + " is empty");
  axis_of(node, in[0]);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape& s = in[0].shape();
  const int axis = axis_of(node, s);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < s.rank(); ++d) inner *= s[d];
  const int64_t len = s[axis];
  Tensor dst(s);
  const float* x = in[0].data<float>();  // (outer, len, inner)
  float* y = dst.data<float>();          // (outer, len, inner)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      double mx = x[base];
      for (int64_t k = 1; k < len; ++k) mx = std::max(mx, double(x[base + k * inner]));
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(double(x[base + k * inner]) - mx);
      for (int64_t k = 0; k < len; ++k) y[base + k * inner] = float(std::exp(double(x[base + k * inner]) - mx) / sum);
    }
  return dst;
}

class SoftmaxKernel : public runtime::Kernel {
 public:
  explicit SoftmaxKernel(runtime::KernelBuilder& b) {
    const auto& eng = b.engine;
    const int axis = axis_of(b.node, b.src_shape[0]);
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

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    fwd_.execute(s, {{DNNL_ARG_SRC, src_in_(s, a.src[0])}, {DNNL_ARG_DST, a.dst}});
  }

  // Softmax's backward needs only its output: diff_src = y * (diff_dst - sum(diff_dst * y)).
  void backward(dnnl::stream& s, runtime::KernelArgs& a) override {
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

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<SoftmaxKernel>(b); }

}  // namespace

extern const OpDef op_def_softmax = {"softmax", 1, 1, infer, nullptr, nullptr, reference, compile};

}  // namespace nimble
