#include "eltwise_test_util.hpp"

namespace nimble::testing {
namespace {

TEST(Tanh, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::tanh); }
TEST(Tanh, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::tanh); }
TEST(Tanh, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::tanh); }
TEST(Tanh, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::tanh); }

// Odd, saturating, and its gradient is 1 - tanh^2.
TEST(Tanh, SaturatesAndDerivative) {
  const std::vector<float> xs = {-30.0f, -1.5f, 0.0f, 0.5f, 30.0f};
  OpHarness h(OpKind::tanh, {}, {{1, 5}});
  Tensor x({1, 5});
  std::copy(xs.begin(), xs.end(), x.data<float>());
  Tensor y = h.forward({x}, Mode::eval);
  EXPECT_EQ(y.data<float>()[0], -1.0f);
  EXPECT_EQ(y.data<float>()[2], 0.0f);
  EXPECT_EQ(y.data<float>()[4], 1.0f);
  std::vector<float> want;
  want.reserve(xs.size());
  for (float v : xs) want.push_back(float(1.0 - std::tanh(double(v)) * std::tanh(double(v))));
  expect_derivative(OpKind::tanh, xs, want);
}

// In a Session between two layers (blocked layouts, train mode), in fp32 and in bf16/fp16 (the
// loop widens and rounds): output and input gradient against the fp32 reference chain.
TEST(Tanh, RunsInASessionInEveryPrecision) {
  Rng rng(5);
  Graph g;
  const int x = g.add_input("x", {3, 9, 9});
  const int conv = g.add_node(OpKind::conv2d, "conv", {x},
                              {{"out_channels", int64_t(5)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  const int act = g.add_node(OpKind::tanh, "act", {conv});
  g.add_node(OpKind::global_avg_pool, "gap", {act});
  const Tensor in = random_tensor({2, 3, 9, 9}, rng, -2.0f, 2.0f);
  const Node& c = g.nodes()[0];
  const Tensor pre = op_def(c.op).reference(c, {in}, true);
  const Tensor post = op_def(OpKind::tanh).reference(g.nodes()[1], {pre}, true);
  const Tensor want = op_def(OpKind::global_avg_pool).reference(g.nodes()[2], {post}, true);
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16}) {
    Session s(g, {.batch = 2, .mode = Mode::train, .precision = p});
    const float tol = p == Precision::fp32 ? 1e-5f : 3e-2f;
    EXPECT_TRUE(all_close(s.forward(in), want, tol, tol)) << precision_name(p);
    Tensor ones(want.shape());
    ones.fill(1.0f);
    s.backward(ones);
    EXPECT_TRUE(all_close(s.value(act), post, tol, tol)) << precision_name(p);
  }
}

}  // namespace
}  // namespace nimble::testing
