#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct PoolCase {
  Shape in;
  std::vector<int64_t> kernel, stride, padding;  // empty: attr left at its default
};

Attrs attrs_of(const PoolCase& c) {
  Attrs a{{"kernel", c.kernel}};
  if (!c.stride.empty()) a["stride"] = c.stride;
  if (!c.padding.empty()) a["padding"] = c.padding;
  return a;
}

const PoolCase kCases[] = {
    {{1, 1, 13, 13}, {3, 3}, {}, {}},           // stride defaults to the kernel
    {{2, 3, 13, 13}, {3, 3}, {2, 2}, {1, 1}},   // overlapping windows with padding
    {{3, 5, 7, 9}, {2, 3}, {1, 2}, {1, 1}},     // non-square everything
    {{1, 17, 127, 1}, {3, 1}, {2, 1}, {1, 0}},  // tall and thin
    {{2, 16, 11, 11}, {2, 2}, {}, {}},          // channels fill a block; leftover row/col dropped
    {{1, 3, 5, 5}, {5, 5}, {1, 1}, {2, 2}},     // padding of half the kernel
};

TEST(MaxPool2d, ForwardMatchesReference) {
  for (const PoolCase& c : kCases) {
    OpHarness h(OpKind::max_pool2d, attrs_of(c), {c.in});
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

TEST(MaxPool2d, OutputShapes) {
  const Shape want[] = {{1, 1, 4, 4}, {2, 3, 7, 7}, {3, 5, 8, 5}, {1, 17, 64, 1}, {2, 16, 5, 5}, {1, 3, 5, 5}};
  for (size_t i = 0; i < std::size(kCases); ++i)
    EXPECT_EQ(OpHarness(OpKind::max_pool2d, attrs_of(kCases[i]), {kCases[i].in}).out_shape(), want[i]) << i;
}

TEST(MaxPool2d, GradientsMatchFiniteDifferences) {
  // Uniform random inputs have no ties; a small step keeps every window's argmax in place.
  for (const PoolCase& c : kCases) {
    OpHarness h(OpKind::max_pool2d, attrs_of(c), {c.in});
    expect_gradients_match_fd(h, 7, /*eps=*/1e-4f);
  }
}

TEST(MaxPool2d, KeepsBlockedLayoutAndMatchesInIt) {
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc}) {
    for (const PoolCase& c : kCases) {
      OpHarness h(OpKind::max_pool2d, attrs_of(c), {c.in});
      Rng rng(11);
      Tensor x = random_tensor(c.in, rng), r = random_tensor(h.out_shape(), rng);
      for (Mode mode : {Mode::eval, Mode::train}) {
        LayoutRun run = run_in_layouts(h.node(), {x}, {t}, mode, mode == Mode::train ? &r : nullptr);
        EXPECT_TRUE(all_close(run.dst, h.reference({x}, false), 1e-6f, 0)) << c.in.str();
        EXPECT_TRUE(run.dst_desc == desc_of(h.out_shape(), t)) << "max_pool2d changed its input's layout";
        if (mode == Mode::train) {
          EXPECT_TRUE(all_close(run.diff_src[0], h.backward({x}, r)[0], 1e-5f, 1e-5f)) << c.in.str();
        }
      }
    }
  }
}

TEST(MaxPool2d, RejectsBadShapesAndAttrs) {
  const OpDef& def = op_def(OpKind::max_pool2d);
  Node node;
  node.name = "p";
  node.op = OpKind::max_pool2d;
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // no kernel
  node.attrs = {{"kernel", std::vector<int64_t>{3, 3}}};
  EXPECT_THROW(def.infer(node, {{3, 8, 8}}), Error);     // rank 3
  EXPECT_THROW(def.infer(node, {{1, 3, 2, 8}}), Error);  // too small
  node.attrs["padding"] = std::vector<int64_t>{2, 0};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // padding beyond half the kernel
  node.attrs["padding"] = std::vector<int64_t>{1, 1};
  node.attrs["stride"] = std::vector<int64_t>{0, 1};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // zero stride
  node.attrs["stride"] = std::vector<int64_t>{1, 1, 1};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // three strides
  node.attrs["stride"] = int64_t(2);                     // one number means both
  EXPECT_EQ(def.infer(node, {{1, 3, 8, 8}}), (Shape{1, 3, 4, 4}));
}

}  // namespace
}  // namespace nimble::testing
