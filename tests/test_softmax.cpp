#include <cmath>

#include "kernel_runner.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

struct SoftmaxCase {
  Shape shape;
  int64_t axis;
};

const SoftmaxCase kCases[] = {
    {{1, 1}, 1},           // a single class: always 1
    {{3, 13}, 1},          // logits
    {{2, 1000}, -1},       // many classes, negative axis
    {{2, 5, 7, 9}, 1},     // over channels
    {{2, 5, 7, 9}, 3},     // over the innermost axis
    {{3, 4, 5}, 0},        // over the batch
    {{2, 3, 4, 5, 3}, 2},  // rank 5
    {{1, 127, 1, 1}, 1},   // classifier output kept 4-D
};

Attrs attrs_of(const SoftmaxCase& c) { return {{"axis", c.axis}}; }

TEST(Softmax, ForwardMatchesReference) {
  for (const SoftmaxCase& c : kCases) {
    OpHarness h(OpKind::softmax, attrs_of(c), {c.shape});
    expect_matches_reference(h, Mode::eval, 3, 1e-6f, 1e-4f);
    expect_matches_reference(h, Mode::train, 4, 1e-6f, 1e-4f);
  }
}

TEST(Softmax, GradientsMatchFiniteDifferences) {
  for (const SoftmaxCase& c : kCases) {
    OpHarness h(OpKind::softmax, attrs_of(c), {c.shape});
    expect_gradients_match_fd(h, 7, 1e-2f, 1e-4f, 1e-2f);
  }
}

// Large logits must not overflow (the max is subtracted) and rows sum to 1.
TEST(Softmax, StableForLargeLogits) {
  OpHarness h(OpKind::softmax, {}, {{4, 10}});
  Rng rng(5);
  Tensor x = random_tensor({4, 10}, rng, -500.0f, 500.0f);
  x.data<float>()[0] = 1e30f;
  Tensor y = h.forward({x}, Mode::eval);
  EXPECT_TRUE(all_close(y, h.reference({x}, false), 1e-6f, 1e-4f));
  for (int64_t b = 0; b < 4; ++b) {
    double sum = 0;
    for (int64_t k = 0; k < 10; ++k) {
      ASSERT_TRUE(std::isfinite(y.data<float>()[b * 10 + k]));
      sum += y.data<float>()[b * 10 + k];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  EXPECT_NEAR(y.data<float>()[0], 1.0f, 1e-7f);
}

// A blocked input is reordered to plain for the softmax; its gradient goes back in the blocked layout.
TEST(Softmax, AcceptsBlockedInput) {
  const Shape s{2, 19, 3, 5};
  OpHarness h(OpKind::softmax, {}, {s});
  KernelRunner run(h.node(), {s}, {layout(s, kernels::tag::nChw16c)}, Mode::train);
  EXPECT_EQ(run.dst_desc(), kernels::plain_desc(s));
  Rng rng(8);
  Tensor x = random_tensor(s, rng), r = random_tensor(s, rng);
  EXPECT_TRUE(all_close(run.forward({x}), h.reference({x}, true), 1e-6f, 1e-4f));
  Tensor dx = run.backward(r)[0];
  EXPECT_EQ(run.src_desc(0), layout(s, kernels::tag::nChw16c));
  EXPECT_TRUE(all_close(dx, h.backward({x}, r)[0], 1e-7f, 1e-5f));
}

TEST(Softmax, RejectsBadShapes) {
  Node node;
  node.name = "sm";
  node.op = OpKind::softmax;
  const OpDef& def = op_def(OpKind::softmax);
  EXPECT_THROW(def.infer(node, {{10}}), Error);  // rank 1: no batch axis
  node.attrs["axis"] = int64_t(2);
  EXPECT_THROW(def.infer(node, {{4, 10}}), Error);
  node.attrs["axis"] = int64_t(-3);
  EXPECT_THROW(def.infer(node, {{4, 10}}), Error);
  node.attrs["axis"] = int64_t(-2);
  EXPECT_EQ(def.infer(node, {{4, 10}}), Shape({4, 10}));
}

}  // namespace
}  // namespace nimble::testing
