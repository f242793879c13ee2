#include "nimble/prune/layer_ratios.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"

namespace nimble::prune {

namespace {

// Bisection steps that size a candidate to the target: the scale is then known to 1/4096 of its
// range. The range runs to where the least-weighted space reaches the deepest ratio, so a plan
// that spares one space spreads the others' ratios over a small part of it: with 8 steps such a
// plan of resnet-8 came out 12 % below the MACs it was sized to, with 12 steps 5 %.
constexpr int kSizingSteps = 12;
// Random candidates after the profile-shaped ones, as EagleEye samples pruning strategies.
constexpr int kRandomCandidates = 8;
// Spread of the random candidates' per-space weights (log-normal).
constexpr double kRandomSpread = 0.5;
// Perturbations of the best candidate after the others, and their spread (log-normal).
constexpr int kRefinements = 6;
constexpr double kRefinementSpread = 0.25;
// How strongly the profile-shaped candidates follow the profile: weight = exp(-strength * z).
constexpr double kStrengths[] = {0.5, 1.0, 2.0};
// The profile-shaped candidates: each strength on accuracy lost per MAC saved and on accuracy lost.
constexpr size_t kProfileShapes = 2 * std::size(kStrengths);

// How many channels of `space` a ratio keeps: what plan_channels keeps, counted on its plan.
int64_t kept_channels(const Graph& g, const ChannelGraph& cg, int space, double ratio, const Importance& importance) {
  std::vector<double> ratios(cg.spaces.size(), 0.0);
  ratios[size_t(space)] = ratio;
  const ChannelPlan plan = plan_channels(g, cg, ratios, importance);
  int64_t kept = 0;
  for (const auto& members : cg.spaces[size_t(space)].classes) kept += plan[cg.class_of[members[0]]] ? 0 : 1;
  return kept;
}

// The fraction of the profiled spaces' channels that `ratios` remove (plan_channels plans each
// space on its own, so one plan of the whole vector counts them all).
double removed_fraction(const Graph& g, const ChannelGraph& cg, const std::vector<SpaceProfile>& profiles,
                        const std::vector<double>& ratios, const Importance& importance) {
  const ChannelPlan plan = plan_channels(g, cg, ratios, importance);
  int64_t total = 0, removed = 0;
  for (const SpaceProfile& p : profiles) {
    total += p.channels;
    for (const auto& members : cg.spaces[size_t(p.space)].classes) removed += plan[cg.class_of[members[0]]] ? 1 : 0;
  }
  return total > 0 ? double(removed) / double(total) : 0.0;
}

// Per space: weight * scale, capped at the deepest ratio (spaces of weight 0 stay whole).
std::vector<double> scaled_ratios(const std::vector<double>& weights, double scale, double deepest) {
  std::vector<double> ratios(weights.size(), 0.0);
  for (size_t s = 0; s < weights.size(); ++s) ratios[s] = std::min(deepest, weights[s] * scale);
  return ratios;
}

struct Sized {
  std::vector<double> ratios;
  double cost = 0;
  bool met = false;  // false: even the deepest ratio everywhere misses the target (`cost` is its)
};

// The least scale of `weights` whose pruned model, measured whole, meets the target: a batch-1
// latency is not the sum of what each space saves alone, so every candidate is sized by measuring
// it.
Sized size_to_target(const Graph& g, const Importance& importance, const GraphMetric& cost,
                     const std::vector<double>& weights, double target, double deepest, int64_t& evaluations) {
  double smallest = 0;
  for (double w : weights)
    if (w > 0) smallest = smallest > 0 ? std::min(smallest, w) : w;
  if (smallest <= 0) return Sized{{}, cost(g), false};  // nothing to prune: the model is its deepest cut
  double lo = 0, hi = deepest / smallest;               // at hi every space is at its deepest ratio
  double hi_cost = cost(prune_channels(g, scaled_ratios(weights, hi, deepest), importance));
  ++evaluations;
  if (hi_cost > target) return Sized{{}, hi_cost, false};
  for (int i = 0; i < kSizingSteps; ++i) {
    const double mid = 0.5 * (lo + hi);
    const double c = cost(prune_channels(g, scaled_ratios(weights, mid, deepest), importance));
    ++evaluations;
    if (c <= target) {
      hi = mid;
      hi_cost = c;
    } else {
      lo = mid;
    }
  }
  return Sized{scaled_ratios(weights, hi, deepest), hi_cost, true};
}

// `values` centred and scaled to unit deviation (all 0 when they do not vary).
std::vector<double> standardized(const std::vector<double>& values) {
  double mean = 0, var = 0;
  for (double v : values) mean += v;
  mean /= double(values.size());
  for (double v : values) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / double(values.size()));
  std::vector<double> z(values.size(), 0.0);
  if (sd > 1e-12)
    for (size_t i = 0; i < values.size(); ++i) z[i] = (values[i] - mean) / sd;
  return z;
}

// One ratio for every prunable space (spaces of fewer than two channel classes stay whole).
std::vector<double> uniform_weights(const ChannelGraph& cg) {
  std::vector<double> w(cg.spaces.size(), 0.0);
  for (size_t s = 0; s < cg.spaces.size(); ++s)
    if (cg.spaces[s].prunable && cg.spaces[s].classes.size() >= 2) w[s] = 1.0;
  return w;
}

// The planner once the uniform cut is known (`r` holds the unpruned model's figures): profile every
// space at the uniform cut's depth, then judge candidate plans sized to `target` (or, given
// `relative_cost`, to the uniform cut timed beside them).
void plan_against_uniform(const Graph& g, const ChannelGraph& cg, const Importance& importance,
                          const GraphMetric& accuracy, const GraphMetric& cost, double target, const Sized& uniform,
                          double deepest, const GraphMetric& judge, const RelativeCost& relative_cost, LayerRatios& r) {
  const std::vector<double> weights = uniform_weights(cg);
  double depth = 0;
  for (double ratio : uniform.ratios) depth = std::max(depth, ratio);

  // What each space costs in accuracy and saves in cost when pruned alone to that depth. A pruned
  // model is judged as the caller's metric judges it (after batch-norm recalibration, say).
  std::vector<double> loss, per_mac;
  const double base_macs = double(g.macs());
  for (size_t s = 0; s < cg.spaces.size(); ++s) {
    if (weights[s] == 0) continue;
    std::vector<double> ratios(cg.spaces.size(), 0.0);
    ratios[s] = depth;
    const Graph pruned = prune_channels(g, ratios, importance);
    SpaceProfile p;
    p.space = int(s);
    p.channels = int64_t(cg.spaces[s].classes.size());
    p.ratios = {0.0, depth};
    p.kept = {p.channels, kept_channels(g, cg, int(s), depth, importance)};
    p.accuracy = {r.base_accuracy, accuracy(pruned)};
    p.cost = {r.base_cost, cost(pruned)};
    p.macs = {int64_t(base_macs), pruned.macs()};
    r.evaluations += 2;
    // Floors: a space that loses nothing, or saves no MACs (a space of one channel class), still ranks.
    loss.push_back(std::max(p.accuracy[0] - p.accuracy[1], 1e-4));
    per_mac.push_back(loss.back() / std::max(base_macs - double(p.macs[1]), 1.0));
    r.profiles.push_back(std::move(p));
  }

  // Candidate plans: per-space weights, each scaled until the whole model meets the target.
  // Shaped by the profile (prune more where accuracy per MAC saved is cheap, or where accuracy
  // alone is), then random (EagleEye, Li et al. 2020, samples pruning strategies so), then
  // perturbations of the best. Each is judged by the caller's plan metric; the most accurate wins.
  // The uniform cut is judged first and wins ties: a plan is per-layer only when it judged better.
  std::vector<std::vector<double>> shapes;
  for (const std::vector<double>& score : {per_mac, loss}) {
    std::vector<double> logs(score.size());
    std::transform(score.begin(), score.end(), logs.begin(), [](double v) { return std::log(v); });
    const std::vector<double> z = standardized(logs);
    for (double strength : kStrengths) {
      std::vector<double> w(cg.spaces.size(), 0.0);
      for (size_t i = 0; i < r.profiles.size(); ++i) w[size_t(r.profiles[i].space)] = std::exp(-strength * z[i]);
      shapes.push_back(std::move(w));
    }
  }
  Rng rng(20200716);  // fixed: a plan is reproducible from its inputs
  for (int k = 0; k < kRandomCandidates; ++k) {
    std::vector<double> w(cg.spaces.size(), 0.0);
    for (const SpaceProfile& p : r.profiles) w[size_t(p.space)] = std::exp(kRandomSpread * double(rng.normal()));
    shapes.push_back(std::move(w));
  }
  r.space_ratios = uniform.ratios;
  r.cost = uniform.cost;
  r.uniform = true;
  const Graph uniform_cut = prune_channels(g, uniform.ratios, importance);
  r.uniform_accuracy = judge(uniform_cut);
  ++r.evaluations;
  const auto record = [&](const char* kind, const Graph& pruned, const std::vector<double>& ratios, double accuracy,
                          double cost) {
    r.candidates.push_back({kind, accuracy, cost, pruned.param_count(), pruned.macs(),
                            removed_fraction(g, cg, r.profiles, ratios, importance)});
  };
  record("uniform", uniform_cut, uniform.ratios, r.uniform_accuracy, uniform.cost);
  // Measured alone, one model against the target, a plan lands wherever the machine's drift of the
  // moment puts it (mobilenet_v2's plans came out 4-9 % faster than the uniform cut timed beside
  // them). Timed beside the uniform cut, every plan is sized to what it replaces.
  GraphMetric plan_cost = cost;
  double plan_target = target;
  if (relative_cost) {
    plan_cost = [&](const Graph& p) { return uniform.cost * relative_cost(p, uniform_cut); };
    plan_target = uniform.cost;
  }
  double best = r.uniform_accuracy;
  std::vector<double> best_weights = weights;
  const auto try_candidate = [&](const char* kind, const std::vector<double>& w) {
    const Sized c = size_to_target(g, importance, plan_cost, w, plan_target, deepest, r.evaluations);
    if (!c.met) return;
    const Graph pruned = prune_channels(g, c.ratios, importance);
    const double a = judge(pruned);
    ++r.evaluations;
    record(kind, pruned, c.ratios, a, c.cost);
    if (a > best) {
      best = a;
      best_weights = w;
      r.space_ratios = c.ratios;
      r.cost = c.cost;
      r.uniform = false;
    }
  };
  for (size_t k = 0; k < shapes.size(); ++k) try_candidate(k < kProfileShapes ? "profile" : "random", shapes[k]);
  // Then a few steps around the best so far, each a smaller perturbation of it.
  for (int k = 0; k < kRefinements; ++k) {
    std::vector<double> w = best_weights;
    for (const SpaceProfile& p : r.profiles) w[size_t(p.space)] *= std::exp(kRefinementSpread * double(rng.normal()));
    try_candidate("refinement", w);
  }
  r.planned_accuracy = best;
  r.fraction = removed_fraction(g, cg, r.profiles, r.space_ratios, importance);
}

}  // namespace

LayerRatios plan_layer_ratios(const Graph& g, const Importance& importance, const GraphMetric& accuracy,
                              const GraphMetric& cost, double target, int levels, const GraphMetric& plan_accuracy,
                              const RelativeCost& relative_cost) {
  NIMBLE_CHECK(levels >= 2, "the per-layer planner needs at least two levels per layer");
  const double deepest = deepest_layer_ratio(levels);
  const ChannelGraph cg(g);
  LayerRatios r;
  r.space_ratios.assign(cg.spaces.size(), 0.0);
  r.base_cost = r.cost = cost(g);
  if (r.base_cost <= target) return r;
  r.base_accuracy = accuracy(g);
  // One ratio everywhere, sized to the target: the baseline every plan must beat, and the depth
  // at which each space is profiled.
  const Sized uniform = size_to_target(g, importance, cost, uniform_weights(cg), target, deepest, r.evaluations);
  if (!uniform.met)
    throw Error("even the deepest per-layer pruning measured costs " + std::to_string(uniform.cost) +
                " against the target " + std::to_string(target));
  plan_against_uniform(g, cg, importance, accuracy, cost, target, uniform, deepest,
                       plan_accuracy ? plan_accuracy : accuracy, relative_cost, r);
  return r;
}

LayerRatios plan_layer_ratios_like_uniform(const Graph& g, const Importance& importance, const GraphMetric& accuracy,
                                           const GraphMetric& cost, double ratio, const RelativeCost& relative_cost,
                                           int levels, const GraphMetric& plan_accuracy) {
  NIMBLE_CHECK(levels >= 2, "the per-layer planner needs at least two levels per layer");
  const double deepest = deepest_layer_ratio(levels);
  NIMBLE_CHECK(ratio > 0 && ratio <= deepest, "a per-layer plan's uniform ratio must be in (0, " +
                                                  std::to_string(deepest) + "], not " + std::to_string(ratio));
  const ChannelGraph cg(g);
  LayerRatios r;
  r.base_cost = cost(g);
  r.base_accuracy = accuracy(g);
  Sized uniform{scaled_ratios(uniform_weights(cg), ratio, deepest), 0, true};
  uniform.cost = cost(prune_channels(g, uniform.ratios, importance));
  r.evaluations = 2;
  plan_against_uniform(g, cg, importance, accuracy, cost, uniform.cost, uniform, deepest,
                       plan_accuracy ? plan_accuracy : accuracy, relative_cost, r);
  return r;
}

}  // namespace nimble::prune
