// concat's kernel (its semantics and reference: graph/ops/concat.cpp).
#include <algorithm>

#include "graph/ops/concat.hpp"
#include "graph/ops/op_util.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

// The layout tag every input shares among the usual ones, or undef.
tag common_tag(const std::vector<md>& descs, const std::vector<Shape>& shapes) {
  const int rank = shapes[0].rank();
  std::vector<tag> candidates{plain_tag(rank)};
  if (rank == 3) candidates.insert(candidates.end(), {tag::acb, tag::aBc16b, tag::aBc8b});
  if (rank == 4) candidates.insert(candidates.end(), {tag::acdb, tag::aBcd16b, tag::aBcd8b, tag::aBcd4b});
  if (rank == 5) candidates.insert(candidates.end(), {tag::acdeb, tag::aBcde16b, tag::aBcde8b});
  for (tag t : candidates) {
    bool all = true;
    for (size_t i = 0; all && i < descs.size(); ++i) all = descs[i] == md(to_dims(shapes[i]), descs[i].data_type(), t);
    if (all) return t;
  }
  return tag::undef;
}

// A concat primitive descriptor with this dst (zero desc: oneDNN chooses), or empty if refused.
dnnl::concat::primitive_desc try_concat(const md& dst, int axis, const std::vector<md>& srcs, const dnnl::engine& eng) {
  try {
    return dst.is_zero() ? dnnl::concat::primitive_desc(axis, srcs, eng)
                         : dnnl::concat::primitive_desc(dst, axis, srcs, eng);
  } catch (const dnnl::error&) {
    return {};
  }
}

class ConcatKernel : public Kernel {
 public:
  explicit ConcatKernel(KernelBuilder& b) {
    const auto& eng = b.engine;
    const int axis = ops::concat_axis(b.node, b.dst_shape.rank());
    // dst layout, first choice that oneDNN accepts: the inputs' common layout (left to itself,
    // oneDNN 2.6 turns two nChw16c inputs into a Bacd16b dst that the next conv must reorder);
    // then oneDNN's own pick; then plain.
    const md plain(to_dims(b.dst_shape), b.src_desc[0].data_type(), plain_tag(b.dst_shape.rank()));
    const tag common = common_tag(b.src_desc, b.src_shape);
    if (common != tag::undef)
      pd_ = try_concat(md(to_dims(b.dst_shape), b.src_desc[0].data_type(), common), axis, b.src_desc, eng);
    if (!pd_) pd_ = try_concat(md(), axis, b.src_desc, eng);
    if (!pd_) pd_ = dnnl::concat::primitive_desc(plain, axis, b.src_desc, eng);
    concat_ = dnnl::concat(pd_);
    b.dst_desc = pd_.dst_desc();
    if (!b.training()) return;

    // Backward: each input's gradient is a sub-block of diff_dst. Views straight into the dst
    // layout work unless a cut falls inside a channel block; then cut a plain copy instead.
    auto cut = [&](const md& whole) {
      std::vector<md> views;
      dnnl::memory::dims offsets(b.dst_shape.rank(), 0);
      for (const Shape& s : b.src_shape) {
        views.push_back(whole.submemory_desc(to_dims(s), offsets, /*allow_empty=*/true));
        offsets[axis] += s[axis];
      }
      return views;
    };
    std::vector<md> views = cut(b.dst_desc);
    if (std::any_of(views.begin(), views.end(), [](const md& v) { return v.is_zero(); })) {
      views = cut(plain);
      diff_to_plain_ = LayoutConverter(b.dst_desc, plain, eng);
    }
    for (size_t i = 0; i < views.size(); ++i) {
      NIMBLE_ASSERT(!views[i].is_zero(), "a plain layout can always be cut");
      // Views are strided, so always a real reorder (LayoutConverter would memcpy equal descs).
      split_.emplace_back(dnnl::reorder::primitive_desc(eng, views[i], eng, b.src_desc[i]));
      view_mem_.emplace_back(views[i], eng, static_cast<void*>(DNNL_MEMORY_NONE));
    }
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, a.dst}};
    for (size_t i = 0; i < a.src.size(); ++i) args[DNNL_ARG_MULTIPLE_SRC + int(i)] = a.src[i];
    concat_.execute(s, args);
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    dnnl::memory whole = diff_to_plain_.needed() ? diff_to_plain_(s, a.diff_dst) : a.diff_dst;
    for (size_t i = 0; i < split_.size(); ++i) {
      if (!a.diff_src[i]) continue;
      view_mem_[i].set_data_handle(whole.get_data_handle());
      split_[i].execute(s, view_mem_[i], a.diff_src[i]);
    }
  }

 private:
  dnnl::concat::primitive_desc pd_;
  dnnl::concat concat_;
  LayoutConverter diff_to_plain_;
  std::vector<dnnl::reorder> split_;
  std::vector<dnnl::memory> view_mem_;
};

}  // namespace

std::unique_ptr<Kernel> compile_concat(KernelBuilder& b) { return std::make_unique<ConcatKernel>(b); }

}  // namespace nimble::kernels
