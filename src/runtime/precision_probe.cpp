#include "nimble/runtime/precision_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "nimble/runtime/choose_by_measurement.hpp"
#include "nimble/runtime/timing.hpp"

namespace nimble {

double time_step_ms(const Graph& graph, int64_t batch, Mode mode, Precision p) {
  constexpr int kWarmup = 2, kTimed = 3;
  Graph copy = graph.clone();
  Session s(copy, {batch, mode, true, p});
  const Tensor x = random_batch(graph.input_shape(), batch, 1, 1.0f);
  Tensor dy;
  double best = 1e300;
  for (int i = 0; i < kWarmup + kTimed; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor& y = s.forward(x);
    if (mode == Mode::train) {
      if (!dy.defined()) {
        const std::vector<int64_t> dims = y.shape().dims();
        dy = random_batch(Shape(std::vector<int64_t>(dims.begin() + 1, dims.end())), batch, 2, 1.0f / float(batch));
      }
      s.backward(dy);
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= kWarmup) best = std::min(best, ms);
  }
  return best;
}

PrecisionChoice choose_precision_for(Precision requested, const Graph& graph, int64_t batch, Mode mode) {
  PrecisionChoice c = choose_precision(requested);
  if (requested != Precision::automatic || c.precision == Precision::fp32) return c;
  const Precision low = c.precision;
  std::vector<MeasuredCandidate> candidates = {
      {"fp32", [&] { return time_step_ms(graph, batch, mode, Precision::fp32); }, "", 0},
      {precision_name(low), [&] { return time_step_ms(graph, batch, mode, low); }, "", 0}};
  // The low precision must be at least 5 % faster to be worth its rounding.
  const bool keep_low = choose_by_measurement(candidates, 0.05) == 1;
  const char* what = mode == Mode::train ? "training step" : "forward pass";
  char measured[160];
  std::snprintf(measured, sizeof measured, "%s at batch %lld: %s %.2f ms, fp32 %.2f ms", what, (long long)batch,
                precision_name(low), candidates[1].ms, candidates[0].ms);
  if (keep_low) {
    c.reason = "auto: " + precision_support(low).detail + "; measured faster for this model (" + measured + ")";
  } else {
    c.reason =
        std::string("auto: ") + precision_name(low) + " is native but not faster for this model (" + measured + ")";
    c.precision = Precision::fp32;
  }
  return c;
}

}  // namespace nimble
