// Int8 convolution (oneDNN's u8/s8 x s8 -> s32 kernels: VNNI / AMX), with batch-norm already
// folded in and an activation fused. Produced by quant::quantize from a conv2d; inference only.
//   acc[oc]  = sum (q_src - src_zero_point) * q_weights[oc]          (exact, int32)
//   y        = activation(src_scale * weight_scales[oc] * acc + bias[oc])
//   dst      = y (dst_dtype f32) or saturate(round_half_even(y / dst_scale) + dst_zero_point)
// Scales and bias are read when the Session compiles.
// attrs: conv2d's geometry, bias (0/1), activation, src_scale / src_zero_point / src_dtype,
//        dst_scale / dst_zero_point / dst_dtype ("u8" | "s8" | "f32").
// params: weights s8 (O, I/groups, kh, kw), weight_scales f32 (O), bias f32 (O), real-valued.
#include "graph/ops/conv_geometry.hpp"
#include "graph/ops/quant_common.hpp"
#include "graph/ops/quant_kernel_util.hpp"
#include "kernels/fastest_implementation.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;
using ops::ConvGeometry;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 4, "input (N, C, H, W)");
  const ConvGeometry g = ops::geometry(node, in[0]);
  qparams(node, "src_", false);
  qparams(node, "dst_", true);
  ops::check_quantized_params(node, ops::weights_shape(g));
  return {g.n, g.oc, g.oh, g.ow};
}

void init_params(Node& node, const std::vector<Shape>& in, Rng&) {
  const ConvGeometry g = ops::geometry(node, in[0]);
  ops::make_quantized_params(node, ops::weights_shape(g));
}

int64_t macs(const Node& node, const std::vector<Shape>& in, const Shape& out) {
  const ConvGeometry g = ops::geometry(node, in[0]);
  return out.numel() * (g.ic / g.groups) * g.kh * g.kw;
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const ConvGeometry g = ops::geometry(node, in[0].shape());
  const QParams sq = qparams(node, "src_", false), dq = qparams(node, "dst_", true);
  NIMBLE_CHECK(in[0].dtype() == sq.dtype, "qconv2d '" + node.name + "': input is not " + dtype_name(sq.dtype));
  const int8_t* w = node.param("weights").data.data<int8_t>();          // (OC, IC/G, KH, KW)
  const float* ws = node.param("weight_scales").data.data<float>();     // (OC)
  ParamPtr bias = node.param_ptr("bias");                               // (OC)
  ops::check_weight_scales(node);
  const std::string act = node.attr_str("activation", "none");
  Tensor dst({g.n, g.oc, g.oh, g.ow}, dq.dtype);                       // (N, OC, OH, OW)
  const int64_t icg = g.ic / g.groups, ocg = g.oc / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.oc; ++oc) {
      const int64_t grp = oc / ocg;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          int64_t acc = 0;
          for (int64_t c = 0; c < icg; ++c)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
                if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;  // padding is real zero
                const int32_t x = ops::int8_at(in[0], ((n * g.ic + grp * icg + c) * g.ih + iy) * g.iw + ix);
                acc += int64_t(x - sq.zero_point) * w[((oc * icg + c) * g.kh + ky) * g.kw + kx];
              }
          const float y = ops::requantize(acc, sq.scale * ws[oc], bias ? bias->data.data<float>()[oc] : 0.0f, act, dq);
          ops::store_value(dst, ((n * g.oc + oc) * g.oh + oy) * g.ow + ox, y);
        }
    }
  return dst;
}

class QConvKernel : public runtime::Kernel {
 public:
  explicit QConvKernel(runtime::KernelBuilder& b) : node_(b.node) {
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
    epilogue_ = ops::quantized_epilogue(b.node, sq, dq, 1 << 1);
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                       w_any, bias_md, dst_any, strides, dil, pad, pad);
    pd_ = dnnl::convolution_forward::primitive_desc(fd, epilogue_.attr, eng);
    if (b.choose_by_timing) {  // among every kernel for the layouts of oneDNN's first choice
      const dnnl::convolution_forward::desc fixed(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                  pd_.src_desc(), w_any, bias_md, pd_.dst_desc(), strides, dil, pad, pad);
      pd_ = dnnl::convolution_forward::primitive_desc(fixed, epilogue_.attr, eng);
      use_fastest_implementation(pd_, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
    }
    conv_ = dnnl::convolution_forward(pd_);
    src_in_ = LayoutConverter(b.src_desc[0], pd_.src_desc(), eng);
    weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, pd_.weights_desc(), eng);
    bias_ = dnnl::memory(bias_md, eng, epilogue_.bias.raw());
    b.dst_desc = pd_.dst_desc();
  }

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    conv_.execute(s, {{DNNL_ARG_SRC, src_in_(s, a.src[0])},
                      {DNNL_ARG_WEIGHTS, weights_.get(s)},
                      {DNNL_ARG_BIAS, bias_},
                      {DNNL_ARG_DST, a.dst}});
  }
  void backward(dnnl::stream&, runtime::KernelArgs&) override { runtime::no_backward(node_); }

 private:
  const Node& node_;
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::convolution_forward conv_;
  LayoutConverter src_in_;
  ParamMemory weights_;
  ops::QuantizedEpilogue epilogue_;
  dnnl::memory bias_;  // points into epilogue_.bias
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<QConvKernel>(b); }

}  // namespace

extern const OpDef op_def_qconv2d = {"qconv2d", 1, 1, infer, init_params, macs, reference, compile, true};

}  // namespace nimble
