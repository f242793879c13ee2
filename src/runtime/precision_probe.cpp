#include "nimble/runtime/precision_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "nimble/runtime/choose_by_measurement.hpp"
#include "nimble/runtime/timing.hpp"

namespace nimble {

namespace {

// A step of one model in one precision, compiled on first use and timed as often as asked: the
// candidates of choose_precision_for are timed in alternating rounds.
class StepTimer {
 public:
  StepTimer(const Graph& graph, int64_t batch, Mode mode, Precision p)
      : graph_(graph.clone()), batch_(batch), mode_(mode), precision_(p) {}

  // The least of `timed` steps after `warmup` untimed ones.
  double time(int warmup, int timed) {
    if (!session_) {
      session_.emplace(graph_, SessionOptions{batch_, mode_, true, precision_});
      x_ = random_batch(graph_.input_shape(), batch_, 1, 1.0f);
    }
    double best = 1e300;
    for (int i = 0; i < warmup + timed; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const Tensor& y = session_->forward(x_);
      if (mode_ == Mode::train) {
        if (!dy_.defined()) {
          const std::vector<int64_t> dims = y.shape().dims();
          dy_ =
              random_batch(Shape(std::vector<int64_t>(dims.begin() + 1, dims.end())), batch_, 2, 1.0f / float(batch_));
        }
        session_->backward(dy_);
      }
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (i >= warmup) best = std::min(best, ms);
    }
    return best;
  }

 private:
  Graph graph_;
  int64_t batch_;
  Mode mode_;
  Precision precision_;
  std::optional<Session> session_;
  Tensor x_, dy_;
};

}  // namespace

double time_step_ms(const Graph& graph, int64_t batch, Mode mode, Precision p) {
  return StepTimer(graph, batch, mode, p).time(2, 3);
}

PrecisionChoice choose_precision_for(Precision requested, const Graph& graph, int64_t batch, Mode mode) {
  PrecisionChoice c = choose_precision(requested);
  if (requested != Precision::automatic || c.precision == Precision::fp32) return c;
  const Precision low = c.precision;
  // Each round: one warm-up step (the first also compiles) and the least of two timed ones.
  StepTimer fp32(graph, batch, mode, Precision::fp32), lowp(graph, batch, mode, low);
  std::vector<MeasuredCandidate> candidates = {{"fp32", [&] { return fp32.time(1, 2); }, ""},
                                               {precision_name(low), [&] { return lowp.time(1, 2); }, ""}};
  // The low precision must be at least 5 % faster to be worth its rounding.
  const MeasuredDecision d = decide_by_measurement(candidates, 0.05);
  const bool keep_low = d.chosen == 1;
  for (const MeasuredCandidate& m : candidates) c.timings.emplace_back(m.name, m.samples);
  c.stable = d.stable;
  c.others_cpu_share = d.others_cpu_share;
  const char* what = mode == Mode::train ? "training step" : "forward pass";
  const std::string caveat = decision_caveat(d.stable, d.others_cpu_share, "--precision");
  char measured[320];
  std::snprintf(measured, sizeof measured,
                "%s at batch %lld: %s %.2f ms, fp32 %.2f ms, best of %d alternating rounds%s", what, (long long)batch,
                precision_name(low), candidates[1].ms, candidates[0].ms, d.rounds, caveat.c_str());
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
