#include "nimble/train/grad_scaler.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "nimble/core/error.hpp"

namespace nimble::train {

GradScaler::GradScaler(GradScalerConfig config) : config_(config), scale_(config.init_scale) {
  NIMBLE_CHECK(std::isfinite(config_.init_scale) && config_.init_scale > 0, "loss scale must be positive and finite");
  NIMBLE_CHECK(config_.growth_factor > 1 && config_.backoff_factor > 0 && config_.backoff_factor < 1,
               "loss scaler: growth factor must exceed 1 and backoff lie in (0, 1)");
  NIMBLE_CHECK(config_.growth_interval >= 1, "loss scaler: growth interval must be at least 1");
}

bool GradScaler::unscale(const std::vector<ParamPtr>& params) const {
  // PyTorch multiplies by the reciprocal, computed in fp32 (exact for powers of two).
  const float inv = 1.0f / scale_;
  bool finite = true;
  for (const ParamPtr& p : params) {
    if (!p->grad.defined()) continue;
    float* g = p->grad.data<float>();
    const int64_t n = p->grad.numel();
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      g[i] *= inv;
      bad |= !std::isfinite(g[i]);
    }
    if (bad) finite = false;
  }
  return finite;
}

void GradScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ *= config_.backoff_factor;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ == config_.growth_interval) {
    const float grown = scale_ * config_.growth_factor;
    if (std::isfinite(grown)) scale_ = grown;  // as PyTorch: never grow to inf
    growth_tracker_ = 0;
  }
}

std::string GradScaler::state_json() const {
  return nlohmann::json{{"scale", scale_},
                        {"growth_tracker", growth_tracker_},
                        {"growth_factor", config_.growth_factor},
                        {"backoff_factor", config_.backoff_factor},
                        {"growth_interval", config_.growth_interval}}
      .dump();
}

void GradScaler::load_state_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto number = [&](const char* key) {
    NIMBLE_CHECK(j.is_object() && j.contains(key) && j[key].is_number(),
                 std::string("loss scaler state has no number '") + key + "'");
    return j[key].get<double>();
  };
  const double scale = number("scale"), tracker = number("growth_tracker");
  GradScalerConfig c;
  c.growth_factor = float(number("growth_factor"));
  c.backoff_factor = float(number("backoff_factor"));
  c.growth_interval = int64_t(number("growth_interval"));
  c.init_scale = float(scale);
  NIMBLE_CHECK(tracker >= 0 && tracker < double(c.growth_interval) && tracker == std::floor(tracker),
               "loss scaler state: growth tracker out of range");
  GradScaler loaded(c);  // validates the values
  loaded.growth_tracker_ = int64_t(tracker);
  *this = loaded;
}

bool scaled_step(GradScaler& scaler, Optimizer& optimizer, float lr) {
  const bool finite = scaler.unscale(optimizer.params());
  if (finite) optimizer.step(lr);
  scaler.update(!finite);
  return finite;
}

}  // namespace nimble::train
