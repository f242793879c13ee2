#include "nimble/train/optimizer.hpp"

#include <cmath>
#include <cstring>
#include <map>

#include "nimble/core/error.hpp"

namespace nimble::train {

Optimizer::Optimizer(const Graph& graph, OptimizerConfig config) : config_(std::move(config)) {
  NIMBLE_CHECK(config_.kind == "sgd" || config_.kind == "adamw",
               "unknown optimizer '" + config_.kind + "' (expected sgd or adamw)");
  NIMBLE_CHECK(config_.weight_decay >= 0 && config_.momentum >= 0 && config_.momentum < 1,
               "optimizer: weight decay must be >= 0 and momentum in [0, 1)");
  for (auto& [name, p] : graph.named_params())
    if (p->trainable) {
      params_.push_back(p);
      names_.push_back(name);
      slot1_.emplace_back(p->data.shape());
      slot2_.emplace_back(config_.kind == "adamw" ? Tensor(p->data.shape()) : Tensor());
    }
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  const bool sgd = config_.kind == "sgd";
  for (size_t k = 0; k < params_.size(); ++k) {
    out.emplace_back("optimizer." + names_[k] + (sgd ? ".momentum" : ".exp_avg"), slot1_[k].clone());
    if (!sgd) out.emplace_back("optimizer." + names_[k] + ".exp_avg_sq", slot2_[k].clone());
  }
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& state, int64_t steps) {
  NIMBLE_CHECK(steps >= 0, "optimizer state: negative step count");
  std::map<std::string, const Tensor*> by_name;
  for (auto& [name, t] : state) by_name[name] = &t;
  auto take = [&](const std::string& name, Tensor& slot) {
    auto it = by_name.find(name);
    NIMBLE_CHECK(it != by_name.end(), "optimizer state has no tensor '" + name + "' (saved by another optimizer?)");
    NIMBLE_CHECK(it->second->dtype() == DType::f32 && it->second->shape() == slot.shape(),
                 "optimizer state '" + name + "' is " + it->second->shape().str() + ", expected " + slot.shape().str());
    std::memcpy(slot.raw(), it->second->raw(), slot.nbytes());
  };
  const bool sgd = config_.kind == "sgd";
  for (size_t k = 0; k < params_.size(); ++k) {
    take("optimizer." + names_[k] + (sgd ? ".momentum" : ".exp_avg"), slot1_[k]);
    if (!sgd) take("optimizer." + names_[k] + ".exp_avg_sq", slot2_[k]);
  }
  steps_ = steps;
}

double grad_norm(const std::vector<ParamPtr>& params) {
  double sq = 0;
  for (const ParamPtr& p : params) {
    const float* g = p->grad.data<float>();
    const int64_t n = p->grad.numel();
#pragma omp parallel for reduction(+ : sq) schedule(static)
    for (int64_t i = 0; i < n; ++i) sq += double(g[i]) * g[i];
  }
  return std::sqrt(sq);
}

double Optimizer::step(float lr) {
  ++steps_;
  const double norm = grad_norm(params_);
  float clip = 1.0f;
  if (config_.clip_grad_norm > 0 && norm > config_.clip_grad_norm) clip = float(config_.clip_grad_norm / (norm + 1e-6));
  const float wd = config_.weight_decay, mom = config_.momentum;
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  const float bc1 = 1.0f - std::pow(b1, float(steps_)), bc2 = 1.0f - std::pow(b2, float(steps_));
  const bool first = steps_ == 1;
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = *params_[k];
    NIMBLE_ASSERT(p.grad.defined() && p.grad.numel() == p.data.numel(), "parameter without a gradient");
    float* w = p.data.data<float>();
    const float* g = p.grad.data<float>();
    float* m = slot1_[k].data<float>();
    const int64_t n = p.data.numel();
    if (config_.kind == "sgd") {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] * clip + wd * w[i];
        m[i] = first ? d : mom * m[i] + d;  // PyTorch: the buffer starts as the first gradient
        w[i] -= lr * (config_.nesterov ? d + mom * m[i] : m[i]);
      }
    } else {
      float* v = slot2_[k].data<float>();
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float d = g[i] * clip;
        w[i] *= 1.0f - lr * wd;
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        w[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
      }
    }
    p.touch();
  }
  return norm;
}

}  // namespace nimble::train
