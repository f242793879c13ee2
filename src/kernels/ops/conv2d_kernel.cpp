// conv2d's kernel (its semantics and reference: graph/ops/conv2d.cpp).
#include <optional>
#include <utility>

#include "graph/ops/conv_geometry.hpp"
#include "graph/ops/op_util.hpp"
#include "kernels/depthwise_backward_weights.hpp"
#include "kernels/fastest_implementation.hpp"
#include "kernels/kernel.hpp"
#include "kernels/ops/conv2d_single_channel_kernel.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::kernels {

namespace {

using ops::ConvGeometry;
using ops::geometry;
using ops::weights_shape;

// The matmul a x b (+ bias) -> c, unless oneDNN has only its reference kernel for it.
std::optional<dnnl::matmul::primitive_desc> fast_matmul(const md& a, const md& b, const md& bias, const md& c,
                                                        const dnnl::primitive_attr& attr, const dnnl::engine& eng) {
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, bias, c), attr, eng);
    if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return std::nullopt;
    return pd;
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

class ConvKernel : public Kernel {
 public:
  explicit ConvKernel(KernelBuilder& b)
      : node_(b.node),
        fake_quant_weights_(b.node.attr_int("fake_quant_weights", 0) != 0),
        residual_(b.node.inputs.size() == 2) {
    NIMBLE_CHECK(!residual_ || !b.training(),
                 "conv2d '" + b.node.name + "': a fused residual input is for inference sessions only");
    const ConvGeometry g = geometry(b.node, b.src_shape[0]);
    const auto& eng = b.engine;
    dnnl::memory::dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pad{g.ph, g.pw};
    // PyTorch's (O, I/G, KH, KW) is oneDNN's goihw when grouped.
    md w_plain = g.groups == 1 ? md({g.oc, g.ic, g.kh, g.kw}, dt::f32, tag::oihw)
                               : md({g.groups, g.oc / g.groups, g.ic / g.groups, g.kh, g.kw}, dt::f32, tag::goihw);
    md w_any = md(w_plain.dims(), to_dnnl(b.compute), tag::any);
    md diff_w_any = md(w_plain.dims(), dt::f32, tag::any);  // weight gradients accumulate in fp32
    md src_any = any_desc(b.src_shape[0], b.compute), dst_any = any_desc(b.dst_shape, b.compute);
    if (keep_depthwise_in_nhwc(b, g, w_any)) {
      src_any = md(to_dims(b.src_shape[0]), to_dnnl(b.compute), tag::nhwc);
      dst_any = md(to_dims(b.dst_shape), to_dnnl(b.compute), tag::nhwc);
    }
    ParamPtr bias = b.node.param_ptr("bias");
    md bias_md = bias ? md({g.oc}, dt::f32, tag::a) : md();
    auto prop = b.training() ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::convolution_forward::desc fd(prop, dnnl::algorithm::convolution_direct, src_any, w_any, bias_md, dst_any,
                                       strides, dil, pad, pad);
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(fd, post_ops(b), eng);
    // Training's backward primitives take the forward as their hint: only inference re-chooses,
    // among every kernel for the layouts oneDNN's first choice negotiated (with `any` layouts each
    // kernel would come with its own).
    if (!b.training() && b.choose_by_timing) {
      const dnnl::convolution_forward::desc fixed(prop, dnnl::algorithm::convolution_direct, fwd_pd_.src_desc(), w_any,
                                                  bias_md, fwd_pd_.dst_desc(), strides, dil, pad, pad);
      fwd_pd_ = dnnl::convolution_forward::primitive_desc(fixed, post_ops(b), eng);
      use_fastest_implementation(fwd_pd_, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
    }
    src_in_ = LayoutConverter(b.src_desc[0], fwd_pd_.src_desc(), eng);
    if (residual_) {
      residual_in_ = LayoutConverter(b.src_desc[1], fwd_pd_.dst_desc(), eng);
      b.dst_may_share_input = 1;
    }
    if (use_matmul_forward(b, g)) {
      weights_ =
          ParamMemory(b.node.param_ptr("weights"), w_plain, with_dtype(w_plain, fwd_pd_.src_desc().data_type()), eng);
    } else {
      fwd_ = dnnl::convolution_forward(fwd_pd_);
      weights_ = ParamMemory(b.node.param_ptr("weights"), w_plain, fwd_pd_.weights_desc(), eng);
    }
    if (fake_quant_weights_) weights_.set_transform(fake_quantize_weights);
    if (bias) bias_ = ParamMemory(bias, bias_md, bias_md, eng);
    b.dst_desc = fwd_pd_.dst_desc();
    if (!b.training()) return;

    if (b.need_diff_src[0]) {
      dnnl::convolution_backward_data::desc dd(dnnl::algorithm::convolution_direct, src_any, w_any, dst_any, strides,
                                               dil, pad, pad);
      bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(dd, eng, fwd_pd_);
      has_bwd_data_ = true;
      const bool matmul = use_matmul_backward_data(b, g);
      if (!matmul) {
        bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd_);
        diff_dst_for_data_ = LayoutConverter(b.dst_desc, bwd_data_pd_.diff_dst_desc(), eng);
        diff_src_out_ = LayoutConverter(bwd_data_pd_.diff_src_desc(), b.src_desc[0], eng);
        diff_src_buf_ = diff_src_out_.needed() ? dnnl::memory(bwd_data_pd_.diff_src_desc(), eng) : dnnl::memory();
      }
      const md data_w = matmul ? with_dtype(w_plain, fwd_pd_.src_desc().data_type()) : bwd_data_pd_.weights_desc();
      weights_for_data_ =
          weights_for_backward_data(weights_, weights_bwd_, b.node.param_ptr("weights"), w_plain, data_w, eng);
      if (fake_quant_weights_ && weights_for_data_ == &weights_bwd_) weights_bwd_.set_transform(fake_quantize_weights);
    }
    dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, src_any, diff_w_any, bias_md,
                                                dst_any, strides, dil, pad, pad);
    bwd_w_pd_ = dnnl::convolution_backward_weights::primitive_desc(wd, eng, fwd_pd_);
    const bool depthwise = g.groups == g.ic && g.groups == g.oc;
    if (depthwise && std::string(bwd_w_pd_.impl_info_str()).find("gemm") != std::string::npos) {
      dw_ = {g.n, g.ic, g.ih, g.iw, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
      manual_dw_ = true;
      const auto src_view = vectorized_view(fwd_pd_.src_desc()), diff_dst_view = vectorized_view(b.dst_desc);
      if (src_view && diff_dst_view && fwd_pd_.src_desc().data_type() == b.dst_desc.data_type() &&
          depthwise_backward_weights_vectorized(dw_)) {
        dw_views_ = {*src_view, *diff_dst_view};
        return;
      }
      dw_src_plain_ = LayoutConverter(fwd_pd_.src_desc(), plain_desc(b.src_shape[0]), eng);
      dw_diff_dst_plain_ = LayoutConverter(b.dst_desc, plain_desc(b.dst_shape), eng);
      return;
    }
    if (use_matmul_backward_weights(b, g)) return;
    bwd_w_ = dnnl::convolution_backward_weights(bwd_w_pd_);
    src_for_w_ = LayoutConverter(fwd_pd_.src_desc(), bwd_w_pd_.src_desc(), eng);
    diff_dst_for_w_ = LayoutConverter(b.dst_desc, bwd_w_pd_.diff_dst_desc(), eng);
    grad_w_ = ParamMemory(b.node.param_ptr("weights"), w_plain, bwd_w_pd_.diff_weights_desc(), eng);
    diff_w_ = dnnl::memory(bwd_w_pd_.diff_weights_desc(), eng);
    if (bias) diff_b_ = dnnl::memory(bias_md, eng);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    src_ = src_in_(s, a.src[0]);
    // The sum post-op adds to what dst holds: the residual, unless the session placed dst on it.
    if (residual_ && a.dst.get_data_handle() != a.src[1].get_data_handle()) residual_in_.into(s, a.src[1], a.dst);
    if (matmul_f_) {
      matmul_f_src_.set_data_handle(src_.get_data_handle());
      matmul_f_weights_.set_data_handle(weights_.get(s).get_data_handle());
      matmul_f_dst_.set_data_handle(a.dst.get_data_handle());
      const bool bias = node_.param_ptr("bias") != nullptr;
      if (bias) matmul_f_bias_.set_data_handle(bias_.get(s).get_data_handle());
      execute(matmul_f_, s,
              {arg(DNNL_ARG_SRC, matmul_f_src_), arg(DNNL_ARG_WEIGHTS, matmul_f_weights_),
               arg(DNNL_ARG_DST, matmul_f_dst_), arg(DNNL_ARG_BIAS, bias ? matmul_f_bias_ : dnnl::memory())});
      return;
    }
    const dnnl::memory bias = node_.param_ptr("bias") ? bias_.get(s) : dnnl::memory();
    execute(fwd_, s,
            {arg(DNNL_ARG_SRC, src_), arg(DNNL_ARG_WEIGHTS, weights_.get(s)), arg(DNNL_ARG_DST, a.dst),
             arg(DNNL_ARG_BIAS, bias)});
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (manual_dw_) {
      backward_weights_depthwise(s, a);
    } else if (matmul_w_) {
      backward_weights_matmul(s, a);
    } else {
      backward_weights(s, a);
    }
    if (has_bwd_data_ && a.diff_src[0] && matmul_d_) {
      matmul_d_a_.set_data_handle(a.diff_dst.get_data_handle());
      matmul_d_b_.set_data_handle(weights_for_data_->get(s).get_data_handle());
      matmul_d_c_.set_data_handle(a.diff_src[0].get_data_handle());
      matmul_d_.execute(s, {{DNNL_ARG_SRC, matmul_d_a_}, {DNNL_ARG_WEIGHTS, matmul_d_b_}, {DNNL_ARG_DST, matmul_d_c_}});
    } else if (has_bwd_data_ && a.diff_src[0]) {
      dnnl::memory dd = diff_dst_for_data_(s, a.diff_dst);
      dnnl::memory out = diff_src_out_.needed() ? diff_src_buf_ : a.diff_src[0];
      bwd_data_.execute(
          s, {{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_WEIGHTS, weights_for_data_->get(s)}, {DNNL_ARG_DIFF_SRC, out}});
      if (diff_src_out_.needed()) diff_src_out_.into(s, out, a.diff_src[0]);
    }
  }

 private:
  // Low-precision training: oneDNN picks nChw16c for a depthwise convolution between nhwc 1x1
  // layers, and the reorder each way per pass was a sizeable share of mobilenet_v2 0.5's bf16 time
  // (docs/results.md, Figures behind code comments). Its nhwc kernels are as fast where all three
  // passes have depthwise kernels; where one falls back to the far slower generic kernel, blocked
  // stays.
  static bool keep_depthwise_in_nhwc(const KernelBuilder& b, const ConvGeometry& g, const md& w_any) {
    const bool depthwise = g.groups == g.ic && g.groups == g.oc && g.groups > 1;
    if (!depthwise || !b.training() || b.compute == DType::f32) return false;
    const dt type = to_dnnl(b.compute);
    const md src(to_dims(b.src_shape[0]), type, tag::nhwc), dst(to_dims(b.dst_shape), type, tag::nhwc);
    if (!(b.src_desc[0] == md(src.dims(), b.src_desc[0].data_type(), tag::nhwc))) return false;
    const dnnl::memory::dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pad{g.ph, g.pw};
    const md diff_w(w_any.dims(), dt::f32, tag::any);
    auto is_dw = [](const dnnl::primitive_desc& pd) {
      return std::string(pd.impl_info_str()).find("dw") != std::string::npos;
    };
    try {
      const dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                               src, w_any, dst, strides, dil, pad, pad);
      const dnnl::convolution_backward_data::desc dd(dnnl::algorithm::convolution_direct, src, w_any, dst, strides, dil,
                                                     pad, pad);
      const dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, src, diff_w, dst, strides,
                                                        dil, pad, pad);
      const dnnl::convolution_forward::primitive_desc f(fd, b.engine);
      const dnnl::convolution_backward_data::primitive_desc d(dd, b.engine, f);
      const dnnl::convolution_backward_weights::primitive_desc w(wd, b.engine, f);
      return is_dw(f) && is_dw(d) && is_dw(w) && f.src_desc() == src && f.dst_desc() == dst;
    } catch (const dnnl::error&) {
      return false;
    }
  }

  dnnl::primitive_attr post_ops(const KernelBuilder& b) const {
    return activation_attr(b.node.attr_str("activation", "none"), residual_);
  }

  // 1x1, stride 1, unpadded, ungrouped: what the matmul forms below need besides nhwc tensors.
  static bool pointwise(const ConvGeometry& g) {
    return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.groups == 1;
  }
  // Whether the convolution reads its input as the producer left it (no conversion) and both
  // are nhwc: the tensors the matmul forms view in place as (N*H*W, C).
  bool nhwc_in_place(const KernelBuilder& b, const md& dst) const {
    const dt type = fwd_pd_.src_desc().data_type();
    return b.src_desc[0] == fwd_pd_.src_desc() && b.src_desc[0] == md(to_dims(b.src_shape[0]), type, tag::nhwc) &&
           dst == md(to_dims(b.dst_shape), type, tag::nhwc);
  }

  // Forward as a matmul: dst (N*H*W, OC) = src (N*H*W, IC) x weights^T, with the bias and fused
  // activation as the matmul's, the weights' low-precision copy in the plain layout. Like
  // backward-data below, oneDNN 2.6's 1x1 kernels lose to the matmul on small images while at 14x14
  // and few input channels the convolution wins (bench/probes/conv1x1_as_matmul.cpp; docs/results.md,
  // Kernels and probes and Figures behind code comments), so the two are timed per layer. Training
  // always times; inference where the session chooses by timing.
  bool use_matmul_forward(const KernelBuilder& b, const ConvGeometry& g) {
    if (!pointwise(g) || fake_quant_weights_ || (!b.training() && !b.choose_by_timing) ||
        !nhwc_in_place(b, fwd_pd_.dst_desc()))
      return false;
    const dt type = fwd_pd_.src_desc().data_type();
    const int64_t m = g.n * g.oh * g.ow;
    const md src({m, g.ic}, type, tag::ab), weights({g.ic, g.oc}, type, tag::ba), dst({m, g.oc}, type, tag::ab);
    const md bias = b.node.param_ptr("bias") ? md({1, g.oc}, dt::f32, tag::ab) : md();
    const auto mpd = fast_matmul(src, weights, bias, dst, post_ops(b), b.engine);
    const std::vector<int> args{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    if (!mpd || fastest_of({{fwd_pd_, args}, {*mpd, args}}) != 1) return false;
    matmul_f_ = dnnl::matmul(*mpd);
    matmul_f_src_ = dnnl::memory(src, b.engine, DNNL_MEMORY_NONE);
    matmul_f_weights_ = dnnl::memory(weights, b.engine, DNNL_MEMORY_NONE);
    matmul_f_dst_ = dnnl::memory(dst, b.engine, DNNL_MEMORY_NONE);
    if (!bias.is_zero()) matmul_f_bias_ = dnnl::memory(bias, b.engine, DNNL_MEMORY_NONE);
    return true;
  }

  // A 1x1, stride-1, unpadded, ungrouped convolution without bias over nhwc tensors is a matmul:
  // diff_weights (OC, IC) = diff_dst^T (OC, N*H*W) x src (N*H*W, IC), read in place and written in
  // the plain layout. In bf16 oneDNN 2.6's convolution backward-weights is slower than that matmul
  // for projection and late layers and faster for early expansions (docs/results.md, Kernels and
  // probes; bench/probes/conv1x1_backward_weights.cpp), so the two are timed here and the faster kept.
  // Where oneDNN lays the tensors out blocked (bf16 without AMX, e.g. AMD Zen 4), the matmul reads
  // nhwc copies, and the conversions are timed with it: on Zen 4 its bf16 convolution
  // backward-weights gains nothing over fp32 at 2x2 and loses to the matmul over nhwc
  // (docs/results.md, Kernel changes that made bf16 training pay).
  bool use_matmul_backward_weights(const KernelBuilder& b, const ConvGeometry& g) {
    if (!pointwise(g) || b.node.param_ptr("bias")) return false;
    const dt type = fwd_pd_.src_desc().data_type();
    const md src_nhwc(to_dims(b.src_shape[0]), type, tag::nhwc), diff_dst_nhwc(to_dims(b.dst_shape), type, tag::nhwc);
    const int64_t k = g.n * g.oh * g.ow;
    const md diff_dst_t({g.oc, k}, type, dnnl::memory::dims{1, g.oc}),
        src({k, g.ic}, type, dnnl::memory::dims{g.ic, 1});
    const md diff_w({g.oc, g.ic}, dt::f32, dnnl::memory::dims{g.ic, 1});
    const auto mpd = fast_matmul(diff_dst_t, src, md(), diff_w, {}, b.engine);
    if (!mpd) return false;
    const std::vector<int> conversion_args{DNNL_ARG_FROM, DNNL_ARG_TO};
    auto conversions = [&](const md& src_to, const md& diff_dst_to) {
      std::vector<Candidate> c;
      if (!(fwd_pd_.src_desc() == src_to))
        c.push_back({dnnl::reorder::primitive_desc(b.engine, fwd_pd_.src_desc(), b.engine, src_to), conversion_args});
      if (!(b.dst_desc == diff_dst_to))
        c.push_back({dnnl::reorder::primitive_desc(b.engine, b.dst_desc, b.engine, diff_dst_to), conversion_args});
      return c;
    };
    if (fastest_of({{bwd_w_pd_,
                     {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
                     conversions(bwd_w_pd_.src_desc(), bwd_w_pd_.diff_dst_desc())},
                    {*mpd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, conversions(src_nhwc, diff_dst_nhwc)}}) != 1)
      return false;
    matmul_w_ = dnnl::matmul(*mpd);
    matmul_a_ = dnnl::memory(diff_dst_t, b.engine, DNNL_MEMORY_NONE);
    matmul_b_ = dnnl::memory(src, b.engine, DNNL_MEMORY_NONE);
    matmul_src_nhwc_ = LayoutConverter(fwd_pd_.src_desc(), src_nhwc, b.engine);
    matmul_diff_dst_nhwc_ = LayoutConverter(b.dst_desc, diff_dst_nhwc, b.engine);
    diff_w_ = dnnl::memory(diff_w, b.engine);
    const md w_plain({g.oc, g.ic, 1, 1}, dt::f32, tag::oihw);
    grad_w_ = ParamMemory(b.node.param_ptr("weights"), w_plain, w_plain, b.engine);
    return true;
  }

  // The same 1x1 convolutions' backward-data: diff_src (N*H*W, IC) = diff_dst (N*H*W, OC) x
  // weights (OC, IC), the weights' low-precision copy kept in the plain layout. oneDNN 2.6's
  // backward-data kernels lose to the matmul, most on small images (bench/probes/conv1x1_as_matmul.cpp;
  // docs/results.md, Kernels and probes). Timed per layer like backward-weights all the same.
  bool use_matmul_backward_data(const KernelBuilder& b, const ConvGeometry& g) {
    if (!pointwise(g) || fake_quant_weights_ || !nhwc_in_place(b, b.dst_desc)) return false;
    const dt type = fwd_pd_.src_desc().data_type();
    const int64_t m = g.n * g.oh * g.ow;
    const md diff_dst({m, g.oc}, type, tag::ab), weights({g.oc, g.ic}, type, tag::ab),
        diff_src({m, g.ic}, type, tag::ab);
    const auto mpd = fast_matmul(diff_dst, weights, md(), diff_src, {}, b.engine);
    if (!mpd || fastest_of({{bwd_data_pd_, {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}},
                            {*mpd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}}}) != 1)
      return false;
    matmul_d_ = dnnl::matmul(*mpd);
    matmul_d_a_ = dnnl::memory(diff_dst, b.engine, DNNL_MEMORY_NONE);
    matmul_d_b_ = dnnl::memory(weights, b.engine, DNNL_MEMORY_NONE);
    matmul_d_c_ = dnnl::memory(diff_src, b.engine, DNNL_MEMORY_NONE);
    return true;
  }

  void backward_weights_matmul(dnnl::stream& s, KernelArgs& a) {
    matmul_a_.set_data_handle(matmul_diff_dst_nhwc_(s, a.diff_dst).get_data_handle());
    matmul_b_.set_data_handle(matmul_src_nhwc_(s, src_).get_data_handle());
    matmul_w_.execute(s, {{DNNL_ARG_SRC, matmul_a_}, {DNNL_ARG_WEIGHTS, matmul_b_}, {DNNL_ARG_DST, diff_w_}});
    grad_w_.store_grad(s, diff_w_);
  }

  void backward_weights(dnnl::stream& s, KernelArgs& a) {
    dnnl::memory src_w = src_for_w_(s, src_);
    dnnl::memory dd_w = diff_dst_for_w_(s, a.diff_dst);
    std::unordered_map<int, dnnl::memory> wargs{
        {DNNL_ARG_SRC, src_w}, {DNNL_ARG_DIFF_DST, dd_w}, {DNNL_ARG_DIFF_WEIGHTS, diff_w_}};
    if (diff_b_) wargs[DNNL_ARG_DIFF_BIAS] = diff_b_;
    bwd_w_.execute(s, wargs);
    grad_w_.store_grad(s, diff_w_);
    if (diff_b_)
      std::memcpy(node_.params.at("bias")->grad.raw(), diff_b_.get_data_handle(), diff_b_.get_desc().get_size());
  }

  void backward_weights_depthwise(dnnl::stream& s, KernelArgs& a) {
    ParamPtr bias = node_.param_ptr("bias");
    ops::ensure_grad(node_.params.at("weights"));
    ops::ensure_grad(bias);
    float* diff_w = node_.params.at("weights")->grad.data<float>();
    float* diff_b = bias ? bias->grad.data<float>() : nullptr;
    if (dw_views_) {
      kernels::depthwise_conv_backward_weights(diff_w, diff_b, src_.get_data_handle(), dw_views_->first,
                                               a.diff_dst.get_data_handle(), dw_views_->second,
                                               src_.get_desc().data_type() == dt::bf16, dw_);
      return;
    }
    dnnl::memory x = dw_src_plain_(s, src_);
    dnnl::memory dy = dw_diff_dst_plain_(s, a.diff_dst);
    s.wait();
    kernels::depthwise_conv_backward_weights(diff_w, diff_b, static_cast<const float*>(x.get_data_handle()),
                                             static_cast<const float*>(dy.get_data_handle()), dw_);
  }

  const Node& node_;
  bool fake_quant_weights_;  // quantization-aware training: int8-rounded weights in forward
  bool residual_;            // a second input summed into dst before the activation (inference)
  LayoutConverter residual_in_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_forward fwd_;
  LayoutConverter src_in_;
  ParamMemory weights_, bias_, weights_bwd_, grad_w_;
  ParamMemory* weights_for_data_ = nullptr;  // weights_ itself where backward-data wants its layout
  dnnl::memory src_;
  bool has_bwd_data_ = false;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_data bwd_data_;
  LayoutConverter diff_dst_for_data_, diff_src_out_;
  dnnl::memory diff_src_buf_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::convolution_backward_weights bwd_w_;
  LayoutConverter src_for_w_, diff_dst_for_w_;
  dnnl::memory diff_w_, diff_b_;
  bool manual_dw_ = false;
  dnnl::matmul matmul_w_;             // backward-weights as a matmul (use_matmul_backward_weights)
  dnnl::memory matmul_a_, matmul_b_;  // diff_dst^T and src, viewed in place (in nhwc)
  LayoutConverter matmul_src_nhwc_, matmul_diff_dst_nhwc_;  // nhwc copies where they are blocked
  dnnl::matmul matmul_d_;                                   // backward-data as a matmul (use_matmul_backward_data)
  dnnl::memory matmul_d_a_, matmul_d_b_, matmul_d_c_;       // diff_dst, weights, diff_src, viewed in place
  dnnl::matmul matmul_f_;                                   // forward as a matmul (use_matmul_forward)
  dnnl::memory matmul_f_src_, matmul_f_weights_, matmul_f_bias_, matmul_f_dst_;  // viewed in place
  kernels::DepthwiseGeometry dw_{};
  std::optional<std::pair<ChannelBlocks, ChannelBlocks>> dw_views_;  // src, diff_dst where vectorized
  LayoutConverter dw_src_plain_, dw_diff_dst_plain_;                 // plain fp32 copies elsewhere
};

}  // namespace

std::unique_ptr<Kernel> compile_conv2d(KernelBuilder& b) {
  if (auto k = compile_single_channel_conv(b)) return k;
  // Elsewhere a one-channel layer runs on oneDNN in fp32: its low-precision kernels for one input
  // channel are slower (bench/probes/stem_conv_training.cpp).
  if (b.src_shape[0].rank() == 4 && b.src_shape[0][1] == 1) b.compute = DType::f32;
  return std::make_unique<ConvKernel>(b);
}

}  // namespace nimble::kernels
