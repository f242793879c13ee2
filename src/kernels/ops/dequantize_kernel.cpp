// dequantize's kernel (its semantics and reference: graph/ops/dequantize.cpp).
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class DequantizeKernel : public Kernel {
 public:
  explicit DequantizeKernel(KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "dequantize '" + b.node.name + "': int8 graphs run inference only");
    const QParams q = qparams(b.node, "", false);
    NIMBLE_CHECK(b.src_desc[0].data_type() == to_dnnl(q.dtype),
                 "dequantize '" + b.node.name + "': input is not " + dtype_name(q.dtype));
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {q.scale});
    if (q.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {q.zero_point});
    b.dst_desc = with_dtype(b.src_desc[0], dt::f32);  // same layout; the consumer reorders if it must
    reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(b.engine, b.src_desc[0], b.engine, b.dst_desc, attr));
  }
  void forward(dnnl::stream& s, KernelArgs& a) override { execute(reorder_, s, a.src[0], a.dst); }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  dnnl::reorder reorder_;
};

}  // namespace

std::unique_ptr<Kernel> compile_dequantize(KernelBuilder& b) { return std::make_unique<DequantizeKernel>(b); }

}  // namespace nimble::kernels
