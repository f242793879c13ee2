// quantize's kernel (its semantics and reference: graph/ops/quantize.cpp).
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

// The layout int8 convolutions want: channels-last for images, plain otherwise.
md int8_layout(const Shape& s, dt type) {
  return s.rank() == 4 ? md(to_dims(s), type, tag::acdb) : md(to_dims(s), type, plain_tag(s.rank()));
}

class QuantizeKernel : public Kernel {
 public:
  explicit QuantizeKernel(KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "quantize '" + b.node.name + "': int8 graphs run inference only");
    const dt in = b.src_desc[0].data_type();
    NIMBLE_CHECK(in == dt::f32 || in == dt::bf16 || in == dt::f16,
                 "quantize '" + b.node.name + "' takes a float input");
    const QParams q = qparams(b.node, "", false);
    dnnl::primitive_attr scale;
    scale.set_output_scales(0, {1.0f / q.scale});
    b.dst_desc = int8_layout(b.dst_shape, to_dnnl(q.dtype));
    if (q.zero_point == 0) {
      reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(b.engine, b.src_desc[0], b.engine, b.dst_desc, scale));
      return;
    }
    // oneDNN adds a dst zero point before rounding (rne(x / s + zp)), which differs from
    // rne(x / s) + zp at ties when zp is odd: round first into f32 integers, then shift exactly.
    rounded_ = dnnl::memory(with_dtype(b.dst_desc, dt::f32), b.engine);
    dnnl::primitive_attr round;
    round.set_output_scales(0, {1.0f / q.scale});
    dnnl::primitive_attr shift;
    shift.set_zero_points(DNNL_ARG_DST, 0, {q.zero_point});
    round_ =
        dnnl::reorder(dnnl::reorder::primitive_desc(b.engine, b.src_desc[0], b.engine, rounded_.get_desc(), scale));
    round_to_int_ = dnnl::reorder(dnnl::reorder::primitive_desc(
        b.engine, rounded_.get_desc(), b.engine, with_dtype(b.dst_desc, dt::s32), dnnl::primitive_attr()));
    int_ = dnnl::memory(with_dtype(b.dst_desc, dt::s32), b.engine);
    reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(b.engine, int_.get_desc(), b.engine, b.dst_desc, shift));
  }
  void forward(dnnl::stream& s, KernelArgs& a) override {
    if (!rounded_) return execute(reorder_, s, a.src[0], a.dst);
    execute(round_, s, a.src[0], rounded_);
    execute(round_to_int_, s, rounded_, int_);
    execute(reorder_, s, int_, a.dst);
  }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  dnnl::reorder reorder_, round_, round_to_int_;
  dnnl::memory rounded_, int_;  // only with a zero point
};

}  // namespace

std::unique_ptr<Kernel> compile_quantize(KernelBuilder& b) { return std::make_unique<QuantizeKernel>(b); }

}  // namespace nimble::kernels
