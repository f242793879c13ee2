#pragma once
// Per-layer channel ratios chosen by measurement, in the spirit of NetAdapt (Yang et al. 2018) and
// AMC (He et al. 2018): every channel space is pruned alone at several ratios to measure what it
// costs in accuracy (before any fine-tuning) and what it saves in cost (batch-1 latency measured on
// this CPU, or MACs); the planner then prunes, a step at a time, where a unit of cost saved loses
// the least accuracy, until the whole pruned model, measured, meets the target; and keeps the
// plan only if it is more accurate than the shallowest uniform ratio that meets the target.
#include <cstdint>
#include <functional>
#include <vector>

#include "nimble/prune/channel.hpp"

namespace nimble::prune {

// What pruning one channel space alone does.
struct SpaceProfile {
  int space = 0;  // index in ChannelGraph::spaces
  int64_t channels = 0;
  std::vector<double> ratios;    // the levels measured, ascending; ratios[0] = 0 (unpruned)
  std::vector<int64_t> kept;     // channels each level keeps
  std::vector<double> accuracy;  // of the model with only this space pruned at that level
  std::vector<double> cost;      // of the same model
};

struct LayerRatios {
  std::vector<double> space_ratios;  // the plan, per ChannelGraph space (0 for spaces left whole)
  std::vector<SpaceProfile> profiles;
  double base_accuracy = 0, base_cost = 0;
  double cost = 0;          // measured cost of the planned model
  double fraction = 0;      // of all prunable channels the plan removes
  int64_t evaluations = 0;  // candidate models measured
  // The plan is one ratio everywhere: the shallowest uniform level meeting the target was at least
  // as accurate (before fine-tuning) as the per-layer plan.
  bool uniform = false;
};

using GraphMetric = std::function<double(const Graph&)>;

// Levels per space the planner tries by default; its deepest ratio is (levels - 1) / levels.
constexpr int kLayerRatioLevels = 8;

// Plans ratios for `g` so that `cost` of the pruned model is at most `target`. `accuracy` and
// `cost` measure a candidate; the cost must fall as channels go (latency, MACs, parameters), and
// savings below `min_saving` times the unpruned cost (the cost's noise) do not count. `levels` ratios are
// tried per space: 0, 1/levels, ..., (levels-1)/levels. Throws Error when pruning every space to
// its deepest level still misses the target.
LayerRatios plan_layer_ratios(const Graph& g, Criterion criterion, const GraphMetric& accuracy, const GraphMetric& cost,
                              double target, double min_saving = 0, int levels = kLayerRatioLevels);

}  // namespace nimble::prune
