// qconv2d's kernel (its semantics and reference: graph/ops/qconv2d.cpp).
#include <optional>

#include "graph/ops/conv_geometry.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/fastest_implementation.hpp"
#include "kernels/kernel.hpp"
#include "kernels/ops/conv2d_single_channel_kernel.hpp"
#include "kernels/quantized_epilogue.hpp"

namespace nimble::kernels {

namespace {

using ops::ConvGeometry;

class QConvKernel : public Kernel {
 public:
  explicit QConvKernel(KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "qconv2d '" + b.node.name + "': int8 graphs run inference only");
    const ConvGeometry g = ops::geometry(b.node, b.src_shape[0]);
    const QParams sq = qparams(b.node, "src_", false), dq = qparams(b.node, "dst_", true);
    NIMBLE_CHECK(b.src_desc[0].data_type() == to_dnnl(sq.dtype),
                 "qconv2d '" + b.node.name + "': input is not " + dtype_name(sq.dtype));
    const auto& eng = b.engine;
    dnnl::memory::dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pad{g.ph, g.pw};
    md w_plain = g.groups == 1 ? md({g.oc, g.ic, g.kh, g.kw}, dt::s8, tag::oihw)
                               : md({g.groups, g.oc / g.groups, g.ic / g.groups, g.kh, g.kw}, dt::s8, tag::goihw);
    md w_any(w_plain.dims(), dt::s8, tag::any);
    md src_any = any_desc(b.src_shape[0], sq.dtype), dst_any = any_desc(b.dst_shape, dq.dtype);
    md bias_md({g.oc}, dt::f32, tag::a);
    if (b.node.inputs.size() == 2) {
      residual_ = qparams(b.node, "residual_", false);
      NIMBLE_CHECK(b.src_desc[1].data_type() == to_dnnl(residual_->dtype),
                   "qconv2d '" + b.node.name + "': residual is not " + dtype_name(residual_->dtype));
    }
    epilogue_ = ops::quantized_epilogue(b.node, sq, dq, 1 << 1, residual_ ? &*residual_ : nullptr);
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                       w_any, bias_md, dst_any, strides, dil, pad, pad);
    pd_ = dnnl::convolution_forward::primitive_desc(fd, epilogue_.attr, eng);
    if (b.choose_by_timing) {  // among every kernel for the layouts of oneDNN's first choice
      const dnnl::convolution_forward::desc fixed(dnnl::prop_kind::forward_inference,
                                                  dnnl::algorithm::convolution_direct, pd_.src_desc(), w_any, bias_md,
                                                  pd_.dst_desc(), strides, dil, pad, pad);
      pd_ = dnnl::convolution_forward::primitive_desc(fixed, epilogue_.attr, eng);
      use_fastest_implementation(pd_, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
    }
    conv_ = dnnl::convolution_forward(pd_);
    src_in_ = LayoutConverter(b.src_desc[0], pd_.src_desc(), eng);
    weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, pd_.weights_desc(), eng);
    bias_ = dnnl::memory(bias_md, eng, epilogue_.bias.raw());
    b.dst_desc = pd_.dst_desc();
    if (residual_) {  // copied into dst in dst's layout, keeping its own int8 type (the sum reinterprets it)
      residual_in_ = LayoutConverter(b.src_desc[1], with_dtype(pd_.dst_desc(), to_dnnl(residual_->dtype)), eng);
      dst_as_residual_ = dnnl::memory(residual_in_.to_desc(), eng, DNNL_MEMORY_NONE);
      b.dst_may_share_input = 1;
    }
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    // The sum post-op adds to what dst holds: the residual, unless the session placed dst on it.
    if (residual_ && a.dst.get_data_handle() != a.src[1].get_data_handle()) {
      dst_as_residual_.set_data_handle(a.dst.get_data_handle());
      residual_in_.into(s, a.src[1], dst_as_residual_);
    }
    execute(conv_, s,
            {arg(DNNL_ARG_SRC, src_in_(s, a.src[0])), arg(DNNL_ARG_WEIGHTS, weights_.get(s)), arg(DNNL_ARG_BIAS, bias_),
             arg(DNNL_ARG_DST, a.dst)});
  }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::convolution_forward conv_;
  LayoutConverter src_in_;
  ParamMemory weights_;
  std::optional<QParams> residual_;  // a fused residual input's quantization
  LayoutConverter residual_in_;
  dnnl::memory dst_as_residual_;  // dst's buffer seen in the residual's int8 type
  ops::QuantizedEpilogue epilogue_;
  dnnl::memory bias_;  // points into epilogue_.bias
};

}  // namespace

std::unique_ptr<Kernel> compile_qconv2d(KernelBuilder& b) {
  if (auto stem = compile_single_channel_qconv(b)) return stem;
  return std::make_unique<QConvKernel>(b);
}

}  // namespace nimble::kernels
