#include "nimble/prune/gradual.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "nimble/core/error.hpp"

namespace nimble::prune {

Method method_from_name(const std::string& name) {
  if (name == "magnitude") return Method::magnitude;
  if (name == "channel") return Method::channel;
  if (name == "nm") return Method::nm;
  throw Error("unknown pruning method '" + name + "' (magnitude | channel | nm)");
}

const char* method_name(Method m) {
  switch (m) {
    case Method::magnitude:
      return "magnitude";
    case Method::channel:
      return "channel";
    case Method::nm:
      return "nm";
  }
  return "?";
}

std::string PruneConfig::describe() const {
  char buf[96];
  if (method == Method::nm)
    std::snprintf(buf, sizeof buf, "%d:%d pattern", n, m);
  else if (method == Method::channel)
    std::snprintf(buf, sizeof buf, "channel %.1f%% (%s%s)", amount * 100, criterion_name(criterion),
                  space_ratios.empty() ? "" : ", per layer");
  else
    std::snprintf(buf, sizeof buf, "magnitude %.1f%% (%s)", amount * 100,
                  scope == Scope::layer ? "per layer" : "global");
  return buf;
}

Masks compute_masks(const Graph& g, const PruneConfig& cfg, double amount) {
  switch (cfg.method) {
    case Method::magnitude:
      return magnitude_masks(g, amount, cfg.scope);
    case Method::nm:
      return nm_masks(g, cfg.n, cfg.m);
    case Method::channel: {
      const ChannelGraph cg(g);
      if (cfg.space_ratios.empty()) return channel_masks(g, cg, plan_channels(g, cg, amount, cfg.importance()));
      std::vector<double> ratios = cfg.space_ratios;
      const double scale = cfg.amount > 0 ? amount / cfg.amount : 0.0;
      for (double& r : ratios) r *= scale;
      return channel_masks(g, cg, plan_channels(g, cg, ratios, cfg.importance()));
    }
  }
  return {};
}

GradualPruning::GradualPruning(PruneConfig cfg, double ramp_fraction, int updates)
    : cfg_(std::move(cfg)), ramp_fraction_(ramp_fraction), updates_(updates) {
  NIMBLE_CHECK(ramp_fraction >= 0 && ramp_fraction <= 1, "the pruning ramp must be a fraction of training in [0, 1]");
  NIMBLE_CHECK(updates >= 1, "the pruning schedule needs at least one update");
  NIMBLE_CHECK(cfg_.amount >= 0 && cfg_.amount < 1, "the pruning target must be in [0, 1)");
}

void GradualPruning::on_fit_begin(train::Trainer& t, int64_t total_steps) {
  schedule_.initial = 0.0;
  schedule_.target = cfg_.amount;
  schedule_.begin = 0;
  schedule_.end = cfg_.method == Method::nm ? 0 : int64_t(std::llround(ramp_fraction_ * double(total_steps)));
  schedule_.every = std::max<int64_t>(1, (schedule_.end + updates_ - 1) / updates_);
  if (cfg_.method == Method::channel && cfg_.criterion == Criterion::taylor) {
    taylor_.emplace(t.graph());
    if (resumed_ && taylor_batches_ > 0) taylor_->restore(taylor_sums_, taylor_batches_);
  }
  if (!resumed_) return update(t.graph(), 0);
  bound_ = bind_masks(t.graph(), masks_);
  apply_masks(bound_);
}

namespace {
const std::string kMaskPrefix = "prune.mask.";
const std::string kTaylorSums = "prune.taylor.sums";
std::string describe_run(const PruneConfig& cfg, double ramp_fraction, int updates) {
  char ramp[96];
  std::snprintf(ramp, sizeof ramp, ", ramp over %.4f of the steps in %d updates", ramp_fraction, updates);
  return cfg.describe() + ramp;
}
}  // namespace

void GradualPruning::save_state(train::TrainState& st) const {
  for (const auto& [name, mask] : masks_) {
    std::string key = kMaskPrefix;
    key += name;
    st.hook_tensors.emplace_back(std::move(key), mask.clone());
  }
  st.settings["prune.config"] = describe_run(cfg_, ramp_fraction_, updates_);
  st.settings["prune.at_target"] = std::to_string(int(at_target_));
  if (taylor_) {
    // Each double sum as two floats (the float nearest, then what it missed): a resumed run ranks
    // channels by the sums the uninterrupted one has, not by sums rounded to float.
    const std::vector<double>& s = taylor_->sums();
    Tensor sums({2, int64_t(s.size())});
    float* hi = sums.data<float>();
    float* lo = hi + s.size();
    for (size_t k = 0; k < s.size(); ++k) hi[k] = float(s[k]), lo[k] = float(s[k] - double(hi[k]));
    st.hook_tensors.emplace_back(kTaylorSums, std::move(sums));
    st.settings["prune.taylor.batches"] = std::to_string(taylor_->batches());
  }
}

void GradualPruning::load_state(const train::TrainState& st) {
  const std::string& config = st.required_setting("prune.config");
  const std::string mine = describe_run(cfg_, ramp_fraction_, updates_);
  NIMBLE_CHECK(config == mine, "the checkpoint was pruning " + config + ", this run " + mine);
  masks_.clear();
  const std::string& prefix = kMaskPrefix;
  taylor_sums_.clear();
  for (const auto& [name, t] : st.hook_tensors)
    if (name == kTaylorSums) {
      const int64_t n = t.numel() / 2;
      for (int64_t k = 0; k < n; ++k) taylor_sums_.push_back(double(t.data<float>()[k]) + t.data<float>()[n + k]);
    } else if (name.rfind(prefix, 0) == 0) {
      masks_.emplace(name.substr(prefix.size()), t);
    }
  if (st.settings.count("prune.taylor.batches")) taylor_batches_ = std::stoll(st.settings.at("prune.taylor.batches"));
  at_target_ = st.required_setting("prune.at_target") == "1";
  resumed_ = true;
}

void GradualPruning::update(Graph& g, int64_t step) {
  if (schedule_.is_update_step(step)) {
    PruneConfig cfg = cfg_;
    if (taylor_ && taylor_->batches() > 0) {
      cfg.class_scores = taylor_->class_scores();
      taylor_->reset();
    }
    masks_ = compute_masks(g, cfg, schedule_.at(step));
    bound_ = bind_masks(g, masks_);
    at_target_ = step >= schedule_.end;
  }
  apply_masks(bound_);
}

void GradualPruning::on_step_end(train::Trainer& t, int64_t step) {
  if (taylor_) taylor_->add_batch(t.graph());  // the step's gradients are still in the parameters
  update(t.graph(), step);
}

}  // namespace nimble::prune
