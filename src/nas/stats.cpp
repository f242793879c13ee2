#include "nimble/nas/stats.hpp"

#include <cmath>
#include <cstddef>
#include <string>

#include "nimble/core/error.hpp"

namespace nimble::nas {

namespace {

int sign(double v) { return (v > 0) - (v < 0); }

void check_relative_inputs(const std::vector<double>& predicted, const std::vector<double>& measured) {
  NIMBLE_CHECK(predicted.size() == measured.size(), "predicted and measured values must have the same count (" +
                                                        std::to_string(predicted.size()) + " vs " +
                                                        std::to_string(measured.size()) + ")");
  NIMBLE_CHECK(!measured.empty(), "relative error needs at least one measured value");
  for (double m : measured)
    NIMBLE_CHECK(m > 0, "relative error needs measured values > 0 (got " + std::to_string(m) + ")");
}

// Solves a * w = b in place for symmetric positive definite `a` (row-major n x n) by Cholesky; returns false
// when a pivot is not clearly positive (singular or not positive definite).
bool solve_spd(std::vector<double>& a, std::vector<double>& b, size_t n) {
  double max_diag = 0;
  for (size_t i = 0; i < n; ++i) max_diag = std::fmax(max_diag, a[i * n + i]);
  const double tiny = 1e-12 * max_diag;
  for (size_t j = 0; j < n; ++j) {  // a = L L^T, L stored in the lower triangle
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > tiny)) return false;
    const double l_jj = std::sqrt(d);
    a[j * n + j] = l_jj;
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l_jj;
    }
  }
  for (size_t i = 0; i < n; ++i) {  // L z = b
    for (size_t k = 0; k < i; ++k) b[i] -= a[i * n + k] * b[k];
    b[i] /= a[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {  // L^T w = z
    for (size_t k = i + 1; k < n; ++k) b[i] -= a[k * n + i] * b[k];
    b[i] /= a[i * n + i];
  }
  return true;
}

// Per-feature mean and population standard deviation; a constant feature gets scale 0 here (the caller
// turns it into 1).
void feature_moments(const std::vector<std::vector<double>>& x, std::vector<double>& mean, std::vector<double>& scale) {
  const size_t d = x.front().size();
  const auto n = static_cast<double>(x.size());
  mean.assign(d, 0);
  scale.assign(d, 0);
  for (const auto& row : x)
    for (size_t j = 0; j < d; ++j) mean[j] += row[j];
  for (double& m : mean) m /= n;
  for (const auto& row : x)
    for (size_t j = 0; j < d; ++j) scale[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
  for (double& s : scale) s = std::sqrt(s / n);
}

}  // namespace

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  NIMBLE_CHECK(a.size() == b.size(), "kendall_tau needs two samples of the same size (" + std::to_string(a.size()) +
                                         " vs " + std::to_string(b.size()) + ")");
  NIMBLE_CHECK(a.size() >= 2, "kendall_tau needs at least two pairs");
  // tau-b = (concordant - discordant) / sqrt(pairs untied in a * pairs untied in b)
  double score = 0, untied_a = 0, untied_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const int sa = sign(a[i] - a[j]), sb = sign(b[i] - b[j]);
      score += sa * sb;
      untied_a += sa != 0;
      untied_b += sb != 0;
    }
  }
  if (untied_a == 0 || untied_b == 0) return 0;
  return score / std::sqrt(untied_a * untied_b);
}

double mean_abs_percentage_error(const std::vector<double>& predicted, const std::vector<double>& measured) {
  check_relative_inputs(predicted, measured);
  double sum = 0;
  for (size_t i = 0; i < measured.size(); ++i) sum += std::fabs(predicted[i] - measured[i]) / measured[i];
  return sum / static_cast<double>(measured.size());
}

double fraction_within(const std::vector<double>& predicted, const std::vector<double>& measured, double tolerance) {
  check_relative_inputs(predicted, measured);
  NIMBLE_CHECK(tolerance >= 0, "fraction_within needs a tolerance >= 0");
  size_t within = 0;
  for (size_t i = 0; i < measured.size(); ++i)
    within += std::fabs(predicted[i] - measured[i]) / measured[i] <= tolerance;
  return static_cast<double>(within) / static_cast<double>(measured.size());
}

double RidgeModel::predict(const std::vector<double>& x) const {
  NIMBLE_CHECK(x.size() == weights.size(),
               "ridge model expects " + std::to_string(weights.size()) + " features, got " + std::to_string(x.size()));
  double y = bias;
  for (size_t j = 0; j < x.size(); ++j) y += weights[j] * (x[j] - mean[j]) / scale[j];
  return y;
}

RidgeModel fit_ridge(const std::vector<std::vector<double>>& x, const std::vector<double>& y, double lambda) {
  NIMBLE_CHECK(!x.empty(), "fit_ridge needs at least one sample");
  NIMBLE_CHECK(x.size() == y.size(), "fit_ridge needs one target per sample (" + std::to_string(x.size()) +
                                         " samples, " + std::to_string(y.size()) + " targets)");
  NIMBLE_CHECK(lambda >= 0, "fit_ridge needs lambda >= 0");
  const size_t d = x.front().size();
  for (size_t r = 0; r < x.size(); ++r) {
    NIMBLE_CHECK(x[r].size() == d, "fit_ridge needs the same feature count in every sample");
    bool finite = std::isfinite(y[r]);
    for (double v : x[r]) finite = finite && std::isfinite(v);
    NIMBLE_CHECK(finite, "fit_ridge: sample " + std::to_string(r) + " has a non-finite feature or target");
  }

  RidgeModel model;
  std::vector<double> sd;
  feature_moments(x, model.mean, sd);
  model.scale = sd;
  for (double& s : model.scale) s = s > 0 ? s : 1;
  double y_mean = 0;
  for (double v : y) y_mean += v;
  model.bias = y_mean / static_cast<double>(y.size());

  std::vector<double> gram(d * d, 0), rhs(d, 0), z(d);
  for (size_t r = 0; r < x.size(); ++r) {
    for (size_t j = 0; j < d; ++j) z[j] = (x[r][j] - model.mean[j]) / model.scale[j];
    for (size_t i = 0; i < d; ++i) {
      rhs[i] += z[i] * (y[r] - model.bias);
      for (size_t j = 0; j <= i; ++j) gram[i * d + j] += z[i] * z[j];
    }
  }
  for (size_t i = 0; i < d; ++i) {
    for (size_t j = 0; j < i; ++j) gram[j * d + i] = gram[i * d + j];
    // A constant feature's column is all zero: a unit diagonal pins its weight to 0 even when lambda = 0.
    gram[i * d + i] += sd[i] > 0 ? lambda : 1;
  }
  NIMBLE_CHECK(solve_spd(gram, rhs, d), "fit_ridge: the features are collinear; use lambda > 0");
  model.weights = rhs;
  return model;
}

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  NIMBLE_CHECK(x.size() == y.size(), "fit_line needs as many y values as x values (" + std::to_string(x.size()) +
                                         " vs " + std::to_string(y.size()) + ")");
  NIMBLE_CHECK(x.size() >= 2, "fit_line needs at least two points");
  const auto n = static_cast<double>(x.size());
  double x_mean = 0, y_mean = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    x_mean += x[i];
    y_mean += y[i];
  }
  x_mean /= n;
  y_mean /= n;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - x_mean) * (x[i] - x_mean);
    sxy += (x[i] - x_mean) * (y[i] - y_mean);
  }
  NIMBLE_CHECK(sxx > 0, "fit_line needs at least two distinct x values");
  LineFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = y_mean - fit.slope * x_mean;
  return fit;
}

}  // namespace nimble::nas
