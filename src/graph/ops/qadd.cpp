// Int8 residual sum: dst = activation(src0_scale * q0 + src1_scale * q1), stored as f32 or
// quantized with dst_* (quant_common.hpp). oneDNN binary with per-input scales; its int8 inputs
// take no zero points, so both must have zero point 0 (the quantizer's symmetric activations).
// attrs: src0_*, src1_*, dst_* quantization, activation ("none"). Inference only.
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

void check_qparams(const Node& node) {
  const QParams a = qparams(node, "src0_", false), b = qparams(node, "src1_", false);
  qparams(node, "dst_", true);
  NIMBLE_CHECK(a.zero_point == 0 && b.zero_point == 0, "qadd '" + node.name + "': inputs need zero point 0");
}

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0] == in[1], "qadd '" + node.name + "': inputs must have the same shape, got " + in[0].str() +
                                   " and " + in[1].str());
  check_qparams(node);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  infer(node, {in[0].shape(), in[1].shape()});
  const QParams a = qparams(node, "src0_", false), b = qparams(node, "src1_", false);
  const QParams d = qparams(node, "dst_", true);
  NIMBLE_CHECK(in[0].dtype() == a.dtype && in[1].dtype() == b.dtype, "qadd '" + node.name + "': input dtypes differ from its attributes");
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(in[0].shape(), d.dtype);  // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) {
    const float y = ops::apply_activation(act, a.scale * float(ops::int8_at(in[0], i)) + b.scale * float(ops::int8_at(in[1], i)));
    ops::store_value(dst, i, d.dtype == DType::f32 ? y : float(quantize_value(y, d)));
  }
  return dst;
}

class QAddKernel : public runtime::Kernel {
 public:
  explicit QAddKernel(runtime::KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "qadd '" + b.node.name + "': int8 graphs run inference only");
    check_qparams(b.node);
    const QParams qa = qparams(b.node, "src0_", false), qb = qparams(b.node, "src1_", false);
    const QParams qd = qparams(b.node, "dst_", true);
    NIMBLE_CHECK(b.src_desc[0].data_type() == to_dnnl(qa.dtype) && b.src_desc[1].data_type() == to_dnnl(qb.dtype),
                 "qadd '" + b.node.name + "': input dtypes differ from its attributes");
    const auto& eng = b.engine;
    const md& layout = b.src_desc[0];
    const md src1 = with_dtype(layout, to_dnnl(qb.dtype));  // input 1 in input 0's layout, own dtype
    src1_in_ = LayoutConverter(b.src_desc[1], src1, eng);
    b.dst_desc = with_dtype(layout, to_dnnl(qd.dtype));
    // As qconv2d: scales to real values, the activation, then 1 / dst_scale (post-op scale).
    const std::string act = b.node.attr_str("activation", "none");
    const float inv_dst = qd.dtype == DType::f32 ? 1.0f : 1.0f / qd.scale;
    const float post = act == "none" ? inv_dst : 1.0f;
    dnnl::primitive_attr attr;
    attr.set_scales(DNNL_ARG_SRC_0, 0, {qa.scale * post});
    attr.set_scales(DNNL_ARG_SRC_1, 0, {qb.scale * post});
    if (act != "none") {
      float alpha, beta;
      const dnnl::algorithm alg = activation_algorithm(act, &alpha, &beta);
      dnnl::post_ops po;
      po.append_eltwise(inv_dst, alg, alpha, beta);
      attr.set_post_ops(po);
    }
    NIMBLE_CHECK(qd.dtype == DType::f32 || qd.zero_point == 0, "qadd '" + b.node.name + "': dst needs zero point 0");
    add_ = dnnl::binary(dnnl::binary::primitive_desc(
        dnnl::binary::desc(dnnl::algorithm::binary_add, layout, src1, b.dst_desc), attr, eng));
  }

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    add_.execute(s, {{DNNL_ARG_SRC_0, a.src[0]}, {DNNL_ARG_SRC_1, src1_in_(s, a.src[1])}, {DNNL_ARG_DST, a.dst}});
  }
  void backward(dnnl::stream&, runtime::KernelArgs&) override { runtime::no_backward(node_); }

 private:
  const Node& node_;
  dnnl::binary add_;
  LayoutConverter src1_in_;
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<QAddKernel>(b); }

}  // namespace

extern const OpDef op_def_qadd = {"qadd", 2, 2, infer, nullptr, nullptr, reference, compile, true};

}  // namespace nimble
