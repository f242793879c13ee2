#pragma once
#include <cstdint>
#include <string>

namespace nimble::train {

struct ScheduleConfig {
  std::string kind = "cosine";  // cosine | step | constant
  float lr = 0.05f;             // peak learning rate
  int64_t warmup_steps = 0;     // linear warm-up from lr/warmup_steps... to lr
  float min_lr = 0.0f;          // cosine floor
  int64_t step_size = 0;        // step: decay every step_size steps
  float gamma = 0.1f;           // step: decay factor
};

// Learning rate at optimizer step `step` (0-based) of `total` steps.
float learning_rate(const ScheduleConfig& s, int64_t step, int64_t total);
void validate_schedule(const ScheduleConfig& s);  // throws Error

}  // namespace nimble::train
