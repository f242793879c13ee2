#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"
#include "nimble/nas/stats.hpp"

namespace nimble::nas {
namespace {

TEST(NasStats, KendallTauAgreementAndReversal) {
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {40, 30, 20, 10}), -1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2}, {5, 3}), -1.0);
}

TEST(NasStats, KendallTauHandComputed) {
  // b's pairs: 7 concordant, 3 discordant of 10 -> (7 - 3) / 10.
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4, 5}, {3, 1, 2, 5, 4}), 0.4);
  // 4 concordant, 0 discordant, one pair tied in a only, one in b only: 4 / sqrt(5 * 5).
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 2, 3}, {1, 2, 3, 3}), 0.8);
  // Pairs (1,2)C (1,3)C (1,4)D (2,3)tied in a (2,4)D (3,4)D: untied in a 5, in b 6 -> (2 - 3) / sqrt(5 * 6).
  EXPECT_NEAR(kendall_tau({1, 2, 2, 3}, {2, 3, 4, 1}), -1.0 / std::sqrt(30.0), 1e-15);
}

TEST(NasStats, KendallTauConstantAndBadInput) {
  EXPECT_EQ(kendall_tau({1, 1, 1}, {1, 2, 3}), 0.0);
  EXPECT_EQ(kendall_tau({1, 2, 3}, {7, 7, 7}), 0.0);
  EXPECT_THROW(kendall_tau({1, 2, 3}, {1, 2}), Error);
  EXPECT_THROW(kendall_tau({1}, {1}), Error);
  EXPECT_THROW(kendall_tau({}, {}), Error);
}

TEST(NasStats, RelativeErrors) {
  const std::vector<double> measured{100, 100, 100, 50};
  const std::vector<double> predicted{110, 90, 100, 60};  // 10 %, 10 %, 0 %, 20 %
  EXPECT_NEAR(mean_abs_percentage_error(predicted, measured), 0.1, 1e-15);
  EXPECT_DOUBLE_EQ(fraction_within(predicted, measured, 0.05), 0.25);
  EXPECT_DOUBLE_EQ(fraction_within(predicted, measured, 0.1), 0.75);
  EXPECT_DOUBLE_EQ(fraction_within(predicted, measured, 0.2), 1.0);
  EXPECT_DOUBLE_EQ(fraction_within(predicted, measured, 0.0), 0.25);
  EXPECT_EQ(mean_abs_percentage_error({3, 4}, {3, 4}), 0.0);
  EXPECT_THROW(mean_abs_percentage_error({1, 2}, {1, 0}), Error);
  EXPECT_THROW(mean_abs_percentage_error({1, 2}, {1, -2}), Error);
  EXPECT_THROW(mean_abs_percentage_error({1}, {1, 2}), Error);
  EXPECT_THROW(mean_abs_percentage_error({}, {}), Error);
  EXPECT_THROW(fraction_within({1}, {1}, -0.1), Error);
  EXPECT_THROW(fraction_within({1}, {0}, 0.1), Error);
}

// 60 samples of (x0, x1, 7): y = 2 x0 - 3 x1 + 5; the constant third feature must not disturb the fit.
void linear_data(std::vector<std::vector<double>>& x, std::vector<double>& y) {
  Rng rng(11);
  for (int i = 0; i < 60; ++i) {
    const double x0 = rng.uniform(-3, 3), x1 = rng.uniform(0, 10);
    x.push_back({x0, x1, 7});
    y.push_back(2 * x0 - 3 * x1 + 5);
  }
}

TEST(NasStats, RidgeRecoversALinearFunction) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  linear_data(x, y);
  const RidgeModel model = fit_ridge(x, y, 1e-6);
  ASSERT_EQ(model.weights.size(), 3u);
  EXPECT_EQ(model.scale[2], 1.0);
  EXPECT_EQ(model.weights[2], 0.0);
  for (const auto& probe : std::vector<std::vector<double>>{{0, 0, 7}, {1, 1, 7}, {-2.5, 9, 7}, {10, -4, 7}})
    EXPECT_NEAR(model.predict(probe), 2 * probe[0] - 3 * probe[1] + 5, 1e-4);
  // lambda = 0 is plain least squares: exact here.
  const RidgeModel exact = fit_ridge(x, y, 0);
  EXPECT_NEAR(exact.predict({1.5, 2.5, 7}), 2 * 1.5 - 3 * 2.5 + 5, 1e-9);
  EXPECT_THROW(model.predict({1, 2}), Error);
}

TEST(NasStats, RidgeShrinksWithLargeLambda) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  linear_data(x, y);
  const RidgeModel loose = fit_ridge(x, y, 1e-6), mid = fit_ridge(x, y, 100), tight = fit_ridge(x, y, 1e9);
  auto norm = [](const std::vector<double>& w) {
    double s = 0;
    for (double v : w) s += v * v;
    return std::sqrt(s);
  };
  EXPECT_LT(norm(mid.weights), 0.9 * norm(loose.weights));
  EXPECT_LT(norm(tight.weights), 1e-6 * norm(loose.weights));
  double y_mean = 0;
  for (double v : y) y_mean += v;
  y_mean /= static_cast<double>(y.size());
  EXPECT_NEAR(tight.predict({2, 3, 7}), y_mean, 1e-3);
  EXPECT_DOUBLE_EQ(tight.bias, y_mean);
}

TEST(NasStats, RidgeBadInput) {
  EXPECT_THROW(fit_ridge({}, {}, 1), Error);
  EXPECT_THROW(fit_ridge({{1, 2}, {3, 4}}, {1}, 1), Error);
  EXPECT_THROW(fit_ridge({{1, 2}, {3}}, {1, 2}, 1), Error);
  EXPECT_THROW(fit_ridge({{1, 2}, {3, 4}}, {1, 2}, -1), Error);
  EXPECT_THROW(fit_ridge({{1, 2}, {3, NAN}}, {1, 2}, 1), Error);
  // Collinear features (x1 = 2 x0): singular without ridge, fine with it.
  const std::vector<std::vector<double>> collinear{{1, 2}, {2, 4}, {3, 6}, {4, 8}};
  const std::vector<double> y{1, 2, 3, 4};
  EXPECT_THROW(fit_ridge(collinear, y, 0), Error);
  EXPECT_NEAR(fit_ridge(collinear, y, 1e-6).predict({5, 10}), 5, 1e-4);
}

TEST(NasStats, FitLineIsExactOnALine) {
  const LineFit fit = fit_line({0, 1, 2, 3, 10}, {-1, 1.5, 4, 6.5, 24});
  EXPECT_NEAR(fit.slope, 2.5, 1e-12);
  EXPECT_NEAR(fit.intercept, -1, 1e-12);
  EXPECT_NEAR(fit(4), 9, 1e-12);
  // Least squares through scattered points: (0,0), (1,2), (2,1) -> slope 0.5, intercept 0.5.
  const LineFit scattered = fit_line({0, 1, 2}, {0, 2, 1});
  EXPECT_NEAR(scattered.slope, 0.5, 1e-12);
  EXPECT_NEAR(scattered.intercept, 0.5, 1e-12);
  EXPECT_EQ(LineFit{}(3.5), 3.5);  // the default is the identity
  EXPECT_THROW(fit_line({1, 1, 1}, {1, 2, 3}), Error);
  EXPECT_THROW(fit_line({1}, {1}), Error);
  EXPECT_THROW(fit_line({1, 2}, {1}), Error);
}

}  // namespace
}  // namespace nimble::nas
