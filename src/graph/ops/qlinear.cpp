// Int8 fully connected layer (oneDNN matmul, u8/s8 x s8 -> s32), the int8 form of linear; see
// qconv2d.cpp for the arithmetic, which is the same with (N, I) inputs. Produced by
// quant::quantize; inference only. Scales and bias are read when the Session compiles.
// attrs: out_features, bias (0/1), activation, src_* and dst_* quantization (quant_common.hpp).
// params: weights s8 (O, I), weight_scales f32 (O), bias f32 (O), real-valued.
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "graph/ops/quant_kernel_util.hpp"
#include "kernels/fastest_implementation.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 2, "input (N, features); put a flatten in front");
  const int64_t o = node.attr_int("out_features", 0);
  NIMBLE_CHECK(o > 0 && in[0][1] > 0, "qlinear '" + node.name + "': out_features and input features must be positive");
  qparams(node, "src_", false);
  qparams(node, "dst_", true);
  ops::check_quantized_params(node, {o, in[0][1]});
  return {in[0][0], o};
}

void init_params(Node& node, const std::vector<Shape>& in, Rng&) {
  ops::make_quantized_params(node, {node.attr_int("out_features", 0), in[0][1]});
}

int64_t macs(const Node&, const std::vector<Shape>& in, const Shape& out) { return out.numel() * in[0][1]; }

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape out = infer(node, {in[0].shape()});
  const int64_t n = out[0], o = out[1], i = in[0].shape()[1];
  const QParams sq = qparams(node, "src_", false), dq = qparams(node, "dst_", true);
  NIMBLE_CHECK(in[0].dtype() == sq.dtype, "qlinear '" + node.name + "': input is not " + dtype_name(sq.dtype));
  const int8_t* w = node.param("weights").data.data<int8_t>();       // (O, I)
  const float* ws = node.param("weight_scales").data.data<float>();  // (O)
  ParamPtr bias = node.param_ptr("bias");                            // (O)
  ops::check_weight_scales(node);
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(out, dq.dtype);  // (N, O)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t acc = 0;
      for (int64_t k = 0; k < i; ++k) acc += int64_t(ops::int8_at(in[0], b * i + k) - sq.zero_point) * w[oc * i + k];
      ops::store_value(dst, b * o + oc,
                       ops::requantize(acc, sq.scale * ws[oc], bias ? bias->data.data<float>()[oc] : 0.0f, act, dq));
    }
  return dst;
}

class QLinearKernel : public runtime::Kernel {
 public:
  explicit QLinearKernel(runtime::KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "qlinear '" + b.node.name + "': int8 graphs run inference only");
    const int64_t n = b.src_shape[0][0], i = b.src_shape[0][1], o = b.dst_shape[1];
    const QParams sq = qparams(b.node, "src_", false), dq = qparams(b.node, "dst_", true);
    NIMBLE_CHECK(b.src_desc[0].data_type() == to_dnnl(sq.dtype),
                 "qlinear '" + b.node.name + "': input is not " + dtype_name(sq.dtype));
    const auto& eng = b.engine;
    // matmul computes src (N, I) x weights (I, O): our (O, I) row-major weights, seen transposed.
    const md w_plain({i, o}, dt::s8, tag::ba), w_any({i, o}, dt::s8, tag::any);
    const md src_md({n, i}, to_dnnl(sq.dtype), tag::ab), dst_md({n, o}, to_dnnl(dq.dtype), tag::ab);
    const md bias_md({1, o}, dt::f32, tag::ab);
    epilogue_ = ops::quantized_epilogue(b.node, sq, dq, 1 << 1);
    const dnnl::matmul::desc desc(src_md, w_any, bias_md, dst_md);  // outlives the timing's walk through its kernels
    pd_ = dnnl::matmul::primitive_desc(desc, epilogue_.attr, eng);
    if (b.choose_by_timing) use_fastest_implementation(pd_, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
    matmul_ = dnnl::matmul(pd_);
    src_in_ = LayoutConverter(b.src_desc[0], pd_.src_desc(), eng);
    weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, pd_.weights_desc(), eng);
    bias_ = dnnl::memory(bias_md, eng, epilogue_.bias.raw());
    b.dst_desc = pd_.dst_desc();
  }

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    matmul_.execute(s, {{DNNL_ARG_SRC, src_in_(s, a.src[0])},
                        {DNNL_ARG_WEIGHTS, weights_.get(s)},
                        {DNNL_ARG_BIAS, bias_},
                        {DNNL_ARG_DST, a.dst}});
  }
  void backward(dnnl::stream&, runtime::KernelArgs&) override { runtime::no_backward(node_); }

 private:
  const Node& node_;
  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul matmul_;
  LayoutConverter src_in_;
  ParamMemory weights_;
  ops::QuantizedEpilogue epilogue_;
  dnnl::memory bias_;  // points into epilogue_.bias
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<QLinearKernel>(b); }

}  // namespace

extern const OpDef op_def_qlinear = {"qlinear", 1, 1, infer, init_params, macs, reference, compile, true};

}  // namespace nimble
