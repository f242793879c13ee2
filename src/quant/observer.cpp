#include "nimble/quant/observer.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "nimble/core/error.hpp"

namespace nimble::quant {

namespace {
constexpr double kEmaConstant = 0.1;
constexpr double kPercentile = 0.9999;
const char* const kNames[] = {"minmax", "ema-minmax", "percentile", "entropy", "mse"};

// KL(P || Q) of `p` (first i bins, outliers folded into the last) against its quantization to
// `levels` levels, each level spreading its mass evenly over its non-empty bins (TensorRT).
double kl_for_threshold(const std::vector<double>& hist, int i, int levels) {
  std::vector<double> p(hist.begin(), hist.begin() + i);
  for (size_t b = size_t(i); b < hist.size(); ++b) p[size_t(i) - 1] += hist[b];
  std::vector<double> q(size_t(i), 0.0);
  const double per_level = double(i) / levels;
  for (int j = 0; j < levels; ++j) {
    const int start = int(std::floor(j * per_level)), end = std::max(start + 1, int(std::floor((j + 1) * per_level)));
    double total = 0;
    int nonzero = 0;
    for (int b = start; b < end && b < i; ++b) {
      total += hist[size_t(b)];
      nonzero += p[size_t(b)] > 0;
    }
    for (int b = start; b < end && b < i; ++b)
      if (p[size_t(b)] > 0) q[size_t(b)] = total / nonzero;
  }
  double sp = 0, sq = 0;
  for (int b = 0; b < i; ++b) sp += p[size_t(b)], sq += q[size_t(b)];
  if (sp <= 0 || sq <= 0) return 1e300;
  double kl = 0;
  for (int b = 0; b < i; ++b) {
    if (p[size_t(b)] <= 0) continue;
    const double pn = p[size_t(b)] / sp, qn = std::max(q[size_t(b)] / sq, 1e-12);
    kl += pn * std::log(pn / qn);
  }
  return kl;
}
}  // namespace

ObserverKind observer_from_name(const std::string& name) {
  for (int i = 0; i < 5; ++i)
    if (name == kNames[i]) return ObserverKind(i);
  throw Error("unknown observer '" + name + "' (expected minmax, ema-minmax, percentile, entropy or mse)");
}
const char* observer_name(ObserverKind k) { return kNames[int(k)]; }
bool needs_histogram(ObserverKind k) {
  return k == ObserverKind::percentile || k == ObserverKind::entropy || k == ObserverKind::mse;
}

void Observer::observe_range(const float* x, int64_t n) {
  if (n <= 0) return;
  double lo = x[0], hi = x[0];
  for (int64_t i = 1; i < n; ++i) lo = std::min(lo, double(x[i])), hi = std::max(hi, double(x[i]));
  NIMBLE_CHECK(std::isfinite(lo) && std::isfinite(hi), "calibration saw a non-finite activation");
  if (!seen_) {
    min_ = ema_min_ = lo, max_ = ema_max_ = hi;
    seen_ = true;
    return;
  }
  min_ = std::min(min_, lo), max_ = std::max(max_, hi);
  ema_min_ += kEmaConstant * (lo - ema_min_);
  ema_max_ += kEmaConstant * (hi - ema_max_);
}

void Observer::merge_range(double lo, double hi) {
  if (!seen_) {
    min_ = ema_min_ = lo, max_ = ema_max_ = hi;
    seen_ = true;
    return;
  }
  min_ = std::min(min_, lo), max_ = std::max(max_, hi);
}

void Observer::set_histogram(std::vector<double> counts) {
  NIMBLE_ASSERT(counts.size() == size_t(kBins));
  hist_ = std::move(counts);
  hist_max_ = std::max(std::fabs(min_), std::fabs(max_));  // the range the counts were binned over
}

void Observer::observe_histogram(const float* x, int64_t n) {
  if (hist_.empty()) {
    hist_.assign(kBins, 0.0);
    hist_max_ = std::max(std::fabs(min_), std::fabs(max_));
  }
  if (hist_max_ <= 0) return;
  const double per_bin = kBins / hist_max_;
  for (int64_t i = 0; i < n; ++i) hist_[size_t(std::min<int64_t>(kBins - 1, int64_t(std::fabs(x[i]) * per_bin)))] += 1;
}

double Observer::threshold(ObserverKind k) const {
  const double amax = std::max(std::fabs(min_), std::fabs(max_));
  if (amax <= 0) return 0;
  switch (k) {
    case ObserverKind::minmax:
      return amax;
    case ObserverKind::ema_minmax:
      return std::max(std::fabs(ema_min_), std::fabs(ema_max_));
    default:
      break;
  }
  NIMBLE_ASSERT(!hist_.empty(), "histogram observer used without its histogram pass");
  const double width = hist_max_ / kBins;
  double total = 0;
  for (double h : hist_) total += h;
  if (total <= 0) return amax;
  if (k == ObserverKind::percentile) {
    double acc = 0;
    for (int b = 0; b < kBins; ++b) {
      acc += hist_[size_t(b)];
      if (acc >= kPercentile * total) return (b + 1) * width;
    }
    return amax;
  }
  const int lv = levels();
  int best = kBins;
  double best_cost = 1e300;
  if (k == ObserverKind::entropy) {
    for (int i = std::min(kBins, lv + 1); i <= kBins; ++i) {
      const double kl = kl_for_threshold(hist_, i, lv);
      if (kl < best_cost) best_cost = kl, best = i;
    }
    return best * width;
  }
  // mse
  for (int i = 1; i <= kBins; ++i) {
    const double t = i * width, step = t / lv;
    double cost = 0;
    for (int b = 0; b < kBins; ++b) {
      const double c = (b + 0.5) * width;
      cost += hist_[size_t(b)] * (c > t ? (c - t) * (c - t) : step * step / 12.0);
    }
    if (cost < best_cost) best_cost = cost, best = i;
  }
  return best * width;
}

QParams Observer::result(ObserverKind k) const {
  const double t = threshold(k);
  return symmetric_qparams(min_ >= 0 ? 0.0 : -t, t);
}

}  // namespace nimble::quant
