// qadd's kernel (its semantics and reference: graph/ops/qadd.cpp).
#include "graph/ops/op_util.hpp"
#include "graph/ops/qadd.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class QAddKernel : public Kernel {
 public:
  explicit QAddKernel(KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "qadd '" + b.node.name + "': int8 graphs run inference only");
    ops::check_qparams(b.node);
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

  void forward(dnnl::stream& s, KernelArgs& a) override {
    execute(add_, s,
            {arg(DNNL_ARG_SRC_0, a.src[0]), arg(DNNL_ARG_SRC_1, src1_in_(s, a.src[1])), arg(DNNL_ARG_DST, a.dst)});
  }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  dnnl::binary add_;
  LayoutConverter src1_in_;
};

}  // namespace

std::unique_ptr<Kernel> compile_qadd(KernelBuilder& b) { return std::make_unique<QAddKernel>(b); }

}  // namespace nimble::kernels
