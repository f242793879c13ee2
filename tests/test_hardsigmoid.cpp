#include "eltwise_test_util.hpp"

namespace nimble::testing {
namespace {

TEST(Hardsigmoid, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::hardsigmoid); }
TEST(Hardsigmoid, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::hardsigmoid); }
TEST(Hardsigmoid, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::hardsigmoid); }
TEST(Hardsigmoid, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::hardsigmoid); }

// PyTorch's F.hardsigmoid = relu6(x + 3) / 6 = ONNX HardSigmoid(alpha = 1/6, beta = 0.5), over
// -8 .. 8 in steps of 0.1 (hits -3, 0 and 3).
TEST(Hardsigmoid, ForwardMatchesDefinitionAcrossKinks) {
  const int64_t n = 161;
  OpHarness h(OpKind::hardsigmoid, {}, {{1, n}});
  Tensor x({1, n});
  for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = -8.0f + 0.1f * float(i);
  Tensor y = h.forward({x}, Mode::eval);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x.data<float>()[i];
    EXPECT_NEAR(y.data<float>()[i], std::max(0.0, std::min(1.0, v / 6.0 + 0.5)), 1e-6) << "hardsigmoid(" << v << ")";
  }
  EXPECT_EQ(y.data<float>()[80], 0.5f);  // x = 0
}

// 1/6 strictly inside (-3, 3), 0 outside and at the kinks themselves (PyTorch's hardsigmoid_backward).
TEST(Hardsigmoid, DerivativeAtBoundaries) {
  expect_derivative(OpKind::hardsigmoid, {-5.0f, -3.0f, -2.999f, 0.0f, 2.999f, 3.0f, 4.0f},
                    {0.0f, 0.0f, 1.0f / 6, 1.0f / 6, 1.0f / 6, 0.0f, 0.0f});
}

// Squeeze-excitation gate shape, in a training Session: conv -> hardsigmoid -> pool in fp32 and
// bf16 / fp16 (the generic kernel widens and rounds) against the fp32 reference chain.
TEST(Hardsigmoid, RunsInASessionInEveryPrecision) {
  Rng rng(5);
  Graph g;
  const int x = g.add_input("x", {3, 9, 9});
  const int conv = g.add_node(OpKind::conv2d, "conv", {x},
                              {{"out_channels", int64_t(5)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  const int act = g.add_node(OpKind::hardsigmoid, "act", {conv});
  g.add_node(OpKind::global_avg_pool, "gap", {act});
  const Tensor in = random_tensor({2, 3, 9, 9}, rng, -4.0f, 4.0f);
  const Tensor pre = op_def(OpKind::conv2d).reference(g.nodes()[0], {in}, true);
  const Tensor post = op_def(OpKind::hardsigmoid).reference(g.nodes()[1], {pre}, true);
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

// No oneDNN algorithm in 2.6: it must not be offered as a post-op.
TEST(Hardsigmoid, IsNotAFusableActivation) {
  EXPECT_FALSE(op_traits(OpKind::hardsigmoid).fuses_into_matmul);
  EXPECT_EQ(op_traits(OpKind::hardsigmoid).onednn_eltwise, EltwiseAlgorithm::none);
}

}  // namespace
}  // namespace nimble::testing
