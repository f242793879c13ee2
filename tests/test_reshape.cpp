#include "kernels/dnnl_glue.hpp"
#include "layout_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct ReshapeCase {
  Shape in;
  std::vector<int64_t> shape;
  Shape out;
};

const ReshapeCase kCases[] = {
    {{2, 3, 13, 13}, {-1}, {2, 507}},    {{2, 3, 13, 13}, {13, -1}, {2, 13, 39}},
    {{1, 1, 1, 1}, {1}, {1, 1}},         {{3, 127}, {127, 1, 1}, {3, 127, 1, 1}},
    {{3, 12}, {2, -1, 3}, {3, 2, 2, 3}}, {{2, 17, 5, 7}, {7, 5, 17}, {2, 7, 5, 17}},
};

TEST(Reshape, ForwardMatchesReference) {
  for (const ReshapeCase& c : kCases) {
    OpHarness h(OpKind::reshape, {{"shape", c.shape}}, {c.in});
    EXPECT_EQ(h.out_shape(), c.out);
    expect_matches_reference(h, Mode::eval, 3, 0, 0);
    expect_matches_reference(h, Mode::train, 4, 0, 0);
  }
}

TEST(Reshape, GradientsMatchFiniteDifferences) {
  for (const ReshapeCase& c : kCases) {
    OpHarness h(OpKind::reshape, {{"shape", c.shape}}, {c.in});
    expect_gradients_match_fd(h, 7);
  }
}

TEST(Reshape, BlockedInputGivesPlainOutput) {
  for (tag t : {tag::nChw16c, tag::nhwc})
    for (const ReshapeCase& c : kCases) {
      if (c.in.rank() != 4) continue;
      OpHarness h(OpKind::reshape, {{"shape", c.shape}}, {c.in});
      Rng rng(11);
      Tensor x = random_tensor(c.in, rng), r = random_tensor(h.out_shape(), rng);
      LayoutRun run = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r);
      EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 0, 0)) << c.in.str();
      EXPECT_TRUE(run.dst_desc == kernels::plain_desc(h.out_shape()));
      EXPECT_TRUE(all_close(run.diff_src[0], r.reshaped(c.in), 0, 0)) << c.in.str();
    }
}

TEST(Reshape, RejectsBadShapes) {
  const OpDef& def = op_def(OpKind::reshape);
  Node node;
  node.name = "r";
  node.op = OpKind::reshape;
  EXPECT_THROW(def.infer(node, {{2, 12}}), Error);  // no shape attr
  auto with = [&](std::vector<int64_t> shape) {
    node.attrs["shape"] = std::move(shape);
    return def.infer(node, {{2, 3, 4}});
  };
  EXPECT_THROW(with({5}), Error);               // 5 != 12 elements
  EXPECT_THROW(with({5, -1}), Error);           // 12 is not a multiple of 5
  EXPECT_THROW(with({-1, -1}), Error);          // two unknowns
  EXPECT_THROW(with({0, 12}), Error);           // zero dim
  EXPECT_THROW(with({-2, -6}), Error);          // negative dims
  EXPECT_THROW(with({1, 1, 1, 1, 12}), Error);  // rank 6 with the batch
  EXPECT_EQ(with({3, 1, 4}), (Shape{2, 3, 1, 4}));
  try {
    with({5});
    FAIL() << "expected nimble::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("12"), std::string::npos) << e.what();  // says what the input holds
  }
}

}  // namespace
}  // namespace nimble::testing
