#pragma once
// Per-layer channel ratios chosen by measurement, in the spirit of AMC (He et al. 2018) and
// EagleEye (Li et al. 2020): one ratio everywhere is first sized to the target; each channel space
// is then pruned alone to that depth to measure what it costs in accuracy and saves in cost (batch-1
// latency on this CPU, or MACs); candidate plans shaped by that profile (prune more where accuracy
// per unit of cost saved is cheap) and random ones are each scaled until the whole pruned model,
// measured, meets the target; the most accurate candidate wins, the uniform cut on ties.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nimble/prune/channel.hpp"

namespace nimble::prune {

// What pruning one channel space alone does.
struct SpaceProfile {
  int space = 0;  // index in ChannelGraph::spaces
  int64_t channels = 0;
  std::vector<double> ratios;    // the levels measured, ascending; ratios[0] = 0 (unpruned), then the uniform cut's
  std::vector<int64_t> kept;     // channels each level keeps
  std::vector<double> accuracy;  // of the model with only this space pruned at that level
  std::vector<double> cost;      // of the same model
  std::vector<int64_t> macs;     // of the same model
};

// A plan the planner judged.
struct PlanCandidate {
  std::string kind;     // "uniform", "profile" (shaped by the profile), "random" or "refinement"
  double accuracy = 0;  // the caller's plan metric
  double cost = 0;      // as sized to the target (the uniform cut's: as measured)
  int64_t params = 0, macs = 0;
  double fraction = 0;  // of all prunable channels removed
};

struct LayerRatios {
  std::vector<double> space_ratios;  // the plan, per ChannelGraph space (0 for spaces left whole)
  std::vector<SpaceProfile> profiles;
  double base_accuracy = 0, base_cost = 0;
  double cost = 0;                        // measured cost of the planned model
  double planned_accuracy = 0;            // the caller's accuracy metric of the planned model
  double uniform_accuracy = 0;            // the same of the uniform cut sized to the target
  double fraction = 0;                    // of all prunable channels the plan removes
  int64_t evaluations = 0;                // candidate models measured
  std::vector<PlanCandidate> candidates;  // every plan judged, in order, the uniform cut first
  // The plan is one ratio everywhere: no per-layer candidate measured more accurate (before
  // fine-tuning) than the uniform cut sized to the target.
  bool uniform = false;
};

using GraphMetric = std::function<double(const Graph&)>;
// The cost of `candidate` over that of `reference`, both measured together: batch-1 latencies
// timed in alternation, which drift of the machine between two measurements cannot bias.
using RelativeCost = std::function<double(const Graph& candidate, const Graph& reference)>;

// The planner prunes no space deeper than (levels - 1) / levels of its channels by default.
constexpr int kLayerRatioLevels = 8;
// The deepest ratio the planner prunes a space to with `levels` levels.
constexpr double deepest_layer_ratio(int levels = kLayerRatioLevels) { return double(levels - 1) / levels; }

// Plans ratios for `g` so that `cost` of the pruned model is at most `target`. `accuracy` judges a
// model with one space pruned, `plan_accuracy` a candidate plan (a deep cut judged after a short
// fine-tuning ranks as it will end; empty: `accuracy`); `cost` measures either, and must fall as
// channels go (latency, MACs, parameters). Candidates are shaped by each space's accuracy lost per
// MAC saved (MACs add up across spaces, a batch-1 latency does not) and sized by `cost`; given
// `relative_cost`, they are sized instead to cost no more than the uniform cut measured beside
// them. No space is pruned deeper than (levels - 1) / levels. Throws Error when pruning every
// space that deep still misses the target.
LayerRatios plan_layer_ratios(const Graph& g, const Importance& importance, const GraphMetric& accuracy,
                              const GraphMetric& cost, double target, int levels = kLayerRatioLevels,
                              const GraphMetric& plan_accuracy = {}, const RelativeCost& relative_cost = {});

// The same planner around a given uniform cut instead of a target: plans that cost no more than
// pruning `ratio` of every space's channels (timed beside it by `relative_cost` when given, else
// measured by `cost`), the uniform cut winning unless a plan judges more accurate. Throws Error
// when `ratio` is not in (0, (levels - 1) / levels].
LayerRatios plan_layer_ratios_like_uniform(const Graph& g, const Importance& importance, const GraphMetric& accuracy,
                                           const GraphMetric& cost, double ratio,
                                           const RelativeCost& relative_cost = {}, int levels = kLayerRatioLevels,
                                           const GraphMetric& plan_accuracy = {});

}  // namespace nimble::prune
