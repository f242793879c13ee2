// qlinear's kernel (its semantics and reference: graph/ops/qlinear.cpp).
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/fastest_implementation.hpp"
#include "kernels/kernel.hpp"
#include "kernels/quantized_epilogue.hpp"

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

}  // namespace

std::unique_ptr<Kernel> compile_qlinear(KernelBuilder& b) { return std::make_unique<QLinearKernel>(b); }

}  // namespace nimble::kernels
