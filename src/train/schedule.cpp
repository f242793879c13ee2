#include "nimble/train/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "nimble/core/error.hpp"

namespace nimble::train {

void validate_schedule(const ScheduleConfig& s) {
  NIMBLE_CHECK(s.kind == "cosine" || s.kind == "step" || s.kind == "constant",
               "unknown schedule '" + s.kind + "' (expected cosine, step or constant)");
  NIMBLE_CHECK(s.lr > 0 && std::isfinite(s.lr), "learning rate must be a positive number");
  NIMBLE_CHECK(s.warmup_steps >= 0 && s.min_lr >= 0 && s.min_lr <= s.lr, "schedule: bad warm-up or min_lr");
  NIMBLE_CHECK(s.kind != "step" || (s.step_size > 0 && s.gamma > 0 && s.gamma <= 1),
               "step schedule needs a positive step size and gamma in (0, 1]");
}

float learning_rate(const ScheduleConfig& s, int64_t step, int64_t total) {
  if (s.warmup_steps > 0 && step < s.warmup_steps) return s.lr * float(step + 1) / float(s.warmup_steps);
  if (s.kind == "constant") return s.lr;
  if (s.kind == "step") {
    const int64_t decays = (step - s.warmup_steps) / s.step_size;  // whole steps only
    return s.lr * std::pow(s.gamma, float(decays));
  }
  const int64_t span = std::max<int64_t>(1, total - s.warmup_steps);
  const double t = std::clamp(double(step - s.warmup_steps) / double(span), 0.0, 1.0);
  return float(s.min_lr + 0.5 * (s.lr - s.min_lr) * (1.0 + std::cos(M_PI * t)));
}

}  // namespace nimble::train
