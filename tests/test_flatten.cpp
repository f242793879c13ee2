#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

const Shape kShapes[] = {{1, 1, 1, 1}, {2, 3, 13, 13}, {3, 127}, {2, 3, 4, 5, 6}, {1, 17, 1, 1}};

TEST(Flatten, ForwardMatchesReference) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::flatten, {}, {s});
    EXPECT_EQ(h.out_shape(), (Shape{s[0], s.numel() / s[0]}));
    expect_matches_reference(h, Mode::eval, 3, 0, 0);
    expect_matches_reference(h, Mode::train, 4, 0, 0);
  }
}

TEST(Flatten, GradientsMatchFiniteDifferences) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::flatten, {}, {s});
    expect_gradients_match_fd(h, 7);
  }
}

TEST(Flatten, BlockedInputGivesPlainOutput) {
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc})
    for (const Shape& s : {Shape{2, 3, 13, 13}, Shape{3, 17, 5, 7}, Shape{1, 32, 1, 1}}) {
      OpHarness h(OpKind::flatten, {}, {s});
      Rng rng(11);
      Tensor x = random_tensor(s, rng), r = random_tensor(h.out_shape(), rng);
      LayoutRun run = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r);
      EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 0, 0)) << s.str();
      EXPECT_TRUE(run.dst_desc == desc_of(h.out_shape(), tag::ab));
      EXPECT_TRUE(all_close(run.diff_src[0], r.reshaped(s), 0, 0)) << s.str();
    }
}

TEST(Flatten, RejectsRankOne) {
  Node node;
  node.name = "f";
  node.op = OpKind::flatten;
  EXPECT_THROW(op_def(OpKind::flatten).infer(node, {{7}}), Error);
}

}  // namespace
}  // namespace nimble::testing
