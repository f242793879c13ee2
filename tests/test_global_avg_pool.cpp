#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

const Shape kShapes[] = {{1, 1, 1, 1}, {2, 3, 13, 13}, {1, 17, 127, 3}, {3, 16, 7, 7}, {2, 5, 1, 9}};

TEST(GlobalAvgPool, ForwardMatchesReference) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::global_avg_pool, {}, {s});
    EXPECT_EQ(h.out_shape(), (Shape{s[0], s[1], 1, 1}));
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

TEST(GlobalAvgPool, GradientsMatchFiniteDifferences) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::global_avg_pool, {}, {s});
    expect_gradients_match_fd(h, 7);
  }
}

TEST(GlobalAvgPool, KeepsBlockedLayoutAndMatchesInIt) {
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc})
    for (const Shape& s : kShapes) {
      OpHarness h(OpKind::global_avg_pool, {}, {s});
      Rng rng(11);
      Tensor x = random_tensor(s, rng), r = random_tensor(h.out_shape(), rng);
      LayoutRun run = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r);
      EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 1e-5f, 1e-5f)) << s.str();
      EXPECT_TRUE(run.dst_desc == desc_of(h.out_shape(), t)) << "global_avg_pool changed its input's layout";
      EXPECT_TRUE(all_close(run.diff_src[0], h.backward({x}, r)[0], 1e-6f, 1e-6f)) << s.str();
    }
}

TEST(GlobalAvgPool, WideBlockedHead) {
  // The shape a MobileNet head hands over: many channels, tiny image, blocked layout.
  const Shape s{16, 1280, 2, 2};
  OpHarness gap(OpKind::global_avg_pool, {}, {s});
  Rng rng(5);
  Tensor x = random_tensor(s, rng), r = random_tensor(gap.out_shape(), rng);
  for (tag t : {tag::nChw16c, tag::nhwc}) {
    LayoutRun run = run_in_layouts(gap.node(), {x}, {t}, Mode::train, &r);
    EXPECT_TRUE(all_close(run.dst, gap.reference({x}, true), 1e-6f, 1e-5f));
    Tensor want(s);
    for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = r.data<float>()[i / 4] / 4.0f;
    EXPECT_TRUE(all_close(run.diff_src[0], want, 1e-7f, 1e-6f));
  }
}

TEST(GlobalAvgPool, RejectsBadShapes) {
  const OpDef& def = op_def(OpKind::global_avg_pool);
  Node node;
  node.name = "gap";
  node.op = OpKind::global_avg_pool;
  EXPECT_THROW(def.infer(node, {{2, 16}}), Error);
  EXPECT_THROW(def.infer(node, {{2, 16, 7}}), Error);
  EXPECT_THROW(def.infer(node, {{2, 16, 0, 7}}), Error);
}

}  // namespace
}  // namespace nimble::testing
