// The search driver (nas/search.hpp) on a synthetic problem whose accuracy and latency are known
// functions of the architecture: NSGA-II measures what it says, respects the budget in its
// selection, its screening predictor ranks well, and it beats random search at equal evaluations.
#include <gtest/gtest.h>

#include <set>

#include "nimble/core/error.hpp"
#include "nimble/nas/pareto.hpp"
#include "nimble/nas/search.hpp"

namespace nimble::nas {
namespace {

// Bigger is more accurate (with diminishing returns) and slower.
double synthetic_accuracy(const Arch& a) {
  double capacity = 0;
  for (const StageChoice& s : a.stages) capacity += double(s.depth * s.width * s.expand) * (1 + 0.05 * s.kernel);
  return 0.95 - 0.3 / (1.0 + capacity / 400.0);
}
double synthetic_latency(const Arch& a) {
  double ms = 0.05;
  for (const StageChoice& s : a.stages) ms += 1e-4 * double(s.depth * s.width * s.expand) * (1 + 0.1 * s.kernel);
  return ms;
}

TEST(NasSearch, Nsga2MeasuresEachGenerationAndKeepsTrack) {
  const SearchSpace space({});
  SearchConfig c;
  c.population = 8;
  c.generations = 4;
  int64_t calls = 0, callbacks = 0;
  const SearchTrace t = nsga2_search(
      space, c, [&](const Arch& a) { return ++calls, synthetic_accuracy(a); }, synthetic_latency,
      [&](const Candidate&) { ++callbacks; });
  EXPECT_EQ(t.evaluated.size(), 40u);
  EXPECT_EQ(calls, 40);
  EXPECT_EQ(callbacks, 40);
  EXPECT_EQ(t.generation_end, (std::vector<int64_t>{8, 16, 24, 32, 40}));
  EXPECT_EQ(t.evaluated[0].arch, space.largest());  // the anchors of the initial population
  EXPECT_EQ(t.evaluated[1].arch, space.smallest());
  std::set<std::string> distinct;
  for (const Candidate& x : t.evaluated) {
    distinct.insert(arch_to_string(x.arch));
    EXPECT_EQ(x.method, "nsga2");
    EXPECT_DOUBLE_EQ(x.accuracy, synthetic_accuracy(x.arch));
    EXPECT_EQ(x.predicted, x.generation > 0);
  }
  EXPECT_EQ(distinct.size(), 40u);  // nothing measured twice
  for (size_t n = 1; n < t.evaluated.size(); ++n)
    EXPECT_LE(hypervolume_of_first(t.evaluated, n, {0.5, 2.0}), hypervolume_of_first(t.evaluated, n + 1, {0.5, 2.0}));
}

TEST(NasSearch, ScreeningBeatsRandomSearchAtEqualEvaluations) {
  const SearchSpace space({});
  SearchConfig c;
  c.population = 8;
  c.generations = 5;
  double nsga_wins = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    c.seed = seed;
    const SearchTrace n = nsga2_search(space, c, synthetic_accuracy, synthetic_latency);
    const SearchTrace r =
        random_search(space, int64_t(n.evaluated.size()), synthetic_accuracy, synthetic_latency, seed);
    ASSERT_EQ(r.evaluated.size(), n.evaluated.size());
    const std::vector<double> ref{0.4, 1.5};
    nsga_wins += hypervolume_of_first(n.evaluated, 48, ref) > hypervolume_of_first(r.evaluated, 48, ref);
    // The predictor, fitted on what was measured before, ranks its screened picks.
    std::vector<double> p, m;
    for (const Candidate& x : n.evaluated)
      if (x.predicted) p.push_back(x.predicted_accuracy), m.push_back(x.accuracy);
    EXPECT_GT(kendall_tau(p, m), 0.5) << seed;
  }
  EXPECT_EQ(nsga_wins, 3);
}

TEST(NasSearch, ConstraintsSteerTheSelection) {
  const SearchSpace space({});
  SearchConfig c;
  c.population = 8;
  c.generations = 4;
  c.constraints.max_latency_ms = 0.25;
  const SearchTrace t = nsga2_search(space, c, synthetic_accuracy, synthetic_latency);
  int late_feasible = 0, late = 0;
  for (const Candidate& x : t.evaluated)
    if (x.generation >= 3) ++late, late_feasible += x.latency_ms <= 0.25;
  EXPECT_GE(late_feasible, late * 3 / 4);
  EXPECT_EQ(c.constraints.violation(0.9, 0.2), 0.0);
  EXPECT_NEAR(c.constraints.violation(0.9, 0.5), 1.0, 1e-12);
  c.population = 5;
  EXPECT_THROW(nsga2_search(space, c, synthetic_accuracy, synthetic_latency), Error);
}

TEST(NasSearch, AccuracyPredictorFitsTheEncoding) {
  const SearchSpace space({});
  const SearchTrace r = random_search(space, 120, synthetic_accuracy, synthetic_latency, 9);
  const std::vector<Candidate> fit(r.evaluated.begin(), r.evaluated.begin() + 80);
  const AccuracyPredictor p = fit_accuracy_predictor(space, fit, 1.0);
  EXPECT_EQ(p.samples, 80);
  std::vector<double> predicted, measured;
  for (size_t i = 80; i < r.evaluated.size(); ++i) {
    predicted.push_back(p.predict(space, r.evaluated[i].arch));
    measured.push_back(r.evaluated[i].accuracy);
  }
  EXPECT_GT(kendall_tau(predicted, measured), 0.6);
}

}  // namespace
}  // namespace nimble::nas
