#include "eltwise_test_util.hpp"

namespace nimble::testing {
namespace {

TEST(Relu6, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::relu6); }
TEST(Relu6, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::relu6); }
TEST(Relu6, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::relu6); }
TEST(Relu6, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::relu6); }

// PyTorch (hardtanh_backward): the gradient is 0 at x <= 0 and at x >= 6, 1 strictly between.
// oneDNN's clip (v1) would pass the gradient at exactly 6; clip_v2 does not.
TEST(Relu6, DerivativeAtBoundaries) {
  expect_derivative(OpKind::relu6, {-1.0f, 0.0f, 1e-6f, 3.0f, 5.9999f, 6.0f, 6.0001f, 9.0f}, {0, 0, 1, 1, 1, 0, 0, 0});
}

TEST(Relu6, ClampsAtSix) {
  OpHarness h(OpKind::relu6, {}, {{1, 5}});
  Tensor x({1, 5});
  const float xs[] = {-3.0f, 0.0f, 5.5f, 6.0f, 100.0f};
  std::copy(xs, xs + 5, x.data<float>());
  Tensor y = h.forward({x}, Mode::eval);
  const float want[] = {0.0f, 0.0f, 5.5f, 6.0f, 6.0f};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(y.data<float>()[i], want[i]);
}

}  // namespace
}  // namespace nimble::testing
