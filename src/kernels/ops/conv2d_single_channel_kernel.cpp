#include <limits>

#include "graph/ops/conv_geometry.hpp"
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

}  // namespace

std::unique_ptr<Kernel> compile_single_channel_conv(KernelBuilder& b) {
  const ConvGeometry c = geometry(b.node, b.src_shape[0]);
  const std::string act = b.node.attr_str("activation", "none");
  if (b.compute != DType::bf16 || c.ic != 1 || b.node.inputs.size() != 1 || c.groups != 1 ||
      b.node.attr_int("fake_quant_weights", 0) != 0 || !(b.src_desc[0] == plain_desc(b.src_shape[0])) ||
      (b.training() && b.need_diff_src[0]) || (act != "none" && act != "relu" && act != "relu6"))
    return nullptr;
  const SingleChannelConvGeometry g{c.n, c.ih, c.iw, c.oc, c.oh, c.ow, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw};
  if (!single_channel_conv_supported(g)) return nullptr;
  // nhwc, which AMX convolutions read in place. Where bf16 convolutions run blocked (Zen 4), writing
  // nChw16c instead measured no faster in cnn bf16 training (docs/results.md, Figures behind code comments).
  b.dst_desc = md({c.n, c.oc, c.oh, c.ow}, dt::bf16, tag::nhwc);
  const std::optional<ChannelBlocks> view = vectorized_view(b.dst_desc);
  NIMBLE_ASSERT(view.has_value(), "single-channel conv2d: no vectorized view of its output");
  const float inf = std::numeric_limits<float>::infinity();
  const float lower = act == "none" ? -inf : 0.0f, upper = act == "relu6" ? 6.0f : inf;
  return std::make_unique<SingleChannelConvKernel>(b.node, g, *view, lower, upper);
}

}  // namespace nimble::kernels
