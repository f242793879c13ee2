#pragma once
// Runs one op's kernel on inputs handed over in chosen (possibly blocked) layouts, the way a
// Session passes them from producers that negotiated nChw16c & co.; OpHarness only feeds plain
// layouts. Results come back plain so they compare against the reference.
#include <dnnl.hpp>

#include <vector>

#include "op_harness.hpp"

namespace nimble::testing {

struct LayoutRun {
  Tensor dst;                    // plain
  std::vector<Tensor> diff_src;  // plain; filled only when a diff_dst was given
  dnnl::memory::desc dst_desc;   // the layout the kernel produced
};

// `tags[i]` is the layout input i arrives in. With `diff_dst` (train mode), also runs backward;
// diff_src buffers start as NaN so a kernel that accumulates instead of overwriting fails.
LayoutRun run_in_layouts(const Node& node, const std::vector<Tensor>& inputs,
                         const std::vector<dnnl::memory::format_tag>& tags, Mode mode,
                         const Tensor* diff_dst = nullptr);

// The descriptor of `shape` in layout `tag` (f32).
dnnl::memory::desc desc_of(const Shape& shape, dnnl::memory::format_tag tag);

}  // namespace nimble::testing
