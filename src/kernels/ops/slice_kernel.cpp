// slice's kernel (its semantics and reference: graph/ops/slice.cpp): a oneDNN reorder out of a
// view of the input (forward) and into a view of the zeroed input gradient (backward).
#include <cstring>

#include "graph/ops/slice.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class SliceKernel : public Kernel {
 public:
  explicit SliceKernel(KernelBuilder& b) {
    const auto& eng = b.engine;
    const ops::SliceWindow w = ops::slice_window(b.node, b.src_shape[0]);
    const md& layout = b.src_desc[0];
    const dt type = layout.data_type();
    const dnnl::memory::dims out_dims = to_dims(b.dst_shape);
    dnnl::memory::dims offsets(size_t(b.dst_shape.rank()), 0);
    offsets[size_t(w.axis)] = w.start;
    // The window as a view straight into the input's layout, and the output in that layout too,
    // unless the window cuts a channel block (nChw16c sliced at channel 8): then the input is
    // reordered to plain first, and the output is plain.
    md view = layout.submemory_desc(out_dims, offsets, /*allow_empty=*/true);
    const tag t = usual_tag(layout, b.src_shape[0]);
    md dst;
    if (!view.is_zero() && t != tag::undef) {
      dst = md(out_dims, type, t);
    } else {
      const md plain(to_dims(b.src_shape[0]), type, plain_tag(b.src_shape[0].rank()));
      src_to_plain_ = LayoutConverter(layout, plain, eng);
      view = plain.submemory_desc(out_dims, offsets);
      dst = md(out_dims, type, plain_tag(b.dst_shape.rank()));
    }
    b.dst_desc = dst;
    // Views are strided, so always a real reorder (LayoutConverter would memcpy equal descs).
    cut_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, view, eng, dst));
    view_mem_ = dnnl::memory(view, eng, static_cast<void*>(DNNL_MEMORY_NONE));
    if (!b.training() || !b.need_diff_src[0]) return;
    paste_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, dst, eng, view));
    if (src_to_plain_.needed()) {
      diff_plain_ = dnnl::memory(src_to_plain_.to_desc(), eng);
      plain_to_diff_src_ = LayoutConverter(src_to_plain_.to_desc(), layout, eng);
    }
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    const dnnl::memory whole = src_to_plain_.needed() ? src_to_plain_(s, a.src[0]) : a.src[0];
    view_mem_.set_data_handle(whole.get_data_handle());
    cut_.execute(s, view_mem_, a.dst);
  }

  // diff_src is zero outside the window (padding of a blocked layout included) and diff_dst inside.
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (!a.diff_src[0] || !paste_) return;
    dnnl::memory whole = src_to_plain_.needed() ? diff_plain_ : a.diff_src[0];
    s.wait();  // nothing may still be writing the buffer we clear
    std::memset(whole.get_data_handle(), 0, whole.get_desc().get_size());
    view_mem_.set_data_handle(whole.get_data_handle());
    paste_.execute(s, a.diff_dst, view_mem_);
    if (src_to_plain_.needed()) plain_to_diff_src_.into(s, whole, a.diff_src[0]);
  }

 private:
  LayoutConverter src_to_plain_, plain_to_diff_src_;
  dnnl::reorder cut_, paste_;
  dnnl::memory view_mem_;    // the window, pointed at the (plain copy of the) input or its gradient
  dnnl::memory diff_plain_;  // the input gradient in plain layout, where the window needs it
};

}  // namespace

std::unique_ptr<Kernel> compile_slice(KernelBuilder& b) { return std::make_unique<SliceKernel>(b); }

}  // namespace nimble::kernels
