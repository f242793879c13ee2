// batch_norm2d's kernel (its semantics and reference: graph/ops/batch_norm2d.cpp).
#include "graph/ops/batch_norm2d.hpp"
#include "graph/ops/op_util.hpp"
#include "kernels/batch_norm_training.hpp"
#include "kernels/eltwise_kernel.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class BatchNormKernel : public Kernel {
 public:
  explicit BatchNormKernel(KernelBuilder& b) : node_(b.node) {
    const auto& eng = b.engine;
    const Shape& s = b.src_shape[0];
    const int64_t c = s[1];
    eps_ = float(b.node.attr_float("eps", 1e-5));
    momentum_ = b.node.attr_float("momentum", 0.1);
    count_ = s[0] * s[2] * s[3];
    training_ = b.training();
    act_ = b.node.attr_str("activation", "none");
    if (training_) ops::check_batch_stats_possible(b.node, s);
    sync_ = training_ && b.sync_batch_norm;
    for (const char* key : ops::kParamNames)
      NIMBLE_CHECK(b.node.param_ptr(key), "batch_norm2d '" + b.node.name + "' has no parameter " + key);

    const md chan({c}, dt::f32, tag::a);
    if (training_) {
      md own_src = b.src_desc[0];
      std::optional<ChannelBlocks> view = vectorized_view(own_src);
      // bf16 in oneDNN's blocked layout (AVX-512 without AMX, e.g. AMD Zen 4 and 5): there oneDNN's
      // kernels are 2-3x faster than ours on maps of 14x14 and up, even on smaller ones, and agree
      // with a double-precision reference to bf16 rounding as ours do; its fp32 ones there are off
      // by up to 0.66, so fp32 stays with ours (docs/results.md, "oneDNN's batch-norm for bf16 training").
      if (view && !sync_ && b.compute == DType::bf16 && own_src == md(own_src.dims(), dt::bf16, tag::nChw16c))
        view.reset();
      if (!view && sync_) {
        // Synchronised batch-norm runs only in the hand-written kernels: the input goes to
        // channels-last and its gradient comes back to the producer's layout.
        own_src = md(own_src.dims(), own_src.data_type(), tag::nhwc);
        view = vectorized_view(own_src);
        src_in_ = LayoutConverter(b.src_desc[0], own_src, eng);
        diff_src_out_ = LayoutConverter(own_src, b.src_desc[0], eng);
        if (b.need_diff_src[0]) diff_src_scratch_ = dnnl::memory(own_src, eng);
      }
      if (view) {
        // kernels/batch_norm_training.hpp. In bf16 training an fp32 input (from a convolution
        // the precision policy kept in fp32) leaves as bf16, so what follows runs in bf16.
        own_ = view;
        own_src_type_ = own_src.data_type() == dt::bf16 ? DType::bf16 : DType::f32;
        own_dst_type_ = b.compute == DType::bf16 ? DType::bf16 : own_src_type_;
        b.dst_desc = with_dtype(own_src, to_dnnl(own_dst_type_));
        own_mean_.resize(size_t(c));
        own_var_.resize(size_t(c));
        diff_scale_ = dnnl::memory(chan, eng);
        diff_shift_ = dnnl::memory(chan, eng);
        grad_scale_ = ParamMemory(b.node.param_ptr("scale"), chan, chan, eng);
        grad_shift_ = ParamMemory(b.node.param_ptr("shift"), chan, chan, eng);
        return;
      }
    }
    NIMBLE_CHECK(!sync_, "synchronised batch-norm: '" + b.node.name + "' cannot run in the hand-written kernels");
    // Batch-norm runs in whatever layout its producer chose and dst keeps it — unless oneDNN has
    // no jit kernel for that layout: bf16 channels-last with 8 channels (AMX convolutions produce
    // channels-last) fell to "nspc_bnorm:any", many times slower than its blocked jit kernel
    // (docs/results.md, Figures behind code comments).
    md data = b.src_desc[0];
    auto affine = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (act_ == "relu") affine = affine | dnnl::normalization_flags::fuse_norm_relu;
    const auto flags = training_ ? affine : affine | dnnl::normalization_flags::use_global_stats;
    auto prop = training_ ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    auto make_fwd = [&](const md& d) {
      return dnnl::batch_normalization_forward::primitive_desc(
          dnnl::batch_normalization_forward::desc(prop, d, eps_, flags), eng);
    };
    fwd_pd_ = make_fwd(data);
    if (std::string(fwd_pd_.impl_info_str()).find("jit") == std::string::npos) {
      const md blocked(data.dims(), data.data_type(), tag::nChw16c);
      auto alt = make_fwd(blocked);
      if (std::string(alt.impl_info_str()).find("jit") != std::string::npos) {
        fwd_pd_ = alt;
        data = blocked;
      }
    }
    fwd_ = dnnl::batch_normalization_forward(fwd_pd_);
    src_in_ = LayoutConverter(b.src_desc[0], data, eng);
    if (training_) diff_src_out_ = LayoutConverter(data, b.src_desc[0], eng);
    scale_ = ParamMemory(b.node.param_ptr("scale"), chan, chan, eng);
    shift_ = ParamMemory(b.node.param_ptr("shift"), chan, chan, eng);
    if (fwd_pd_.workspace_desc().get_size()) workspace_ = dnnl::memory(fwd_pd_.workspace_desc(), eng);
    b.dst_desc = data;
    if (act_ == "relu6") {  // no fused ReLU6 in oneDNN: the batch-norm writes pre_, an eltwise clamps it into dst
      pre_ = dnnl::memory(data, eng);
      relu6_ = EltwiseKernel("relu6", data, training_, training_, eng);
      if (training_) diff_pre_ = dnnl::memory(data, eng);
    }
    if (!training_) {
      mean_in_ = ParamMemory(b.node.param_ptr("running_mean"), chan, chan, eng);
      var_in_ = ParamMemory(b.node.param_ptr("running_var"), chan, chan, eng);
      return;
    }
    // Batch statistics: written by forward, read by backward and by the running-stat update.
    mean_ = dnnl::memory(fwd_pd_.mean_desc(), eng);
    var_ = dnnl::memory(fwd_pd_.variance_desc(), eng);
    bwd_pd_ = dnnl::batch_normalization_backward::primitive_desc(
        dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, data, data, eps_, affine), eng, fwd_pd_);
    bwd_ = dnnl::batch_normalization_backward(bwd_pd_);
    diff_scale_ = dnnl::memory(chan, eng);
    diff_shift_ = dnnl::memory(chan, eng);
    grad_scale_ = ParamMemory(b.node.param_ptr("scale"), chan, chan, eng);
    grad_shift_ = ParamMemory(b.node.param_ptr("shift"), chan, chan, eng);
    // oneDNN always writes diff_src; give it scratch when nobody wants the input gradient or it
    // must be converted back to the producer's layout.
    if (!b.need_diff_src[0] || diff_src_out_.needed()) diff_src_scratch_ = dnnl::memory(data, eng);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    if (own_) {
      src_ = src_in_(s, a.src[0]);  // itself unless synchronised batch-norm changed its layout
      s.wait();
      kernels::batch_norm_forward_training(own_tensors(), src_.get_data_handle(), a.dst.get_data_handle(),
                                           own_mean_.data(), own_var_.data());
      update_running_stats(own_mean_.data(), own_var_.data());
      return;
    }
    src_ = src_in_(s, a.src[0]);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_},
                                               {DNNL_ARG_DST, pre_ ? pre_ : a.dst},
                                               {DNNL_ARG_SCALE, scale_.get(s)},
                                               {DNNL_ARG_SHIFT, shift_.get(s)}};
    if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
    args[DNNL_ARG_MEAN] = training_ ? mean_ : mean_in_.get(s);
    args[DNNL_ARG_VARIANCE] = training_ ? var_ : var_in_.get(s);
    fwd_.execute(s, args);
    if (pre_) relu6_.forward(s, a.dst, pre_);
    if (!training_) return;
    s.wait();  // the update below reads the statistics on the host
    update_running_stats(static_cast<const float*>(mean_.get_data_handle()),
                         static_cast<const float*>(var_.get_data_handle()));
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (own_) {
      s.wait();
      const bool convert = a.diff_src[0] && diff_src_out_.needed();
      const dnnl::memory diff_src = convert ? diff_src_scratch_ : a.diff_src[0];
      kernels::batch_norm_backward(own_tensors(), src_.get_data_handle(), a.diff_dst.get_data_handle(),
                                   own_mean_.data(), own_var_.data(), diff_src ? diff_src.get_data_handle() : nullptr,
                                   static_cast<float*>(diff_scale_.get_data_handle()),
                                   static_cast<float*>(diff_shift_.get_data_handle()));
      if (convert) diff_src_out_.into(s, diff_src_scratch_, a.diff_src[0]);
      grad_scale_.store_grad(s, diff_scale_);
      grad_shift_.store_grad(s, diff_shift_);
      return;
    }
    dnnl::memory diff_src = a.diff_src[0] && !diff_src_out_.needed() ? a.diff_src[0] : diff_src_scratch_;
    if (pre_) relu6_.backward(s, diff_pre_, pre_, a.diff_dst);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_},
                                               {DNNL_ARG_MEAN, mean_},
                                               {DNNL_ARG_VARIANCE, var_},
                                               {DNNL_ARG_DIFF_DST, pre_ ? diff_pre_ : a.diff_dst},
                                               {DNNL_ARG_SCALE, scale_.get(s)},
                                               {DNNL_ARG_DIFF_SRC, diff_src},
                                               {DNNL_ARG_DIFF_SCALE, diff_scale_},
                                               {DNNL_ARG_DIFF_SHIFT, diff_shift_}};
    // oneDNN 2.6 refuses to execute without SHIFT when use_shift is set, though it does not read it.
    args[DNNL_ARG_SHIFT] = shift_.get(s);
    if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
    bwd_.execute(s, args);
    if (a.diff_src[0] && diff_src_out_.needed()) diff_src_out_.into(s, diff_src, a.diff_src[0]);
    grad_scale_.store_grad(s, diff_scale_);
    grad_shift_.store_grad(s, diff_shift_);
  }

 private:
  kernels::BatchNormTensors own_tensors() const {
    kernels::BatchNormTensors t{*own_,
                                own_src_type_,
                                own_dst_type_,
                                node_.params.at("scale")->data.data<float>(),
                                node_.params.at("shift")->data.data<float>(),
                                eps_};
    if (act_ != "none") t.lower = 0.0f;
    if (act_ == "relu6") t.upper = 6.0f;
    t.synchronized = sync_;
    return t;
  }

  // PyTorch's update: the running variance takes the unbiased batch variance (n / (n - 1)).
  // mean and var (biased) are the batch's, (C) each.
  void update_running_stats(const float* mean, const float* var) {
    Param& rm = *node_.params.at("running_mean");
    Param& rv = *node_.params.at("running_var");
    float* run_mean = rm.data.data<float>();
    float* run_var = rv.data.data<float>();
    const double m = momentum_, unbias = double(count_) / double(count_ - 1);
    for (int64_t ch = 0; ch < rm.data.numel(); ++ch) {
      run_mean[ch] = float((1.0 - m) * run_mean[ch] + m * mean[ch]);
      run_var[ch] = float((1.0 - m) * run_var[ch] + m * var[ch] * unbias);
    }
    rm.touch();
    rv.touch();
  }

  const Node& node_;
  bool sync_ = false;
  float eps_ = 1e-5f;
  double momentum_ = 0.1;
  int64_t count_ = 0;  // values per channel: N * H * W
  bool training_ = false;
  dnnl::batch_normalization_forward::primitive_desc fwd_pd_;
  dnnl::batch_normalization_forward fwd_;
  dnnl::batch_normalization_backward::primitive_desc bwd_pd_;
  dnnl::batch_normalization_backward bwd_;
  ParamMemory scale_, shift_, mean_in_, var_in_, grad_scale_, grad_shift_;
  dnnl::memory mean_, var_, workspace_, diff_scale_, diff_shift_, diff_src_scratch_, src_;
  LayoutConverter src_in_, diff_src_out_;
  std::string act_;
  kernels::EltwiseKernel relu6_;  // oneDNN path: ReLU6 after the batch-norm, which writes pre_
  dnnl::memory pre_, diff_pre_;
  std::optional<kernels::ChannelBlocks> own_;  // set: the hand-written training kernels run
  DType own_src_type_ = DType::f32, own_dst_type_ = DType::f32;
  std::vector<float> own_mean_, own_var_;  // their batch statistics, (C) each
};

}  // namespace

std::unique_ptr<Kernel> compile_batch_norm2d(KernelBuilder& b) { return std::make_unique<BatchNormKernel>(b); }

}  // namespace nimble::kernels
