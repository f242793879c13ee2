#include <limits>
#include <vector>

#include "graph/ops/conv_geometry.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/ops/conv2d_single_channel_kernel.hpp"
#include "kernels/single_channel_conv.hpp"

namespace nimble::kernels {
namespace {

using ops::ConvGeometry;
using ops::ensure_grad;
using ops::geometry;

class SingleChannelConvKernel : public Kernel {
 public:
  SingleChannelConvKernel(const Node& node, const SingleChannelConvGeometry& g, const ChannelBlocks& view, float lower,
                          float upper)
      : node_(node), g_(g), view_(view), lower_(lower), upper_(upper) {}

  void forward(dnnl::stream&, KernelArgs& a) override {
    src_ = static_cast<const float*>(a.src[0].get_data_handle());
    ParamPtr bias = node_.param_ptr("bias");
    single_channel_conv_forward(src_, node_.params.at("weights")->data.data<float>(),
                                bias ? bias->data.data<float>() : nullptr, a.dst.get_data_handle(), true, view_, g_,
                                lower_, upper_);
  }

  void backward(dnnl::stream&, KernelArgs& a) override {
    NIMBLE_ASSERT(src_, "conv2d backward before forward");
    ParamPtr w = node_.params.at("weights"), bias = node_.param_ptr("bias");
    ensure_grad(w);
    ensure_grad(bias);
    single_channel_conv_backward_weights(src_, a.diff_dst.get_data_handle(), true, view_, g_, w->grad.data<float>(),
                                         bias ? bias->grad.data<float>() : nullptr);
  }

 private:
  const Node& node_;
  SingleChannelConvGeometry g_;
  ChannelBlocks view_;
  float lower_, upper_;
  const float* src_ = nullptr;  // the session's input of the last forward
};

// qconv2d's int8 form: reads the u8 / s8 image, writes u8 / s8 nhwc.
class SingleChannelQConvKernel : public Kernel {
 public:
  SingleChannelQConvKernel(const Node& node, const SingleChannelConvGeometry& g, const QParams& src_q,
                           const QParams& dst_q, float lower, float upper)
      : node_(node),
        g_(g),
        src_q_(src_q),
        dst_q_(dst_q),
        view_{g.n, 1, g.oh, g.ow, g.oc},
        lower_(lower),
        upper_(upper) {
    // Real weights and bias: the int8 weights times their channel's scale and the input's.
    const Tensor& w = node.param("weights").data;  // (OC, 1, KH, KW) s8
    const float* ws = node.param("weight_scales").data.data<float>();
    const int64_t taps = g.kh * g.kw;
    weights_.resize(size_t(g.oc * taps));
    for (int64_t o = 0; o < g.oc; ++o)
      for (int64_t t = 0; t < taps; ++t)
        weights_[size_t(o * taps + t)] = float(w.data<int8_t>()[o * taps + t]) * ws[o] * src_q.scale;
    if (ParamPtr bias = node.param_ptr("bias")) bias_.assign(bias->data.data<float>(), bias->data.data<float>() + g.oc);
  }

  void forward(dnnl::stream&, KernelArgs& a) override {
    single_channel_qconv_forward(a.src[0].get_data_handle(), src_q_, weights_.data(),
                                 bias_.empty() ? nullptr : bias_.data(), a.dst.get_data_handle(), dst_q_, view_, g_,
                                 lower_, upper_);
  }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  SingleChannelConvGeometry g_;
  QParams src_q_, dst_q_;
  ChannelBlocks view_;
  float lower_, upper_;
  std::vector<float> weights_, bias_;
};

// The clamp of a fused activation the kernels take (none, ReLU, ReLU6), or false.
bool clamp_of(const std::string& act, float* lower, float* upper) {
  const float inf = std::numeric_limits<float>::infinity();
  *lower = act == "none" ? -inf : 0.0f;
  *upper = act == "relu6" ? 6.0f : inf;
  return act == "none" || act == "relu" || act == "relu6";
}

// The layout a bf16 3x3 convolution over the stem's output reads here: nhwc where oneDNN runs
// them channels-last (AMX), nChw16c where it runs them blocked (AVX-512 without AMX, e.g. Zen 4
// and 5). Writing the other one cost a reorder each way per training step around resnet's stem
// and kept its batch-norm off oneDNN's blocked bf16 kernel (docs/results.md, "oneDNN's
// batch-norm for bf16 training").
md layout_of_next_convolution(const ConvGeometry& c) {
  const dnnl::memory::dims dims{c.n, c.oc, c.oh, c.ow};
  const md nhwc(dims, dt::bf16, tag::nhwc), blocked(dims, dt::bf16, tag::nChw16c);
  if (c.oc % 16 != 0) return nhwc;
  try {
    const md any(dims, dt::bf16, tag::any), w({c.oc, c.oc, 3, 3}, dt::bf16, tag::any);
    const dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, any, w,
                                        any, {1, 1}, {1, 1}, {1, 1}),
        cpu_engine());
    return pd.src_desc() == blocked ? blocked : nhwc;
  } catch (const dnnl::error&) {
    return nhwc;
  }
}

}  // namespace

std::unique_ptr<Kernel> compile_single_channel_qconv(KernelBuilder& b) {
  const ConvGeometry c = geometry(b.node, b.src_shape[0]);
  const QParams src_q = qparams(b.node, "src_", false), dst_q = qparams(b.node, "dst_", true);
  float lower = 0, upper = 0;
  if (b.training() || c.ic != 1 || c.groups != 1 || b.node.inputs.size() != 1 || dst_q.dtype == DType::f32 ||
      !clamp_of(b.node.attr_str("activation", "none"), &lower, &upper) ||
      !(b.src_desc[0] == md({c.n, c.ic, c.ih, c.iw}, to_dnnl(src_q.dtype), tag::nchw)))
    return nullptr;
  const SingleChannelConvGeometry g{c.n, c.ih, c.iw, c.oc, c.oh, c.ow, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw};
  if (!single_channel_conv_supported(g)) return nullptr;
  b.dst_desc = md({c.n, c.oc, c.oh, c.ow}, to_dnnl(dst_q.dtype), tag::nhwc);  // what oneDNN's int8 convolutions read
  return std::make_unique<SingleChannelQConvKernel>(b.node, g, src_q, dst_q, lower, upper);
}

std::unique_ptr<Kernel> compile_single_channel_conv(KernelBuilder& b) {
  const ConvGeometry c = geometry(b.node, b.src_shape[0]);
  const std::string act = b.node.attr_str("activation", "none");
  float lower = 0, upper = 0;
  if (b.compute != DType::bf16 || c.ic != 1 || b.node.inputs.size() != 1 || c.groups != 1 ||
      b.node.attr_int("fake_quant_weights", 0) != 0 || !(b.src_desc[0] == plain_desc(b.src_shape[0])) ||
      (b.training() && b.need_diff_src[0]) || !clamp_of(act, &lower, &upper))
    return nullptr;
  const SingleChannelConvGeometry g{c.n, c.ih, c.iw, c.oc, c.oh, c.ow, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw};
  if (!single_channel_conv_supported(g)) return nullptr;
  b.dst_desc = layout_of_next_convolution(c);
  const std::optional<ChannelBlocks> view = vectorized_view(b.dst_desc);
  NIMBLE_ASSERT(view.has_value(), "single-channel conv2d: no vectorized view of its output");
  return std::make_unique<SingleChannelConvKernel>(b.node, g, *view, lower, upper);
}

}  // namespace nimble::kernels
