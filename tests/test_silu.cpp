#include "eltwise_test_util.hpp"
#include "nimble/graph/passes.hpp"

namespace nimble::testing {
namespace {

TEST(Silu, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::silu); }
TEST(Silu, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::silu); }
TEST(Silu, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::silu); }
TEST(Silu, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::silu); }

double silu(double x) { return x / (1.0 + std::exp(-x)); }

// oneDNN's swish with alpha = 1 is x * sigmoid(x): checked against the definition in double, far
// into both tails, and its derivative s + x s (1 - s).
TEST(Silu, MatchesDefinitionAndDerivative) {
  const std::vector<float> xs = {-40.0f, -6.0f, -1.2785f, -0.5f, 0.0f, 0.5f, 2.0f, 7.0f, 40.0f};
  const int64_t n = int64_t(xs.size());
  OpHarness h(OpKind::silu, {}, {{1, n}});
  Tensor x({1, n});
  std::copy(xs.begin(), xs.end(), x.data<float>());
  Tensor y = h.forward({x}, Mode::eval);
  std::vector<float> want_grad;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(y.data<float>()[i], silu(xs[size_t(i)]), 1e-5 + 1e-5 * std::fabs(xs[size_t(i)]))
        << "silu(" << xs[size_t(i)] << ")";
    const double s = 1.0 / (1.0 + std::exp(-double(xs[size_t(i)])));
    want_grad.push_back(float(s + xs[size_t(i)] * s * (1.0 - s)));
  }
  EXPECT_EQ(y.data<float>()[4], 0.0f);  // silu(0) = 0: channel pruning's per_channel rule relies on it
  expect_derivative(OpKind::silu, xs, want_grad);
}

// conv2d -> silu: the inference passes fuse it as a oneDNN post-op, and the fused session gives
// the unfused reference chain's output.
TEST(Silu, FusesIntoConvolutionAsPostOp) {
  Rng rng(3);
  Graph g;
  const int x = g.add_input("x", {3, 7, 7});
  g.add_node(OpKind::conv2d, "conv", {x}, {{"out_channels", int64_t(5)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  g.add_node(OpKind::silu, "act", {g.output()});
  const Graph fused = passes::optimize_for_inference(g);
  ASSERT_EQ(fused.nodes().size(), 1u);
  EXPECT_EQ(fused.nodes()[0].attr_str("activation", "none"), "silu");
  const Tensor in = random_tensor({2, 3, 7, 7}, rng, -2.0f, 2.0f);
  const Tensor pre = op_def(OpKind::conv2d).reference(g.nodes()[0], {in}, false);
  const Tensor want = op_def(OpKind::silu).reference(g.nodes()[1], {pre}, false);
  Session s(g, {.batch = 2, .mode = Mode::eval});
  EXPECT_TRUE(all_close(s.forward(in), want, 1e-5f, 1e-5f));
}

// In a training Session between two layers (blocked layouts), fp32 and bf16 / fp16: output and
// the input's activation against the fp32 reference chain.
TEST(Silu, RunsInASessionInEveryPrecision) {
  Rng rng(5);
  Graph g;
  const int x = g.add_input("x", {3, 9, 9});
  const int conv = g.add_node(OpKind::conv2d, "conv", {x},
                              {{"out_channels", int64_t(5)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  const int act = g.add_node(OpKind::silu, "act", {conv});
  g.add_node(OpKind::global_avg_pool, "gap", {act});
  const Tensor in = random_tensor({2, 3, 9, 9}, rng, -2.0f, 2.0f);
  const Tensor pre = op_def(OpKind::conv2d).reference(g.nodes()[0], {in}, true);
  const Tensor post = op_def(OpKind::silu).reference(g.nodes()[1], {pre}, true);
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
