#pragma once
// Pruning as a trainer hook: masks follow the cubic schedule during training and are re-applied
// after every optimizer step, so pruned weights stay exactly zero whatever momentum and weight
// decay do. Used by `nimble prune --finetune-epochs N` and `nimble train --prune ...`.
#include <optional>
#include <string>
#include <vector>

#include "nimble/prune/channel.hpp"
#include "nimble/prune/schedule.hpp"
#include "nimble/prune/taylor.hpp"
#include "nimble/prune/unstructured.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::prune {

enum class Method { magnitude, channel, nm };
Method method_from_name(const std::string& name);  // "magnitude" | "channel" | "nm"; throws Error otherwise
const char* method_name(Method m);

struct PruneConfig {
  Method method = Method::magnitude;
  double amount = 0.5;          // magnitude: sparsity; channel: ratio of channels (nm: implied by n:m)
  Scope scope = Scope::global;  // mobilenet_v2 at 80%: -0.49 points global, -1.02 per layer (docs/results.md, Pruning)
  Criterion criterion = Criterion::l1;
  // taylor: scores measured on the unpruned graph (taylor_scores), for masks computed before any
  // training step has left gradients.
  std::vector<double> class_scores;
  // channel: a ratio per channel space (ChannelGraph order) instead of `amount` everywhere; then
  // `amount` is the fraction of all prunable channels they remove, and a schedule at x * amount
  // prunes x * each ratio.
  std::vector<double> space_ratios;
  int n = 2, m = 4;
  std::string describe() const;  // e.g. "magnitude 80% (layer)", "channel 50% (l1)", "2:4"
  Importance importance() const { return {criterion, class_scores}; }
};

// The masks of `cfg` at `amount` (N:M ignores it) for the graph's current weights (and for
// taylor, cfg.class_scores).
Masks compute_masks(const Graph& g, const PruneConfig& cfg, double amount);

class GradualPruning : public train::TrainerHook {
 public:
  // The ramp covers the first `ramp_fraction` of the training steps (0: full target from the first
  // step), with `updates` mask recomputations along it. N:M has no ramp: its pattern is fixed.
  // With the taylor criterion each mask update ranks channels by the training steps' own gradients
  // since the previous update (Molchanov et al.'s iterative pruning), cfg.class_scores before any.
  explicit GradualPruning(PruneConfig cfg, double ramp_fraction = 0.5, int updates = 20);
  void on_fit_begin(train::Trainer& t, int64_t total_steps) override;
  void on_step_end(train::Trainer& t, int64_t step) override;
  // Only epochs that end at the target can be kept as the best epoch.
  bool accept_as_best(const train::EpochStats&) override { return at_target_; }
  // The masks in force and whether they are the target's: a resumed run continues with them
  // (they were computed from weights it no longer has).
  void save_state(train::TrainState& st) const override;
  void load_state(const train::TrainState& st) override;

  const Masks& masks() const { return masks_; }
  const CubicSchedule& schedule() const { return schedule_; }

 private:
  void update(Graph& g, int64_t step);
  PruneConfig cfg_;
  double ramp_fraction_;
  int updates_;
  CubicSchedule schedule_;
  Masks masks_;
  std::vector<BoundMask> bound_;  // masks_ bound to the graph's parameters
  std::optional<TaylorScores> taylor_;
  std::vector<double> taylor_sums_;  // a checkpoint's, until on_fit_begin has the graph to score
  int64_t taylor_batches_ = 0;
  bool at_target_ = false;
  bool resumed_ = false;
};

}  // namespace nimble::prune
