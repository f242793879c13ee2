#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct ConcatCase {
  std::vector<Shape> in;
  int64_t axis;
  Shape out;
};

const ConcatCase kCases[] = {
    {{{2, 3, 5, 5}, {2, 13, 5, 5}}, 1, {2, 16, 5, 5}},
    {{{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}}, 1, {1, 3, 1, 1}},
    {{{3, 4, 7, 5}, {3, 4, 1, 5}, {3, 4, 13, 5}}, 2, {3, 4, 21, 5}},
    {{{2, 3, 4, 1}, {2, 3, 4, 127}}, -1, {2, 3, 4, 128}},
    {{{3, 7}, {3, 1}, {3, 127}}, 1, {3, 135}},
    {{{2, 16, 3, 3}, {2, 17, 3, 3}}, 1, {2, 33, 3, 3}},
};

TEST(Concat, ForwardMatchesReference) {
  for (const ConcatCase& c : kCases) {
    OpHarness h(OpKind::concat, {{"axis", c.axis}}, c.in);
    EXPECT_EQ(h.out_shape(), c.out);
    expect_matches_reference(h, Mode::eval, 3, 0, 0);
    expect_matches_reference(h, Mode::train, 4, 0, 0);
  }
}

TEST(Concat, SixteenInputs) {
  std::vector<Shape> in;
  for (int64_t i = 0; i < 16; ++i) in.push_back({2, i % 3 + 1, 3, 5});
  OpHarness h(OpKind::concat, {}, in);
  expect_matches_reference(h, Mode::train, 5, 0, 0);
  expect_gradients_match_fd(h, 6, 1e-2f, 2e-2f, 2e-2f, 8);
}

TEST(Concat, GradientsMatchFiniteDifferences) {
  for (const ConcatCase& c : kCases) {
    OpHarness h(OpKind::concat, {{"axis", c.axis}}, c.in);
    expect_gradients_match_fd(h, 7);
  }
}

// Inputs from producers that chose different layouts; cuts that do and do not line up with
// 16-channel blocks (the latter take the plain-copy path in backward).
TEST(Concat, MixedAndBlockedLayouts) {
  struct LayoutCase {
    std::vector<Shape> in;
    std::vector<tag> tags;
    tag want_dst;  // undef: whatever oneDNN can do
  };
  const LayoutCase cases[] = {
      {{{2, 16, 5, 5}, {2, 32, 5, 5}}, {tag::nChw16c, tag::nChw16c}, tag::nChw16c},  // stays conv-friendly
      {{{2, 3, 5, 5}, {2, 13, 5, 5}}, {tag::nChw16c, tag::nChw16c}, tag::undef},     // cut inside a block
      {{{2, 16, 5, 5}, {2, 3, 5, 5}, {2, 16, 5, 5}}, {tag::nChw16c, tag::nchw, tag::nChw16c}, tag::undef},
      {{{1, 8, 3, 7}, {1, 5, 3, 7}}, {tag::nhwc, tag::nChw8c}, tag::undef},
      {{{3, 17, 4, 4}, {3, 16, 4, 4}}, {tag::nchw, tag::nChw16c}, tag::undef},
      {{{1, 8, 3, 7}, {1, 5, 3, 7}, {1, 1, 3, 7}}, {tag::nhwc, tag::nhwc, tag::nhwc}, tag::nhwc},
      {{{2, 8, 3, 3}, {2, 16, 3, 3}}, {tag::nChw8c, tag::nChw8c}, tag::nChw8c},
      {{{2, 3, 7}, {2, 5, 7}}, {tag::abc, tag::abc}, tag::abc},
  };
  for (const LayoutCase& c : cases) {
    OpHarness h(OpKind::concat, {}, c.in);
    Rng rng(11);
    std::vector<Tensor> x;
    for (const Shape& s : c.in) x.push_back(random_tensor(s, rng));
    Tensor r = random_tensor(h.out_shape(), rng);
    LayoutRun run = run_in_layouts(h.node(), x, c.tags, Mode::train, &r);
    EXPECT_TRUE(all_close(run.dst, h.reference(x, true), 0, 0)) << c.in[0].str();
    if (c.want_dst != tag::undef) {
      EXPECT_TRUE(run.dst_desc == desc_of(h.out_shape(), c.want_dst)) << c.in[0].str();
    }
    std::vector<Tensor> want = h.backward(x, r);
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_TRUE(all_close(run.diff_src[i], want[i], 0, 0)) << "input " << i << " of case " << c.in[0].str();
  }
}

TEST(Concat, RejectsBadShapesAndAxes) {
  const OpDef& def = op_def(OpKind::concat);
  Node node;
  node.name = "cat";
  node.op = OpKind::concat;
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 8, 9}}), Error);  // W differs outside axis 1
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 64}}), Error);    // ranks differ
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {2, 3, 8, 8}}), Error);  // batch differs
  node.attrs["axis"] = int64_t(0);
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 8, 8}}), Error);  // batch axis
  node.attrs["axis"] = int64_t(4);
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 8, 8}}), Error);
  node.attrs["axis"] = int64_t(-5);
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 8, 8}}), Error);
  Graph g;
  int x = g.add_input("x", {3, 8, 8});
  EXPECT_THROW(g.add_node(OpKind::concat, "one", {x}), Error);
  EXPECT_THROW(g.add_node(OpKind::concat, "seventeen", std::vector<int>(17, x)), Error);
}

}  // namespace
}  // namespace nimble::testing
