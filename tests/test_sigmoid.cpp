#include "eltwise_test_util.hpp"

namespace nimble::testing {
namespace {

TEST(Sigmoid, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::sigmoid); }
TEST(Sigmoid, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::sigmoid); }
TEST(Sigmoid, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::sigmoid); }
TEST(Sigmoid, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::sigmoid); }

// Saturates without overflow and its gradient is y * (1 - y).
TEST(Sigmoid, SaturatesAndDerivative) {
  OpHarness h(OpKind::sigmoid, {}, {{1, 5}});
  Tensor x({1, 5});
  const float xs[] = {-100.0f, -2.0f, 0.0f, 2.0f, 100.0f};
  std::copy(xs, xs + 5, x.data<float>());
  Tensor y = h.forward({x}, Mode::eval);
  EXPECT_NEAR(y.data<float>()[0], 0.0f, 1e-7f);
  EXPECT_NEAR(y.data<float>()[2], 0.5f, 1e-7f);
  EXPECT_NEAR(y.data<float>()[4], 1.0f, 1e-7f);
  std::vector<float> want;
  for (float v : xs) {
    const double s = 1.0 / (1.0 + std::exp(-double(v)));
    want.push_back(float(s * (1.0 - s)));
  }
  expect_derivative(OpKind::sigmoid, std::vector<float>(xs, xs + 5), want);
}

}  // namespace
}  // namespace nimble::testing
