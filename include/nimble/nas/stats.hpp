#pragma once
// Statistics the architecture search needs to judge and calibrate its cost predictors: rank agreement
// (does the predictor order candidates as the hardware does?), relative error, and two small regressions.
#include <vector>

namespace nimble::nas {

// Kendall's tau-b between two paired samples (ties handled); O(n^2). In [-1, 1]; 0 when either side is
// constant. Throws nimble::Error unless the sizes match and n >= 2.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

// Mean of |predicted - measured| / measured, as a fraction (0.05 = 5 %). Every measured value must be > 0.
double mean_abs_percentage_error(const std::vector<double>& predicted, const std::vector<double>& measured);

// Fraction of pairs with |predicted - measured| / measured <= tolerance. Every measured value must be > 0.
double fraction_within(const std::vector<double>& predicted, const std::vector<double>& measured, double tolerance);

// A linear model on standardised features: predict(x) = bias + sum_j weights[j] * (x[j] - mean[j]) / scale[j].
struct RidgeModel {
  std::vector<double> mean, scale, weights;
  double bias = 0;
  double predict(const std::vector<double>& x) const;
};

// Ridge regression in closed form, (Z^T Z + lambda I) w = Z^T (y - mean(y)) with Z the standardised features
// (population std; a constant feature gets scale 1 and weight 0); bias = mean(y). lambda >= 0; lambda = 0 is
// plain least squares and throws if the features are collinear.
RidgeModel fit_ridge(const std::vector<std::vector<double>>& x, const std::vector<double>& y, double lambda);

// y = slope * x + intercept; the default is the identity (an uncalibrated predictor).
struct LineFit {
  double slope = 1, intercept = 0;
  double operator()(double x) const { return slope * x + intercept; }
};

// Least-squares line through (x, y). Throws unless the sizes match, n >= 2 and x is not constant.
LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace nimble::nas
