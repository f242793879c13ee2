#pragma once
// What continuing a training run needs besides the weights (`nimble train --resume`); a training
// checkpoint (MODEL.nimble.train) carries it.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/core/tensor.hpp"

namespace nimble::train {

struct TrainState {
  int64_t epoch = 0;            // epochs completed
  int64_t step = 0;             // optimizer steps scheduled so far (skipped ones included)
  int64_t optimizer_steps = 0;  // steps the optimizer took (Adam's bias correction counts these)
  double best_val_accuracy = 0;
  std::vector<std::pair<std::string, Tensor>> optimizer;  // Optimizer::state()
  std::string loss_scaler;                                // GradScaler::state_json(); empty without loss scaling
  // The kernels the run chose by timing (training times some layers' implementations, which
  // round differently): a resumed run compiles the same ones and continues bit for bit. JSON.
  std::string kernel_choices;
  // What the run's hooks and workflow need to continue: tensors named by their owner
  // ("prune.mask.<param>", "distill.hint0.weights"; never "optimizer.") and settings as text
  // ("prune.config", "distill.teacher_form", ...).
  std::vector<std::pair<std::string, Tensor>> hook_tensors;
  std::map<std::string, std::string> settings;

  // settings[key], or "" when the checkpoint has none.
  std::string setting(const std::string& key) const {
    auto it = settings.find(key);
    return it == settings.end() ? std::string() : it->second;
  }
  // settings[key]; throws Error naming the key when the checkpoint has none.
  const std::string& required_setting(const std::string& key) const {
    auto it = settings.find(key);
    NIMBLE_CHECK(it != settings.end(), "the training checkpoint has no " + key);
    return it->second;
  }
};

}  // namespace nimble::train
