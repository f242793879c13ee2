#include "eltwise_test_util.hpp"

namespace nimble::testing {
namespace {

TEST(Hardswish, ForwardMatchesReference) { expect_eltwise_matches_reference(OpKind::hardswish); }
TEST(Hardswish, GradientsMatchFiniteDifferences) { expect_eltwise_gradients_match_fd(OpKind::hardswish); }
TEST(Hardswish, KeepsBlockedLayout) { expect_eltwise_blocked_layout(OpKind::hardswish); }
TEST(Hardswish, RejectsBadShapes) { expect_eltwise_rejects_empty(OpKind::hardswish); }

// oneDNN 2.6's hardswish ignores alpha/beta and computes x * relu6(x + 3) / 6 (the MobileNetV3
// definition, PyTorch's F.hardswish); checked over the whole interesting range, kinks included.
TEST(Hardswish, ForwardMatchesDefinitionAcrossKinks) {
  const int64_t n = 161;
  OpHarness h(OpKind::hardswish, {}, {{1, n}});
  Tensor x({1, n});
  for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = -8.0f + 0.1f * float(i);  // -8 .. 8, hits -3, 0, 3
  Tensor y = h.forward({x}, Mode::eval);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x.data<float>()[i];
    const double want = v * std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
    EXPECT_NEAR(y.data<float>()[i], want, 1e-5) << "hardswish(" << v << ")";
  }
}

// Derivative: 0 below -3, x/3 + 1/2 inside, 1 above 3. At the kinks oneDNN gives 0 at -3 and 1 at 3,
// as current PyTorch does (PyTorch 1.13 returned -0.5 and 1.5 there: a measure-zero difference).
TEST(Hardswish, DerivativeAtBoundaries) {
  expect_derivative(OpKind::hardswish, {-5.0f, -3.0f, -2.5f, 0.0f, 1.5f, 2.5f, 3.0f, 4.0f},
                    {0.0f, 0.0f, -2.5f / 3 + 0.5f, 0.5f, 1.0f, 2.5f / 3 + 0.5f, 1.0f, 1.0f});
}

}  // namespace
}  // namespace nimble::testing
