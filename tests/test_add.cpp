#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

const Shape kShapes[] = {{1, 1, 1, 1}, {2, 3, 13, 13}, {3, 17, 5, 7}, {3, 127}, {1, 16, 4, 4}};

TEST(Add, ForwardMatchesReference) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::add, {}, {s, s});
    EXPECT_EQ(h.out_shape(), s);
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

TEST(Add, GradientsMatchFiniteDifferences) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::add, {}, {s, s});
    expect_gradients_match_fd(h, 7);
  }
}

TEST(Add, MixedLayoutsKeepInputZerosLayout) {
  const std::pair<tag, tag> pairs[] = {
      {tag::nChw16c, tag::nchw}, {tag::nchw, tag::nChw16c}, {tag::nChw8c, tag::nhwc}, {tag::nChw16c, tag::nChw16c}};
  for (const auto& [t0, t1] : pairs)
    for (const Shape& s : {Shape{2, 3, 13, 13}, Shape{3, 17, 5, 7}, Shape{1, 32, 3, 3}}) {
      OpHarness h(OpKind::add, {}, {s, s});
      Rng rng(11);
      Tensor x0 = random_tensor(s, rng), x1 = random_tensor(s, rng), r = random_tensor(s, rng);
      LayoutRun run = run_in_layouts(h.node(), {x0, x1}, {t0, t1}, Mode::train, &r);
      EXPECT_TRUE(all_close(run.dst, h.reference({x0, x1}, true), 1e-6f, 0)) << s.str();
      EXPECT_TRUE(run.dst_desc == desc_of(s, t0)) << "add must produce input 0's layout";
      EXPECT_TRUE(all_close(run.diff_src[0], r, 0, 0));
      EXPECT_TRUE(all_close(run.diff_src[1], r, 0, 0));
    }
}

TEST(Add, RejectsMismatchedShapes) {
  const OpDef& def = op_def(OpKind::add);
  Node node;
  node.name = "residual";
  node.op = OpKind::add;
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 4, 8, 8}}), Error);
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 64}}), Error);
  Graph g;
  int x = g.add_input("x", {3, 8, 8});
  EXPECT_THROW(g.add_node(OpKind::add, "one_input", {x}), Error);
  EXPECT_THROW(g.add_node(OpKind::add, "three_inputs", {x, x, x}), Error);
}

}  // namespace
}  // namespace nimble::testing
