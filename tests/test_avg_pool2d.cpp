#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct PoolCase {
  Shape in;
  std::vector<int64_t> kernel, stride, padding;  // empty: attr left at its default
};

Attrs attrs_of(const PoolCase& c, int64_t count_include_pad) {
  Attrs a{{"kernel", c.kernel}, {"count_include_pad", count_include_pad}};
  if (!c.stride.empty()) a["stride"] = c.stride;
  if (!c.padding.empty()) a["padding"] = c.padding;
  return a;
}

const PoolCase kCases[] = {
    {{1, 1, 13, 13}, {3, 3}, {}, {}},       {{2, 3, 13, 13}, {3, 3}, {2, 2}, {1, 1}},
    {{3, 5, 7, 9}, {2, 3}, {1, 2}, {1, 1}}, {{1, 17, 127, 1}, {3, 1}, {2, 1}, {1, 0}},
    {{2, 16, 11, 11}, {2, 2}, {}, {}},      {{1, 3, 5, 5}, {5, 5}, {1, 1}, {2, 2}},
};

TEST(AvgPool2d, ForwardMatchesReference) {
  for (int64_t include : {1, 0})
    for (const PoolCase& c : kCases) {
      OpHarness h(OpKind::avg_pool2d, attrs_of(c, include), {c.in});
      expect_matches_reference(h, Mode::eval, 3);
      expect_matches_reference(h, Mode::train, 4);
    }
}

TEST(AvgPool2d, CountIncludePadDefaultsToPyTorchsAndMatters) {
  // A 3x3 window at the corner of a ones image with padding 1 sees 4 real ones.
  Tensor ones({1, 1, 4, 4});
  ones.fill(1.0f);
  Attrs a{{"kernel", std::vector<int64_t>{3, 3}}, {"stride", int64_t(1)}, {"padding", int64_t(1)}};
  OpHarness dflt(OpKind::avg_pool2d, a, {ones.shape()});
  a["count_include_pad"] = int64_t(0);
  OpHarness exclude(OpKind::avg_pool2d, a, {ones.shape()});
  EXPECT_NEAR(dflt.forward({ones}, Mode::eval).data<float>()[0], 4.0f / 9.0f, 1e-6f);
  EXPECT_NEAR(exclude.forward({ones}, Mode::eval).data<float>()[0], 1.0f, 1e-6f);
}

TEST(AvgPool2d, GradientsMatchFiniteDifferences) {
  for (int64_t include : {1, 0})
    for (const PoolCase& c : kCases) {
      OpHarness h(OpKind::avg_pool2d, attrs_of(c, include), {c.in});
      expect_gradients_match_fd(h, 7);
    }
}

TEST(AvgPool2d, KeepsBlockedLayoutAndMatchesInIt) {
  for (tag t : {tag::nChw16c, tag::nhwc})
    for (const PoolCase& c : kCases) {
      OpHarness h(OpKind::avg_pool2d, attrs_of(c, 0), {c.in});
      Rng rng(11);
      Tensor x = random_tensor(c.in, rng), r = random_tensor(h.out_shape(), rng);
      LayoutRun run = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r);
      EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 1e-5f, 1e-5f)) << c.in.str();
      EXPECT_TRUE(run.dst_desc == desc_of(h.out_shape(), t)) << "avg_pool2d changed its input's layout";
      EXPECT_TRUE(all_close(run.diff_src[0], h.backward({x}, r)[0], 1e-6f, 1e-6f)) << c.in.str();
    }
}

// Padding [top, left, bottom, right] (ONNX's pads order; the importer writes ceil_mode as extra
// bottom / right padding).
const PoolCase kAsymmetricCases[] = {
    {{1, 3, 5, 5}, {2, 2}, {2, 2}, {0, 0, 1, 1}}, {{2, 16, 14, 14}, {3, 3}, {2, 2}, {1, 1, 2, 2}},
    {{2, 3, 7, 9}, {3, 2}, {1, 2}, {2, 0, 0, 1}}, {{1, 17, 8, 1}, {3, 1}, {2, 1}, {0, 0, 2, 0}},
    {{2, 32, 9, 9}, {2, 2}, {}, {0, 0, 1, 1}},    {{1, 3, 6, 6}, {3, 3}, {1, 1}, {2, 2, 2, 2}},
};

// With count_include_pad every window divides by kh * kw, the padded positions of every side
// included (ONNX's AveragePool; PyTorch's without ceil_mode); without it, by its real elements.
// A 2x2 stride-2 pool of a ones 5x5 image with [0, 0, 1, 1]: the last column and row see 2 of 4,
// the corner 1 of 4.
TEST(AvgPool2d, AsymmetricPaddingDivisors) {
  const PoolCase& c = kAsymmetricCases[0];
  Tensor ones(c.in);
  ones.fill(1.0f);
  OpHarness include(OpKind::avg_pool2d, attrs_of(c, 1), {c.in}), exclude(OpKind::avg_pool2d, attrs_of(c, 0), {c.in});
  ASSERT_EQ(include.out_shape(), (Shape{1, 3, 3, 3}));
  const float want[] = {1, 1, 0.5f, 1, 1, 0.5f, 0.5f, 0.5f, 0.25f};
  for (const Tensor& y :
       {include.reference({ones}, false), include.forward({ones}, Mode::eval), include.forward({ones}, Mode::train)})
    for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(y.data<float>()[9 + i], want[i]) << i;
  for (const Tensor& y : {exclude.reference({ones}, false), exclude.forward({ones}, Mode::eval)})
    for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(y.data<float>()[9 + i], 1.0f) << i;
}

TEST(AvgPool2d, AsymmetricPaddingMatchesReferenceAndGradients) {
  for (int64_t include : {1, 0})
    for (const PoolCase& c : kAsymmetricCases) {
      OpHarness h(OpKind::avg_pool2d, attrs_of(c, include), {c.in});
      expect_matches_reference(h, Mode::eval, 3);
      expect_matches_reference(h, Mode::train, 4);
      expect_gradients_match_fd(h, 7);
    }
}

TEST(AvgPool2d, AsymmetricPaddingInBlockedLayouts) {
  for (int64_t include : {1, 0})
    for (tag t : {tag::nChw16c, tag::nhwc})
      for (const PoolCase& c : kAsymmetricCases) {
        OpHarness h(OpKind::avg_pool2d, attrs_of(c, include), {c.in});
        Rng rng(11);
        Tensor x = random_tensor(c.in, rng), r = random_tensor(h.out_shape(), rng);
        LayoutRun run = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r);
        EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 1e-5f, 1e-5f)) << c.in.str();
        EXPECT_TRUE(run.dst_desc == desc_of(h.out_shape(), t)) << "avg_pool2d changed its input's layout";
        EXPECT_TRUE(all_close(run.diff_src[0], h.backward({x}, r)[0], 1e-6f, 1e-6f)) << c.in.str();
      }
}

TEST(AvgPool2d, RejectsBadShapesAndAttrs) {
  const OpDef& def = op_def(OpKind::avg_pool2d);
  Node node;
  node.name = "p";
  node.op = OpKind::avg_pool2d;
  node.attrs = {{"kernel", std::vector<int64_t>{2, 2, 2}}};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // three kernel sizes
  node.attrs = {{"kernel", std::vector<int64_t>{3, 0}}};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // empty kernel
  node.attrs = {{"kernel", std::vector<int64_t>{3, 3}}, {"padding", std::vector<int64_t>{-1, 0}}};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // negative padding
  node.attrs = {{"kernel", std::vector<int64_t>{3, 3}}};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 2}}), Error);     // too narrow
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8, 8}}), Error);  // rank 5
  node.attrs["padding"] = std::vector<int64_t>{3, 0, 0, 0};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);  // a window of padding only
  node.attrs["padding"] = std::vector<int64_t>{0, 0, 0, 3};
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}}), Error);
  node.attrs["padding"] = std::vector<int64_t>{0, 0, 2, 2};
  EXPECT_EQ(def.infer(node, {{1, 3, 8, 8}}), (Shape{1, 3, 3, 3}));  // stride 3 = kernel: (8 + 2 - 3) / 3 + 1
}

}  // namespace
}  // namespace nimble::testing
