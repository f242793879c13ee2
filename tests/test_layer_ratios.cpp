// Per-layer channel ratios: a ratio per channel space prunes only that space, and the planner
// spends its cost budget where accuracy is cheapest, meets the target, falls back to one ratio
// everywhere when that is more accurate, and says when it cannot meet the target.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "nimble/core/error.hpp"
#include "nimble/prune/layer_ratios.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble {
namespace {

Graph resnet8() {
  zoo::ModelConfig c;
  c.name = "resnet";
  c.depth = 8;
  c.seed = 5;
  return zoo::build(c);
}

// Channels of each prunable space's first value in `pruned` (value ids survive removal).
std::map<int, int64_t> space_channels(const prune::ChannelGraph& cg, const Graph& pruned) {
  std::map<int, int64_t> out;
  for (size_t s = 0; s < cg.spaces.size(); ++s)
    if (cg.spaces[s].prunable) out[int(s)] = pruned.values()[size_t(cg.spaces[s].values[0])].shape[1];
  return out;
}

std::vector<int> prunable_spaces(const prune::ChannelGraph& cg) {
  std::vector<int> out;
  for (size_t s = 0; s < cg.spaces.size(); ++s)
    if (cg.spaces[s].prunable && cg.spaces[s].classes.size() >= 8) out.push_back(int(s));
  return out;
}

// A made-up accuracy that falls only as channels of `fragile` go.
prune::GraphMetric only_fragile_space_counts(const Graph& g, const prune::ChannelGraph& cg, int fragile) {
  const int64_t channels = space_channels(cg, g).at(fragile);
  return [&cg, fragile, channels](const Graph& p) {
    return 1.0 - double(channels - space_channels(cg, p).at(fragile)) / double(channels);
  };
}

TEST(LayerRatios, ARatioPerSpacePrunesOnlyThatSpace) {
  const Graph g = resnet8();
  const prune::ChannelGraph cg(g);
  const std::vector<int> spaces = prunable_spaces(cg);
  ASSERT_GE(spaces.size(), 3u);
  const auto before = space_channels(cg, g);
  const int chosen = spaces[1];
  std::vector<double> ratios(cg.spaces.size(), 0.0);
  ratios[size_t(chosen)] = 0.5;
  const Graph pruned = prune::prune_channels(g, ratios, prune::Criterion::l1);
  for (const auto& [space, channels] : space_channels(cg, pruned))
    EXPECT_EQ(channels, space == chosen ? before.at(space) / 2 : before.at(space)) << "space " << space;
  // The uniform form is the per-space form with every ratio equal.
  const Graph uniform = prune::prune_channels(g, 0.5, prune::Criterion::l1);
  const Graph per_space = prune::prune_channels(g, std::vector<double>(cg.spaces.size(), 0.5), prune::Criterion::l1);
  EXPECT_EQ(uniform.param_count(), per_space.param_count());
  EXPECT_EQ(uniform.macs(), per_space.macs());
}

TEST(LayerRatios, PlannerPrunesWhereAccuracyIsCheapestAndMeetsTheTarget) {
  const Graph g = resnet8();
  const prune::ChannelGraph cg(g);
  const std::vector<int> spaces = prunable_spaces(cg);
  const auto full = space_channels(cg, g);
  // A made-up accuracy: every removed channel of `fragile` costs a lot, of the others little.
  const int fragile = spaces.back();
  const prune::GraphMetric accuracy = [&](const Graph& p) {
    double acc = 1.0;
    for (const auto& [space, channels] : space_channels(cg, p)) {
      const double removed = 1.0 - double(channels) / double(full.at(space));
      acc -= (space == fragile ? 1.0 : 0.01) * removed;
    }
    return acc;
  };
  const prune::GraphMetric macs = [](const Graph& p) { return double(p.macs()); };
  const double target = 0.7 * double(g.macs());
  const prune::LayerRatios plan = prune::plan_layer_ratios(g, prune::Criterion::l1, accuracy, macs, target);
  EXPECT_LE(plan.cost, target);
  EXPECT_EQ(plan.base_cost, double(g.macs()));
  EXPECT_GT(plan.fraction, 0.0);
  const Graph pruned = prune::prune_channels(g, plan.space_ratios, prune::Criterion::l1);
  EXPECT_GE(double(space_channels(cg, pruned).at(fragile)), 0.9 * double(full.at(fragile)))
      << "the fragile space is pruned although others could pay";
  EXPECT_EQ(double(pruned.macs()), plan.cost);
  EXPECT_GT(accuracy(pruned), 0.95);
  // The uniform cut sized to the target (the depth each space is profiled at) is less accurate.
  ASSERT_FALSE(plan.profiles.empty());
  const double depth = plan.profiles.front().ratios.back();
  std::vector<double> uniform(cg.spaces.size(), 0.0);
  for (const prune::SpaceProfile& p : plan.profiles) uniform[size_t(p.space)] = depth;
  EXPECT_LE(macs(prune::prune_channels(g, uniform, prune::Criterion::l1)), target);
  EXPECT_LT(accuracy(prune::prune_channels(g, uniform, prune::Criterion::l1)), 0.95);
  EXPECT_FALSE(plan.uniform);
  EXPECT_EQ(plan.planned_accuracy, accuracy(pruned));
  // Every plan judged is on record, the uniform cut first; the chosen one is the most accurate.
  ASSERT_GE(plan.candidates.size(), 2u);
  EXPECT_EQ(plan.candidates.front().kind, "uniform");
  EXPECT_EQ(plan.candidates.front().accuracy, accuracy(prune::prune_channels(g, uniform, prune::Criterion::l1)));
  EXPECT_EQ(plan.candidates.front().macs, int64_t(macs(prune::prune_channels(g, uniform, prune::Criterion::l1))));
  const auto chosen = std::find_if(plan.candidates.begin(), plan.candidates.end(),
                                   [&](const prune::PlanCandidate& c) { return c.accuracy == plan.planned_accuracy; });
  ASSERT_NE(chosen, plan.candidates.end());
  EXPECT_EQ(chosen->params, pruned.param_count());
  EXPECT_EQ(chosen->macs, pruned.macs());
  EXPECT_EQ(chosen->fraction, plan.fraction);
  for (const prune::PlanCandidate& c : plan.candidates) {
    EXPECT_LE(c.accuracy, plan.planned_accuracy);
    EXPECT_LE(c.cost, target);
    EXPECT_TRUE(c.kind == "uniform" || c.kind == "profile" || c.kind == "random" || c.kind == "refinement") << c.kind;
  }
  // Each measured space has its levels, the unpruned one first.
  for (const prune::SpaceProfile& p : plan.profiles) {
    EXPECT_EQ(p.ratios.front(), 0.0);
    EXPECT_EQ(p.kept.front(), p.channels);
    EXPECT_EQ(p.ratios.size(), p.cost.size());
    EXPECT_EQ(p.ratios.size(), p.accuracy.size());
  }
}

TEST(LayerRatios, AUniformCutThatIsMoreAccurateWins) {
  // A made-up accuracy that punishes uneven cuts (every other candidate is uneven): the uniform
  // cut sized to the target is kept.
  const Graph g = resnet8();
  const prune::ChannelGraph cg(g);
  const auto full = space_channels(cg, g);
  const prune::GraphMetric accuracy = [&](const Graph& p) {
    double lo = 1, hi = 0;
    for (const auto& [space, channels] : space_channels(cg, p)) {
      if (full.at(space) < 8) continue;
      const double removed = 1.0 - double(channels) / double(full.at(space));
      lo = std::min(lo, removed);
      hi = std::max(hi, removed);
    }
    return 1.0 - (hi - lo) - 0.01 * hi;
  };
  const prune::GraphMetric macs = [](const Graph& p) { return double(p.macs()); };
  const double target = 0.7 * double(g.macs());
  const prune::LayerRatios plan = prune::plan_layer_ratios(g, prune::Criterion::l1, accuracy, macs, target);
  EXPECT_TRUE(plan.uniform);
  EXPECT_LE(plan.cost, target);
  ASSERT_FALSE(plan.profiles.empty());
  const double ratio = plan.space_ratios[size_t(plan.profiles.front().space)];
  EXPECT_GT(ratio, 0.0);
  for (const prune::SpaceProfile& p : plan.profiles) EXPECT_EQ(plan.space_ratios[size_t(p.space)], ratio);
  // The next shallower uniform level misses the target: the cut is the least that meets it.
  std::vector<double> shallower = plan.space_ratios;
  for (double& r : shallower) r = r > 0 ? r - 1.0 / prune::kLayerRatioLevels : 0.0;
  EXPECT_GT(macs(prune::prune_channels(g, shallower, prune::Criterion::l1)), target);
}

TEST(LayerRatios, CostsThatDoNotAddUpStillReachAReachableTarget) {
  // A cost that falls only once every space is pruned (as a batch-1 latency made of per-call
  // overheads can): each space alone saves nothing, yet the target is reachable.
  const Graph g = resnet8();
  const prune::ChannelGraph cg(g);
  const auto full = space_channels(cg, g);
  const prune::GraphMetric accuracy = [](const Graph& p) { return double(p.macs()); };
  const prune::GraphMetric cost = [&](const Graph& p) {
    for (const auto& [space, channels] : space_channels(cg, p))
      if (full.at(space) >= 8 && channels == full.at(space)) return double(g.macs());
    return double(p.macs());
  };
  const double target = 0.9 * double(g.macs());
  const prune::LayerRatios plan = prune::plan_layer_ratios(g, prune::Criterion::l1, accuracy, cost, target);
  EXPECT_LE(plan.cost, target);
  EXPECT_LE(cost(prune::prune_channels(g, plan.space_ratios, prune::Criterion::l1)), target);
}

TEST(LayerRatios, PlansAreSizedAgainstTheUniformCutMeasuredBesideThem) {
  // An absolute cost that drifts from call to call (a machine whose speed wanders) and a relative
  // one that does not: plans are sized by the relative one, to the uniform cut itself.
  const Graph g = resnet8();
  const prune::ChannelGraph cg(g);
  const int fragile = prunable_spaces(cg).back();
  const prune::GraphMetric accuracy = only_fragile_space_counts(g, cg, fragile);
  int calls = 0;
  const prune::GraphMetric drifting = [&](const Graph& p) { return double(p.macs()) * (++calls % 2 ? 0.8 : 1.2); };
  std::vector<int64_t> references;
  const prune::RelativeCost relative = [&](const Graph& candidate, const Graph& reference) {
    references.push_back(reference.macs());
    return double(candidate.macs()) / double(reference.macs());
  };
  const double target = 0.6 * double(g.macs());
  const prune::LayerRatios plan = prune::plan_layer_ratios(g, prune::Criterion::l1, accuracy, drifting, target,
                                                           prune::kLayerRatioLevels, {}, relative);
  ASSERT_FALSE(references.empty());
  // Every plan was measured against one reference: the uniform cut.
  EXPECT_TRUE(std::all_of(references.begin(), references.end(), [&](int64_t m) { return m == references[0]; }));
  ASSERT_FALSE(plan.uniform);  // sparing the fragile space judges better
  const int64_t planned = prune::prune_channels(g, plan.space_ratios, prune::Criterion::l1).macs();
  EXPECT_LE(planned, references[0]);
  // As costly as what it replaces, not far below (one channel of a 16-channel space at 28x28 is
  // about 3 % of resnet-8's MACs).
  EXPECT_GE(double(planned), 0.92 * double(references[0]));
}

TEST(LayerRatios, APlanLikeAUniformCutCostsNoMoreThanIt) {
  const Graph g = resnet8();
  const prune::ChannelGraph cg(g);
  const auto full = space_channels(cg, g);
  const int fragile = prunable_spaces(cg).back();
  const prune::GraphMetric accuracy = only_fragile_space_counts(g, cg, fragile);
  const prune::GraphMetric macs = [](const Graph& p) { return double(p.macs()); };
  const prune::RelativeCost relative = [](const Graph& candidate, const Graph& reference) {
    return double(candidate.macs()) / double(reference.macs());
  };
  const int64_t uniform_macs = prune::prune_channels(g, 0.5, prune::Criterion::l1).macs();
  const prune::LayerRatios plan =
      prune::plan_layer_ratios_like_uniform(g, prune::Criterion::l1, accuracy, macs, 0.5, relative);
  EXPECT_FALSE(plan.uniform);
  EXPECT_GT(plan.planned_accuracy, plan.uniform_accuracy);
  const Graph pruned = prune::prune_channels(g, plan.space_ratios, prune::Criterion::l1);
  EXPECT_LE(pruned.macs(), uniform_macs);
  EXPECT_GE(double(pruned.macs()), 0.92 * double(uniform_macs));
  EXPECT_EQ(space_channels(cg, pruned).at(fragile), full.at(fragile)) << "the fragile space is spared";
  EXPECT_THROW(prune::plan_layer_ratios_like_uniform(g, prune::Criterion::l1, accuracy, macs, 0.9, relative), Error);
}

TEST(LayerRatios, AnUnreachableTargetIsAnError) {
  const Graph g = resnet8();
  const prune::GraphMetric accuracy = [](const Graph&) { return 1.0; };
  const prune::GraphMetric macs = [](const Graph& p) { return double(p.macs()); };
  EXPECT_THROW(prune::plan_layer_ratios(g, prune::Criterion::l1, accuracy, macs, 10.0), Error);
  // A target the model already meets prunes nothing.
  const prune::LayerRatios none =
      prune::plan_layer_ratios(g, prune::Criterion::l1, accuracy, macs, double(g.macs()) + 1);
  EXPECT_EQ(none.fraction, 0.0);
  EXPECT_EQ(none.evaluations, 0);
}

}  // namespace
}  // namespace nimble
