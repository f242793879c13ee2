// dqlinear's kernel (its semantics and reference: graph/ops/dqlinear.cpp).
#include <algorithm>
#include <cmath>

#include "graph/ops/dqlinear.hpp"
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class DynamicLinearKernel : public Kernel {
 public:
  explicit DynamicLinearKernel(KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "dqlinear '" + b.node.name + "': int8 graphs run inference only");
    const dt in = b.src_desc[0].data_type();
    NIMBLE_CHECK(in == dt::f32 || in == dt::bf16 || in == dt::f16,
                 "dqlinear '" + b.node.name + "' takes a float input");
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

  void forward(dnnl::stream& s, KernelArgs& a) override {
    const dnnl::memory x = src_in_(s, a.src[0]);
    s.wait();
    const float sx = ops::batch_scale(static_cast<const float*>(x.get_data_handle()), n_);
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
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

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

}  // namespace

std::unique_ptr<Kernel> compile_dqlinear(KernelBuilder& b) { return std::make_unique<DynamicLinearKernel>(b); }

}  // namespace nimble::kernels
