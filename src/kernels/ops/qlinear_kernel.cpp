// qlinear's kernel (its semantics and reference: graph/ops/qlinear.cpp).
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/fastest_implementation.hpp"
#include "kernels/int8_pooled_linear.hpp"
#include "kernels/kernel.hpp"
#include "kernels/quantized_epilogue.hpp"
#include "kernels/simd16.hpp"

namespace nimble::kernels {

namespace {

class QLinearKernel : public Kernel {
 public:
  explicit QLinearKernel(KernelBuilder& b) : node_(b.node) {
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
    if (b.choose_by_timing)
      use_fastest_implementation(pd_, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
    matmul_ = dnnl::matmul(pd_);
    src_in_ = LayoutConverter(b.src_desc[0], pd_.src_desc(), eng);
    weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, pd_.weights_desc(), eng);
    bias_ = dnnl::memory(bias_md, eng, epilogue_.bias.raw());
    b.dst_desc = pd_.dst_desc();
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    execute(matmul_, s,
            {arg(DNNL_ARG_SRC, src_in_(s, a.src[0])), arg(DNNL_ARG_WEIGHTS, weights_.get(s)), arg(DNNL_ARG_BIAS, bias_),
             arg(DNNL_ARG_DST, a.dst)});
  }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul matmul_;
  LayoutConverter src_in_;
  ParamMemory weights_;
  ops::QuantizedEpilogue epilogue_;
  dnnl::memory bias_;  // points into epilogue_.bias
};

// qlinear with global_pool: the hand-written head (kernels/int8_pooled_linear.hpp) over the input
// in nhwc, converted to it when its producer wrote another layout.
class PooledQLinearKernel : public Kernel {
 public:
  explicit PooledQLinearKernel(KernelBuilder& b) : node_(b.node) {
    NIMBLE_CHECK(!b.training(), "qlinear '" + b.node.name + "': int8 graphs run inference only");
    const Shape& in = b.src_shape[0];  // (N, C, H, W)
    const QParams sq = qparams(b.node, "src_", false);
    NIMBLE_CHECK(b.src_desc[0].data_type() == to_dnnl(sq.dtype),
                 "qlinear '" + b.node.name + "': input is not " + dtype_name(sq.dtype));
    ops::check_weight_scales(b.node);
    src_in_ = LayoutConverter(b.src_desc[0], md(to_dims(in), to_dnnl(sq.dtype), tag::nhwc), b.engine);
    p_.n = in[0], p_.c = in[1], p_.hw = in[2] * in[3], p_.o = b.dst_shape[1];
    p_.src_zero_point = sq.zero_point;
    p_.weights = b.node.param("weights").data.data<int8_t>();
    const float* ws = b.node.param("weight_scales").data.data<float>();
    for (int64_t o = 0; o < p_.o; ++o) scales_.push_back(sq.scale * ws[o]);
    p_.scales = scales_.data();
    if (ParamPtr bias = b.node.param_ptr("bias")) p_.bias = bias->data.data<float>();
    p_.activation = b.node.attr_str("activation", "none");
    p_.dst = qparams(b.node, "dst_", true);
    scratch_.resize(size_t(2 * p_.c));
    p_.scratch = scratch_.data();
    p_.avx512 = simd16::has_avx512();
    b.dst_desc = plain_desc(b.dst_shape, p_.dst.dtype);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    const dnnl::memory src = src_in_(s, a.src[0]);
    if (src_in_.needed()) s.wait();
    if (src.get_desc().data_type() == dt::u8)
      pooled_linear(static_cast<const uint8_t*>(src.get_data_handle()), a.dst.get_data_handle(), p_);
    else
      pooled_linear(static_cast<const int8_t*>(src.get_data_handle()), a.dst.get_data_handle(), p_);
  }
  void backward(dnnl::stream&, KernelArgs&) override { no_backward(node_); }

 private:
  const Node& node_;
  LayoutConverter src_in_;
  PooledLinear p_;
  std::vector<float> scales_;
  std::vector<int32_t> scratch_;
};

}  // namespace

std::unique_ptr<Kernel> compile_qlinear(KernelBuilder& b) {
  if (b.node.attr_int("global_pool", 0) != 0) return std::make_unique<PooledQLinearKernel>(b);
  return std::make_unique<QLinearKernel>(b);
}

}  // namespace nimble::kernels
