// Dequantize: u8/s8 -> f32, x = scale * (q - zero_point) (quant_common.hpp), where an int8 region
// of a graph meets a float one: before a layer kept in float, and at the graph output.
// attrs: scale, zero_point, dtype (the input's, "u8" | "s8"). Inference only.
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  qparams(node, "", false);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const QParams q = qparams(node, "", false);
  NIMBLE_CHECK(in[0].dtype() == q.dtype, "dequantize '" + node.name + "': input is " + dtype_name(in[0].dtype()) +
                                             ", expected " + dtype_name(q.dtype));
  Tensor dst(in[0].shape());
  float* y = dst.data<float>();  // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) y[i] = dequantize_value(ops::int8_at(in[0], i), q);
  return dst;
}

class DequantizeKernel : public runtime::Kernel {
 public:
  explicit DequantizeKernel(runtime::KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "dequantize '" + b.node.name + "': int8 graphs run inference only");
    const QParams q = qparams(b.node, "", false);
    NIMBLE_CHECK(b.src_desc[0].data_type() == to_dnnl(q.dtype), "dequantize '" + b.node.name + "': input is not " +
                                                                     dtype_name(q.dtype));
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {q.scale});
    if (q.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {q.zero_point});
    b.dst_desc = with_dtype(b.src_desc[0], dt::f32);  // same layout; the consumer reorders if it must
    reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(b.engine, b.src_desc[0], b.engine, b.dst_desc, attr));
  }
  void forward(dnnl::stream& s, runtime::KernelArgs& a) override { reorder_.execute(s, a.src[0], a.dst); }
  void backward(dnnl::stream&, runtime::KernelArgs&) override { runtime::no_backward(node_); }

 private:
  const Node& node_;
  dnnl::reorder reorder_;
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<DequantizeKernel>(b); }

}  // namespace

extern const OpDef op_def_dequantize = {"dequantize", 1, 1, infer, nullptr, nullptr, reference, compile, true};

}  // namespace nimble
