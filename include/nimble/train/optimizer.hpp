#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nimble/graph/graph.hpp"

namespace nimble::train {

struct OptimizerConfig {
  std::string kind = "sgd";                         // sgd | adamw
  float momentum = 0.9f;                            // sgd
  bool nesterov = true;                             // sgd
  float weight_decay = 5e-4f;                       // sgd: L2 added to the gradient; adamw: decoupled
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adamw
  float clip_grad_norm = 0.0f;                      // 0: off; else the global L2 norm of all gradients is capped
};

// Updates a graph's trainable parameters in place from their gradients (PyTorch semantics for
// SGD with momentum/Nesterov and for AdamW) and touches them so the runtime re-reorders weights.
class Optimizer {
 public:
  Optimizer(const Graph& graph, OptimizerConfig config);
  // Returns the gradient norm before clipping.
  double step(float lr);
  int64_t steps() const { return steps_; }
  const OptimizerConfig& config() const { return config_; }
  const std::vector<ParamPtr>& params() const { return params_; }  // the trainable ones
  // Per-parameter state (sgd: momentum buffer; adamw: first and second moments), in params() order.
  const std::vector<Tensor>& first_moments() const { return slot1_; }
  const std::vector<Tensor>& second_moments() const { return slot2_; }

  // For resuming: copies of the moments named "optimizer.<param>.momentum" (sgd) or
  // ".exp_avg" / ".exp_avg_sq" (adamw); load_state() takes them back with the step count and
  // throws Error if any is missing or misshapen.
  std::vector<std::pair<std::string, Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state, int64_t steps);

 private:
  OptimizerConfig config_;
  std::vector<ParamPtr> params_;
  std::vector<std::string> names_;
  std::vector<Tensor> slot1_, slot2_;  // sgd: momentum buffer; adamw: first and second moments
  int64_t steps_ = 0;
};

double grad_norm(const std::vector<ParamPtr>& params);

}  // namespace nimble::train
