// Dynamically quantized linear layer (PyTorch's quantize_dynamic for nn.Linear): s8 weights
// stored, f32 activations quantized on the fly with a scale taken from each batch,
//   src_scale = max |x| over the batch / 127 (1 when x is all zero),   q_x = round(x / src_scale)
//   y         = activation(src_scale * weight_scales[o] * sum q_x q_w + bias[o])     (f32 out)
// so no calibration is needed. Inference only. Produced by quant::convert_dynamic from linear.
// attrs: out_features, bias (0/1), activation. params: weights s8 (O, I), weight_scales f32 (O),
// bias f32 (O).
#include <algorithm>
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 2, "input (N, features); put a flatten in front");
  const int64_t o = node.attr_int("out_features", 0);
  NIMBLE_CHECK(o > 0 && in[0][1] > 0, "dqlinear '" + node.name + "': out_features and input features must be positive");
  ops::check_quantized_params(node, {o, in[0][1]});
  return {in[0][0], o};
}

void init_params(Node& node, const std::vector<Shape>& in, Rng&) {
  ops::make_quantized_params(node, {node.attr_int("out_features", 0), in[0][1]});
}

int64_t macs(const Node&, const std::vector<Shape>& in, const Shape& out) { return out.numel() * in[0][1]; }

float batch_scale(const float* x, int64_t n) {
  float amax = 0;
  // Written with ternaries so that it vectorises (std::fmax's NaN rules keep GCC from it).
#pragma omp parallel for simd reduction(max : amax) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] < 0 ? -x[i] : x[i];
    amax = v > amax ? v : amax;
  }
  return amax > 0 ? amax / 127.0f : 1.0f;
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape out = infer(node, {in[0].shape()});
  const int64_t n = out[0], o = out[1], i = in[0].shape()[1];
  ops::check_weight_scales(node);
  const float* x = in[0].data<float>();                              // (N, I)
  const int8_t* w = node.param("weights").data.data<int8_t>();       // (O, I)
  const float* ws = node.param("weight_scales").data.data<float>();  // (O)
  ParamPtr bias = node.param_ptr("bias");                            // (O)
  const QParams sq{batch_scale(x, n * i), 0, DType::s8};
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(out);  // (N, O)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t acc = 0;
      for (int64_t k = 0; k < i; ++k) acc += int64_t(quantize_value(x[b * i + k], sq)) * w[oc * i + k];
      dst.data<float>()[b * o + oc] =
          ops::requantize(acc, sq.scale * ws[oc], bias ? bias->data.data<float>()[oc] : 0.0f, act, QParams{});
    }
  return dst;
}

class DynamicLinearKernel : public runtime::Kernel {
 public:
  explicit DynamicLinearKernel(runtime::KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "dqlinear '" + b.node.name + "': int8 graphs run inference only");
    const dt in = b.src_desc[0].data_type();
    NIMBLE_CHECK(in == dt::f32 || in == dt::bf16 || in == dt::f16, "dqlinear '" + b.node.name + "' takes a float input");
    ops::check_weight_scales(b.node);
    const int64_t n = b.src_shape[0][0], i = b.src_shape[0][1], o = b.dst_shape[1];
    const auto& eng = b.engine;
    n_ = n * i;
    const md x_plain({n, i}, dt::f32, tag::ab), q_md({n, i}, dt::s8, tag::ab);
    src_in_ = LayoutConverter(b.src_desc[0], x_plain, eng);
    // The batch's scale changes every call: a runtime scale for the quantizing reorder.
    dnnl::primitive_attr qattr;
    qattr.set_output_scales(0, {DNNL_RUNTIME_F32_VAL});
    quantize_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, x_plain, eng, q_md, qattr));
    x_q_ = dnnl::memory(q_md, eng);
    inv_scale_ = dnnl::memory(md({1}, dt::f32, tag::a), eng);

    const md w_plain({i, o}, dt::s8, tag::ba), w_any({i, o}, dt::s8, tag::any), dst_md({n, o}, dt::f32, tag::ab);
    // Runtime output scales keep oneDNN 2.6 on its slower gemm path, so the per-call scales
    // (src_scale * weight_scales[o]) come in as a per-channel multiplier post-op, then the
    // real-valued bias, then the activation.
    dnnl::primitive_attr mattr;
    dnnl::post_ops po;
    po.append_binary(dnnl::algorithm::binary_mul, md({1, o}, dt::f32, tag::ab));
    ParamPtr bias = b.node.param_ptr("bias");
    if (bias) po.append_binary(dnnl::algorithm::binary_add, md({1, o}, dt::f32, tag::ab));
    mattr.set_post_ops(po);
    // The activation runs as its own in-place primitive: as a third post-op after the two binary
    // ones, oneDNN 2.6's brgemm matmul returned garbage for some outputs (seen with relu).
    const std::string act = b.node.attr_str("activation", "none");
    if (act != "none") {
      float alpha, beta;
      const dnnl::algorithm alg = activation_algorithm(act, &alpha, &beta);
      act_ = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, dst_md, alpha, beta), eng));
      has_act_ = true;
    }
    pd_ = dnnl::matmul::primitive_desc(dnnl::matmul::desc(q_md, w_any, dst_md), mattr, eng);
    matmul_ = dnnl::matmul(pd_);
    weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, pd_.weights_desc(), eng);
    if (bias) bias_ = dnnl::memory(md({1, o}, dt::f32, tag::ab), eng, bias->data.raw());
    scales_ = dnnl::memory(md({1, o}, dt::f32, tag::ab), eng);
    o_ = o;
    b.dst_desc = pd_.dst_desc();
  }

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    const dnnl::memory x = src_in_(s, a.src[0]);
    s.wait();
    const float sx = batch_scale(static_cast<const float*>(x.get_data_handle()), n_);
    *static_cast<float*>(inv_scale_.get_data_handle()) = 1.0f / sx;
    const float* ws = node_.param("weight_scales").data.data<float>();
    float* sc = static_cast<float*>(scales_.get_data_handle());
    for (int64_t k = 0; k < o_; ++k) sc[k] = sx * ws[k];
    quantize_.execute(s, {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, x_q_}, {DNNL_ARG_ATTR_OUTPUT_SCALES, inv_scale_}});
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, x_q_},
                                               {DNNL_ARG_WEIGHTS, weights_.get(s)},
                                               {DNNL_ARG_DST, a.dst},
                                               {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, scales_}};
    if (bias_) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1] = bias_;
    matmul_.execute(s, args);
    if (has_act_) act_.execute(s, {{DNNL_ARG_SRC, a.dst}, {DNNL_ARG_DST, a.dst}});
  }
  void backward(dnnl::stream&, runtime::KernelArgs&) override { runtime::no_backward(node_); }

 private:
  const Node& node_;
  int64_t n_ = 0;
  LayoutConverter src_in_;
  dnnl::reorder quantize_;
  int64_t o_ = 0;
  dnnl::memory x_q_, inv_scale_, scales_, bias_;
  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul matmul_;
  ParamMemory weights_;
  bool has_act_ = false;
  dnnl::eltwise_forward act_;
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<DynamicLinearKernel>(b); }

}  // namespace

extern const OpDef op_def_dqlinear = {"dqlinear", 1, 1, infer, init_params, macs, reference, compile};

}  // namespace nimble
