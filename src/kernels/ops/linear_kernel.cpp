// linear's kernel (its semantics and reference: graph/ops/linear.cpp).
#include "graph/ops/op_util.hpp"
#include "kernels/fastest_implementation.hpp"
#include "kernels/kernel.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::kernels {

namespace {

class LinearKernel : public Kernel {
 public:
  explicit LinearKernel(KernelBuilder& b) : fake_quant_weights_(b.node.attr_int("fake_quant_weights", 0) != 0) {
    const auto& eng = b.engine;
    const int64_t n = b.src_shape[0][0], i = b.src_shape[0][1], o = b.dst_shape[1];
    const std::string act = b.node.attr_str("activation", "none");
    // The fused activation has no backward; fusion is an eval-mode pass.
    NIMBLE_CHECK(!b.training() || act == "none", "linear '" + b.node.name + "' has a fused activation '" + act +
                                                     "', which is inference-only; train the unfused graph");
    md w_plain({o, i}, dt::f32, tag::ab), w_any({o, i}, to_dnnl(b.compute), tag::any);
    md diff_w_any({o, i}, dt::f32, tag::any);  // weight gradients accumulate in fp32
    md src_any = any_desc({n, i}, b.compute), dst_any = any_desc({n, o}, b.compute);
    ParamPtr bias = b.node.param_ptr("bias");
    md bias_md = bias ? md({o}, dt::f32, tag::a) : md();
    auto prop = b.training() ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    auto fd = bias ? dnnl::inner_product_forward::desc(prop, src_any, w_any, bias_md, dst_any)
                   : dnnl::inner_product_forward::desc(prop, src_any, w_any, dst_any);
    fwd_pd_ = dnnl::inner_product_forward::primitive_desc(fd, activation_attr(act), eng);
    if (!b.training() && b.choose_by_timing)
      use_fastest_implementation(fwd_pd_, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
    fwd_ = dnnl::inner_product_forward(fwd_pd_);
    src_in_ = LayoutConverter(b.src_desc[0], fwd_pd_.src_desc(), eng);
    weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, fwd_pd_.weights_desc(), eng);
    if (fake_quant_weights_) weights_.set_transform(fake_quantize_weights);
    if (bias) bias_ = ParamMemory(bias, bias_md, bias_md, eng);
    has_bias_ = bool(bias);
    b.dst_desc = fwd_pd_.dst_desc();
    if (!b.training()) return;

    if (b.need_diff_src[0]) {
      dnnl::inner_product_backward_data::desc dd(src_any, w_any, dst_any);
      bwd_data_pd_ = dnnl::inner_product_backward_data::primitive_desc(dd, eng, fwd_pd_);
      bwd_data_ = dnnl::inner_product_backward_data(bwd_data_pd_);
      weights_for_data_ = weights_for_backward_data(weights_, weights_bwd_, b.node.param_ptr("weights"), w_plain,
                                                    bwd_data_pd_.weights_desc(), eng);
      if (fake_quant_weights_ && weights_for_data_ == &weights_bwd_) weights_bwd_.set_transform(fake_quantize_weights);
      diff_dst_for_data_ = LayoutConverter(b.dst_desc, bwd_data_pd_.diff_dst_desc(), eng);
      diff_src_out_ = LayoutConverter(bwd_data_pd_.diff_src_desc(), b.src_desc[0], eng);
      diff_src_buf_ = diff_src_out_.needed() ? dnnl::memory(bwd_data_pd_.diff_src_desc(), eng) : dnnl::memory();
      has_bwd_data_ = true;
    }
    auto wd = bias ? dnnl::inner_product_backward_weights::desc(src_any, diff_w_any, bias_md, dst_any)
                   : dnnl::inner_product_backward_weights::desc(src_any, diff_w_any, dst_any);
    bwd_w_pd_ = dnnl::inner_product_backward_weights::primitive_desc(wd, eng, fwd_pd_);
    bwd_w_ = dnnl::inner_product_backward_weights(bwd_w_pd_);
    src_for_w_ = LayoutConverter(fwd_pd_.src_desc(), bwd_w_pd_.src_desc(), eng);
    diff_dst_for_w_ = LayoutConverter(b.dst_desc, bwd_w_pd_.diff_dst_desc(), eng);
    grad_w_ = ParamMemory(b.node.param_ptr("weights"), w_plain, bwd_w_pd_.diff_weights_desc(), eng);
    diff_w_ = dnnl::memory(bwd_w_pd_.diff_weights_desc(), eng);
    if (bias) {
      grad_b_ = ParamMemory(bias, bias_md, bwd_w_pd_.diff_bias_desc(), eng);
      diff_b_ = dnnl::memory(bwd_w_pd_.diff_bias_desc(), eng);
    }
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    src_ = src_in_(s, a.src[0]);
    const dnnl::memory bias = has_bias_ ? bias_.get(s) : dnnl::memory();
    execute(fwd_, s,
            {arg(DNNL_ARG_SRC, src_), arg(DNNL_ARG_WEIGHTS, weights_.get(s)), arg(DNNL_ARG_DST, a.dst),
             arg(DNNL_ARG_BIAS, bias)});
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    dnnl::memory src_w = src_for_w_(s, src_);
    dnnl::memory dd_w = diff_dst_for_w_(s, a.diff_dst);
    std::unordered_map<int, dnnl::memory> wargs{
        {DNNL_ARG_SRC, src_w}, {DNNL_ARG_DIFF_DST, dd_w}, {DNNL_ARG_DIFF_WEIGHTS, diff_w_}};
    if (diff_b_) wargs[DNNL_ARG_DIFF_BIAS] = diff_b_;
    bwd_w_.execute(s, wargs);
    grad_w_.store_grad(s, diff_w_);
    if (diff_b_) grad_b_.store_grad(s, diff_b_);
    if (has_bwd_data_ && a.diff_src[0]) {
      dnnl::memory dd = diff_dst_for_data_(s, a.diff_dst);
      dnnl::memory out = diff_src_out_.needed() ? diff_src_buf_ : a.diff_src[0];
      bwd_data_.execute(
          s, {{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_WEIGHTS, weights_for_data_->get(s)}, {DNNL_ARG_DIFF_SRC, out}});
      if (diff_src_out_.needed()) diff_src_out_.into(s, out, a.diff_src[0]);
    }
  }

 private:
  bool has_bias_ = false;
  bool fake_quant_weights_;  // quantization-aware training: int8-rounded weights in forward
  dnnl::inner_product_forward::primitive_desc fwd_pd_;
  dnnl::inner_product_forward fwd_;
  LayoutConverter src_in_;
  ParamMemory weights_, bias_, weights_bwd_, grad_w_, grad_b_;
  ParamMemory* weights_for_data_ = nullptr;  // weights_ itself where backward-data wants its layout
  dnnl::memory src_;
  bool has_bwd_data_ = false;
  dnnl::inner_product_backward_data::primitive_desc bwd_data_pd_;
  dnnl::inner_product_backward_data bwd_data_;
  LayoutConverter diff_dst_for_data_, diff_src_out_;
  dnnl::memory diff_src_buf_;
  dnnl::inner_product_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::inner_product_backward_weights bwd_w_;
  LayoutConverter src_for_w_, diff_dst_for_w_;
  dnnl::memory diff_w_, diff_b_;
};

}  // namespace

std::unique_ptr<Kernel> compile_linear(KernelBuilder& b) { return std::make_unique<LinearKernel>(b); }

}  // namespace nimble::kernels
