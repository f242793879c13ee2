#pragma once
// Calibration observers: from the values a tensor takes on calibration data, the clipping
// threshold T of its symmetric int8 quantization (scale = T / 127 for s8, T / 255 for u8 when the
// tensor was never negative).
//   minmax      T = max |x|
//   ema-minmax  T = max(|ema(batch min)|, ema(batch max)), averaging constant 0.1 (few batches)
//   percentile  T = the 99.99th percentile of |x|
//   entropy     T minimising KL(P || Q) between the clipped |x| histogram and its quantized
//               version (TensorRT's calibration, as ncnn does it)
//   mse         T minimising the expected squared error: clipping error beyond T plus
//               step^2 / 12 of rounding within it
// The histogram methods need two passes over the data: ranges first, then a 2048-bin histogram
// of |x| over [0, max |x|].
#include <cstdint>
#include <string>
#include <vector>

#include "nimble/graph/qparams.hpp"

namespace nimble::quant {

enum class ObserverKind { minmax, ema_minmax, percentile, entropy, mse };
ObserverKind observer_from_name(const std::string& name);  // throws Error on unknown names
const char* observer_name(ObserverKind k);
bool needs_histogram(ObserverKind k);

class Observer {
 public:
  static constexpr int kBins = 2048;

  void observe_range(const float* x, int64_t n);      // pass 1: every batch
  void observe_histogram(const float* x, int64_t n);  // pass 2: every batch, after pass 1
  // The quantization of the observed tensor: u8 when it was never negative, else s8; zero
  // point 0. A tensor that was always 0 gets scale 1.
  QParams result(ObserverKind k) const;
  // The threshold alone (for tests and reports).
  double threshold(ObserverKind k) const;

  // Data-parallel calibration combines the ranks' observers of their shares: the range over all
  // of them after pass 1 (as if this observer had seen those values too; not the EMA, which
  // depends on batch order), the histogram of all of them after pass 2.
  void merge_range(double lo, double hi);
  void set_histogram(std::vector<double> counts);
  bool seen() const { return seen_; }

  double min() const { return min_; }
  double max() const { return max_; }
  const std::vector<double>& histogram() const { return hist_; }

 private:
  double min_ = 0, max_ = 0, ema_min_ = 0, ema_max_ = 0;
  bool seen_ = false;
  std::vector<double> hist_;
  double hist_max_ = 0;
  int levels() const { return min_ >= 0 ? 255 : 127; }
};

}  // namespace nimble::quant
