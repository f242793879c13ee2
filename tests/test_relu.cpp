#include "eltwise_test_util.hpp"

namespace nimble::testing {
namespace {

TEST(Relu, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::relu); }
TEST(Relu, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::relu); }
TEST(Relu, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::relu); }
TEST(Relu, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::relu); }

// PyTorch: relu'(x) = (x > 0), so 0 at exactly 0.
TEST(Relu, DerivativeAtBoundaries) {
  expect_derivative(OpKind::relu, {-2.0f, -1e-6f, 0.0f, -0.0f, 1e-6f, 3.0f}, {0, 0, 0, 0, 1, 1});
}

}  // namespace
}  // namespace nimble::testing
