#pragma once
// The kernel max_pool2d, avg_pool2d and global_avg_pool share (their geometry and reference:
// graph/ops/pool_common.hpp). Internal: included by their kernel files only.
#include <optional>

#include "graph/ops/pool_common.hpp"
#include "kernels/int8_max_pool.hpp"
#include "kernels/kernel.hpp"
#include "kernels/max_pool_2x2.hpp"

namespace nimble::kernels {

using ops::PoolGeometry;
using ops::PoolKind;

// oneDNN pooling that keeps its producer's layout (dst follows src); max pooling in training
// keeps the workspace (argmax positions) for backward. 2x2 stride-2 max pooling runs hand-written
// kernels instead: int8 in inference, fp32/bf16 nhwc or nChw16c in training.
class PoolKernel : public Kernel {
 public:
  PoolKernel(KernelBuilder& b, const PoolGeometry& g, PoolKind kind) {
    const auto& eng = b.engine;
    const dnnl::algorithm alg = kind == PoolKind::max               ? dnnl::algorithm::pooling_max
                                : kind == PoolKind::avg_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                                    : dnnl::algorithm::pooling_avg_exclude_padding;
    const dnnl::memory::dims strides{g.sh, g.sw}, kernel{g.kh, g.kw}, pad_l{g.pt, g.pl}, pad_r{g.pb, g.pr};
    // The dst keeps the src's data type too (bf16 in, bf16 out).
    const md dst_any(to_dims(b.dst_shape), b.src_desc[0].data_type(), tag::any);
    const dt type = b.src_desc[0].data_type();
    // The hand-written 2x2 kernels know no padding (ceil_mode's extra row included): oneDNN's then.
    const bool two_by_two = kind == PoolKind::max && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.unpadded();
    if (two_by_two && !b.training() && (type == dt::u8 || type == dt::s8) &&
        b.src_desc[0] == md(to_dims(b.src_shape[0]), type, tag::nhwc)) {
      int8_2x2_ = g;  // kernels/int8_max_pool.hpp: faster than oneDNN's int8 pooling
      b.dst_desc = md(to_dims(b.dst_shape), type, tag::nhwc);
      return;
    }
    if (two_by_two && b.training())
      if (auto view = vectorized_view(b.src_desc[0]); view && view->block % 16 == 0) {
        train_2x2_ = view;  // kernels/max_pool_2x2.hpp: about a sixth of oneDNN's time for forward + backward
        const md nhwc(to_dims(b.src_shape[0]), type, tag::nhwc);
        b.dst_desc = md(to_dims(b.dst_shape), type, b.src_desc[0] == nhwc ? tag::nhwc : tag::nChw16c);
        argmax_.resize(size_t(b.dst_desc.get_size() / dnnl::memory::data_type_size(type)));
        return;
      }
    const auto prop = b.training() ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    fwd_pd_ = dnnl::pooling_forward::primitive_desc(
        dnnl::pooling_forward::desc(prop, alg, b.src_desc[0], dst_any, strides, kernel, pad_l, pad_r), eng);
    fwd_ = dnnl::pooling_forward(fwd_pd_);
    b.dst_desc = fwd_pd_.dst_desc();
    if (!b.training()) return;
    if (fwd_pd_.workspace_desc().get_size() > 0) workspace_ = dnnl::memory(fwd_pd_.workspace_desc(), eng);
    if (!b.need_diff_src[0]) return;

    // Ask for exactly the forward layouts; fall back to whatever oneDNN picks (then reorder).
    dnnl::pooling_backward::desc exact(alg, b.src_desc[0], b.dst_desc, strides, kernel, pad_l, pad_r);
    bwd_pd_ = dnnl::pooling_backward::primitive_desc(exact, eng, fwd_pd_, /*allow_empty=*/true);
    if (!bwd_pd_) {
      const md src_any(to_dims(b.src_shape[0]), b.src_desc[0].data_type(), tag::any);
      dnnl::pooling_backward::desc loose(alg, src_any, dst_any, strides, kernel, pad_l, pad_r);
      bwd_pd_ = dnnl::pooling_backward::primitive_desc(loose, eng, fwd_pd_);
    }
    bwd_ = dnnl::pooling_backward(bwd_pd_);
    diff_dst_in_ = LayoutConverter(b.dst_desc, bwd_pd_.diff_dst_desc(), eng);
    diff_src_out_ = LayoutConverter(bwd_pd_.diff_src_desc(), b.src_desc[0], eng);
    if (diff_src_out_.needed()) diff_src_buf_ = dnnl::memory(bwd_pd_.diff_src_desc(), eng);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    if (int8_2x2_) {
      s.wait();  // the producer's primitive has written the input
      const PoolGeometry& g = *int8_2x2_;
      if (a.src[0].get_desc().data_type() == dt::u8)
        max_pool_2x2_nhwc(static_cast<const uint8_t*>(a.src[0].get_data_handle()),
                          static_cast<uint8_t*>(a.dst.get_data_handle()), g.n, g.ih, g.iw, g.c);
      else
        max_pool_2x2_nhwc(static_cast<const int8_t*>(a.src[0].get_data_handle()),
                          static_cast<int8_t*>(a.dst.get_data_handle()), g.n, g.ih, g.iw, g.c);
      return;
    }
    if (train_2x2_) {
      s.wait();
      const void* src = a.src[0].get_data_handle();
      if (a.src[0].get_desc().data_type() == dt::f32)
        max_pool_2x2_forward(static_cast<const float*>(src), static_cast<float*>(a.dst.get_data_handle()),
                             argmax_.data(), *train_2x2_);
      else
        max_pool_2x2_forward(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(a.dst.get_data_handle()),
                             argmax_.data(), *train_2x2_);
      return;
    }
    if (workspace_)
      execute(fwd_, s, {arg(DNNL_ARG_SRC, a.src[0]), arg(DNNL_ARG_DST, a.dst), arg(DNNL_ARG_WORKSPACE, workspace_)});
    else
      execute(fwd_, s, {arg(DNNL_ARG_SRC, a.src[0]), arg(DNNL_ARG_DST, a.dst)});
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (train_2x2_ && a.diff_src[0]) {
      s.wait();
      const void* diff_dst = a.diff_dst.get_data_handle();
      if (a.diff_dst.get_desc().data_type() == dt::f32)
        max_pool_2x2_backward(static_cast<const float*>(diff_dst), argmax_.data(),
                              static_cast<float*>(a.diff_src[0].get_data_handle()), *train_2x2_);
      else
        max_pool_2x2_backward(static_cast<const uint16_t*>(diff_dst), argmax_.data(),
                              static_cast<uint16_t*>(a.diff_src[0].get_data_handle()), *train_2x2_);
      return;
    }
    if (!bwd_ || !a.diff_src[0]) return;
    dnnl::memory out = diff_src_out_.needed() ? diff_src_buf_ : a.diff_src[0];
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, diff_dst_in_(s, a.diff_dst)},
                                               {DNNL_ARG_DIFF_SRC, out}};
    if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
    bwd_.execute(s, args);
    if (diff_src_out_.needed()) diff_src_out_.into(s, out, a.diff_src[0]);
  }

 private:
  dnnl::pooling_forward::primitive_desc fwd_pd_;
  dnnl::pooling_forward fwd_;
  dnnl::memory workspace_;
  dnnl::pooling_backward::primitive_desc bwd_pd_;
  dnnl::pooling_backward bwd_;
  LayoutConverter diff_dst_in_, diff_src_out_;
  dnnl::memory diff_src_buf_;
  std::optional<PoolGeometry> int8_2x2_;    // set: the hand-written int8 kernel runs instead
  std::optional<ChannelBlocks> train_2x2_;  // set: the hand-written training kernels run instead
  std::vector<uint8_t> argmax_;             // their record of each window's winner
};

}  // namespace nimble::kernels
