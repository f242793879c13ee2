#pragma once
// Dynamic loss scaling for fp16 training, with PyTorch GradScaler semantics: the loss gradient is
// multiplied by `scale` so small gradients survive fp16; before the optimizer step the gradients
// are divided by it again, and if any is inf/NaN the step is skipped and the scale halved. After
// `growth_interval` consecutive finite steps the scale doubles.
#include <cstdint>
#include <string>
#include <vector>

#include "nimble/graph/graph.hpp"
#include "nimble/train/optimizer.hpp"

namespace nimble::train {

struct GradScalerConfig {
  float init_scale = 65536.0f;  // 2^16
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerConfig config = {});

  float scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }  // consecutive finite steps so far
  const GradScalerConfig& config() const { return config_; }

  // Divides every gradient by the scale; returns false (and leaves the gradients partly divided,
  // which does not matter: the step is skipped) if any gradient is inf or NaN.
  bool unscale(const std::vector<ParamPtr>& params) const;
  // After each step: `found_inf` backs off and resets the tracker; otherwise counts and grows.
  void update(bool found_inf);

  // Checkpoint state, as JSON text: {"scale":…, "growth_tracker":…} and the config.
  std::string state_json() const;
  void load_state_json(const std::string& text);  // throws Error on malformed state

 private:
  GradScalerConfig config_;
  float scale_;
  int64_t growth_tracker_ = 0;
};

// One optimizer step under loss scaling, after backward of the scaled loss: unscales the
// gradients, steps only if all are finite (a skipped step leaves parameters and optimizer state
// bitwise unchanged), then updates the scale. Returns whether the step was taken.
bool scaled_step(GradScaler& scaler, Optimizer& optimizer, float lr);

}  // namespace nimble::train
