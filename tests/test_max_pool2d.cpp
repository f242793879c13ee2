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

// Padding [top, left, bottom, right] (ONNX's pads order; the importer writes ceil_mode as extra
// bottom / right padding).
const PoolCase kAsymmetricCases[] = {
    {{1, 3, 5, 5}, {2, 2}, {2, 2}, {0, 0, 1, 1}},     // ceil_mode of a 2x2 pool on an odd image
    {{2, 16, 14, 14}, {3, 3}, {2, 2}, {1, 1, 2, 2}},  // 3x3 stride 2 padding 1, ceil_mode
    {{2, 3, 7, 9}, {3, 2}, {1, 2}, {2, 0, 0, 1}},     // one side per axis
    {{1, 17, 8, 1}, {3, 1}, {2, 1}, {0, 0, 2, 0}},    // tall and thin, bottom only
    {{2, 32, 9, 9}, {2, 2}, {}, {0, 0, 1, 1}},        // 2x2 stride 2 blocked: not the unpadded fast path
    {{1, 3, 6, 6}, {3, 3}, {1, 1}, {2, 2, 2, 2}},     // four values equal: beyond half the kernel is fine
};

TEST(MaxPool2d, AsymmetricPaddingOutputShapes) {
  const Shape want[] = {{1, 3, 3, 3}, {2, 16, 8, 8}, {2, 3, 7, 5}, {1, 17, 4, 1}, {2, 32, 5, 5}, {1, 3, 8, 8}};
  for (size_t i = 0; i < std::size(kAsymmetricCases); ++i)
    EXPECT_EQ(OpHarness(OpKind::max_pool2d, attrs_of(kAsymmetricCases[i]), {kAsymmetricCases[i].in}).out_shape(),
              want[i])
        << i;
}

// The reference on its own: a 2x2 stride-2 pool over an increasing 5x5 image with [0, 0, 1, 1]
// keeps the last row and column (PyTorch's ceil_mode=True), each window's max its bottom-right real
// element.
TEST(MaxPool2d, AsymmetricPaddingKeepsTheLastRowAndColumn) {
  const PoolCase& c = kAsymmetricCases[0];
  OpHarness h(OpKind::max_pool2d, attrs_of(c), {c.in});
  Tensor x(c.in);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 25);
  for (const Tensor& y : {h.reference({x}, false), h.forward({x}, Mode::eval), h.forward({x}, Mode::train)})
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t b = 0; b < 3; ++b)
        EXPECT_EQ(y.data<float>()[2 * 9 + a * 3 + b],
                  float(std::min<int64_t>(2 * a + 1, 4) * 5 + std::min<int64_t>(2 * b + 1, 4)))
            << a << ", " << b;
}

TEST(MaxPool2d, AsymmetricPaddingMatchesReferenceAndGradients) {
  for (const PoolCase& c : kAsymmetricCases) {
    OpHarness h(OpKind::max_pool2d, attrs_of(c), {c.in});
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
    expect_gradients_match_fd(h, 7, /*eps=*/1e-4f);
  }
}

TEST(MaxPool2d, AsymmetricPaddingInBlockedLayouts) {
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc})
    for (const PoolCase& c : kAsymmetricCases) {
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
  node.attrs["padding"] = std::vector<int64_t>{0, 0, 3, 0};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // a side padded by the whole kernel
  node.attrs["padding"] = std::vector<int64_t>{0, 3, 0, 0};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);
  node.attrs["padding"] = std::vector<int64_t>{0, 0, -1, 0};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // negative
  node.attrs["padding"] = std::vector<int64_t>{1, 1, 1};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // three values
  node.attrs["padding"] = std::vector<int64_t>{0, 0, 2, 1};
  EXPECT_EQ(def.infer(node, {{1, 3, 8, 8}}), (Shape{1, 3, 4, 4}));  // (8 + 2 - 3) / 2 + 1, (8 + 1 - 3) / 2 + 1
}

}  // namespace
}  // namespace nimble::testing
