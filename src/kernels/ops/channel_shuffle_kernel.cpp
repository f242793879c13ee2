// channel_shuffle's kernel (its semantics and reference: graph/ops/channel_shuffle.cpp): oneDNN's
// shuffle along axis 1, in whatever layout and data type its input arrives (int8 included).
#include <cstring>

#include "graph/ops/channel_shuffle.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class ChannelShuffleKernel : public Kernel {
 public:
  explicit ChannelShuffleKernel(KernelBuilder& b) {
    const int64_t g = ops::channel_shuffle_groups(b.node, b.src_shape[0]), c = b.src_shape[0][1];
    const md& layout = b.src_desc[0];
    b.dst_desc = layout;
    identity_ = g == 1 || g == c;  // one group, or one channel per group: nothing moves
    if (identity_) return;
    // oneDNN's group_size is the other factor: it reads the axis as (C / group_size, group_size)
    // rows x columns and transposes, which is ShuffleNet's (g, C / g) transpose for C / g.
    const int group_size = int(c / g);
    const auto prop = b.training() ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const dnnl::shuffle_forward::primitive_desc fwd_pd(dnnl::shuffle_forward::desc(prop, layout, 1, group_size),
                                                       b.engine);
    fwd_ = dnnl::shuffle_forward(fwd_pd);
    if (b.training() && b.need_diff_src[0])
      bwd_ = dnnl::shuffle_backward(dnnl::shuffle_backward::primitive_desc(
          dnnl::shuffle_backward::desc(layout, 1, group_size), b.engine, fwd_pd));
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    if (identity_) return copy(s, a.dst, a.src[0]);
    fwd_.execute(s, {{DNNL_ARG_SRC, a.src[0]}, {DNNL_ARG_DST, a.dst}});
  }

  // The inverse permutation (oneDNN's backward shuffle of the same group size).
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (!a.diff_src[0]) return;
    if (identity_) return copy(s, a.diff_src[0], a.diff_dst);
    if (bwd_) bwd_.execute(s, {{DNNL_ARG_DIFF_DST, a.diff_dst}, {DNNL_ARG_DIFF_SRC, a.diff_src[0]}});
  }

 private:
  static void copy(dnnl::stream& s, const dnnl::memory& dst, const dnnl::memory& src) {
    s.wait();  // the producer's primitive has written src
    std::memcpy(dst.get_data_handle(), src.get_data_handle(), src.get_desc().get_size());
  }

  bool identity_ = false;
  dnnl::shuffle_forward fwd_;
  dnnl::shuffle_backward bwd_;
};

}  // namespace

std::unique_ptr<Kernel> compile_channel_shuffle(KernelBuilder& b) { return std::make_unique<ChannelShuffleKernel>(b); }

}  // namespace nimble::kernels
