#include "nimble/nas/search.hpp"

#include <algorithm>
#include <set>

#include "nimble/core/error.hpp"
#include "nimble/nas/nsga2.hpp"
#include "nimble/nas/pareto.hpp"

namespace nimble::nas {

namespace {

std::vector<Candidate> measure(const std::vector<Arch>& archs, const AccuraciesFn& accuracies, const LatencyFn& latency,
                               const char* method, int generation) {
  const std::vector<double> acc = accuracies(archs);
  NIMBLE_ASSERT(acc.size() == archs.size(), "an accuracy per architecture");
  std::vector<Candidate> out(archs.size());
  for (size_t i = 0; i < archs.size(); ++i) {
    out[i].arch = archs[i];
    out[i].latency_ms = latency(archs[i]);
    out[i].accuracy = acc[i];
    out[i].method = method;
    out[i].generation = generation;
  }
  return out;
}

AccuraciesFn one_by_one(const AccuracyFn& accuracy) {
  return [accuracy](const std::vector<Arch>& archs) {
    std::vector<double> acc;
    acc.reserve(archs.size());
    for (const Arch& a : archs) acc.push_back(accuracy(a));
    return acc;
  };
}

Individual individual(const SearchSpace& space, const Candidate& c, const Constraints& k) {
  return {space.genes(c.arch), {1.0 - c.accuracy, c.latency_ms}, k.violation(c.accuracy, c.latency_ms)};
}

}  // namespace

double Constraints::violation(double accuracy, double latency_ms) const {
  double v = 0;
  // Relative shortfalls, so that a millisecond and a point of accuracy weigh alike.
  if (max_latency_ms && latency_ms > *max_latency_ms) v += (latency_ms - *max_latency_ms) / *max_latency_ms;
  if (min_accuracy && accuracy < *min_accuracy) v += (*min_accuracy - accuracy) / std::max(*min_accuracy, 1e-9);
  return v;
}

void SearchConfig::validate() const {
  NIMBLE_CHECK(population >= 4 && population % 2 == 0 && population <= 4096,
               "the population must be an even number from 4 to 4096");
  NIMBLE_CHECK(generations >= 0 && generations <= 10000, "generations must be in [0, 10000]");
  NIMBLE_CHECK(screen_factor >= 1 && screen_factor <= 1000, "the screening factor must be in [1, 1000]");
  NIMBLE_CHECK(ridge_lambda >= 0, "the ridge penalty must not be negative");
  NIMBLE_CHECK(!constraints.max_latency_ms || *constraints.max_latency_ms > 0, "--max-latency-ms must be positive");
  NIMBLE_CHECK(!constraints.min_accuracy || (*constraints.min_accuracy >= 0 && *constraints.min_accuracy <= 1),
               "--min-accuracy must be a fraction in [0, 1]");
}

AccuracyPredictor fit_accuracy_predictor(const SearchSpace& space, const std::vector<Candidate>& measured,
                                         double lambda) {
  NIMBLE_CHECK(measured.size() >= 2, "the accuracy predictor needs at least 2 measured architectures");
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (const Candidate& c : measured) {
    x.push_back(space.encode(c.arch));
    y.push_back(c.accuracy);
  }
  return {fit_ridge(x, y, lambda), int64_t(measured.size())};
}

SearchTrace random_search(const SearchSpace& space, int64_t evaluations, const AccuracyFn& accuracy,
                          const LatencyFn& latency, uint64_t seed, const CandidateFn& on_candidate) {
  return random_search(space, evaluations, one_by_one(accuracy), latency, seed, on_candidate);
}

SearchTrace random_search(const SearchSpace& space, int64_t evaluations, const AccuraciesFn& accuracies,
                          const LatencyFn& latency, uint64_t seed, const CandidateFn& on_candidate) {
  NIMBLE_CHECK(evaluations >= 0, "random search evaluations must not be negative");
  Nsga2 sampler(space.cardinalities(), {.population = 4, .seed = seed});
  SearchTrace t;
  const auto genomes = sampler.random_genomes(int(evaluations));
  constexpr size_t kPerCall = 16;
  for (size_t first = 0; first < genomes.size(); first += kPerCall) {
    std::vector<Arch> archs;
    for (size_t i = first; i < std::min(genomes.size(), first + kPerCall); ++i)
      archs.push_back(space.from_genes(genomes[i]));
    for (Candidate& c : measure(archs, accuracies, latency, "random", 0)) {
      t.evaluated.push_back(std::move(c));
      if (on_candidate) on_candidate(t.evaluated.back());
    }
  }
  return t;
}

SearchTrace nsga2_search(const SearchSpace& space, const SearchConfig& config, const AccuracyFn& accuracy,
                         const LatencyFn& latency, const CandidateFn& on_candidate) {
  return nsga2_search(space, config, one_by_one(accuracy), latency, on_candidate);
}

SearchTrace nsga2_search(const SearchSpace& space, const SearchConfig& config, const AccuraciesFn& accuracies,
                         const LatencyFn& latency, const CandidateFn& on_candidate) {
  config.validate();
  Nsga2 search(space.cardinalities(), {.population = config.population, .seed = config.seed});
  SearchTrace t;
  std::vector<Individual> population;  // the parents, then the measured children, until selection
  std::set<std::vector<int>> seen;
  auto record = [&](Candidate c) {
    seen.insert(space.genes(c.arch));
    population.push_back(individual(space, c, config.constraints));
    t.evaluated.push_back(std::move(c));
    if (on_candidate) on_candidate(t.evaluated.back());
  };
  // The largest and the smallest architecture anchor the initial population: the sandwich rule
  // trains them every step, so they span the accuracies the supernet reaches.
  std::vector<std::vector<int>> initial{space.genes(space.largest()), space.genes(space.smallest())};
  for (auto& genes : search.random_genomes(config.population))
    if (int(initial.size()) < config.population && std::find(initial.begin(), initial.end(), genes) == initial.end())
      initial.push_back(std::move(genes));
  std::vector<Arch> first;
  first.reserve(initial.size());
  for (const auto& genes : initial) first.push_back(space.from_genes(genes));
  for (Candidate& c : measure(first, accuracies, latency, "nsga2", 0)) record(std::move(c));
  t.generation_end.push_back(int64_t(t.evaluated.size()));
  for (int gen = 1; gen <= config.generations; ++gen) {
    const AccuracyPredictor predictor = fit_accuracy_predictor(space, t.evaluated, config.ridge_lambda);
    // Screening: many offspring ranked on predicted objectives; only the best are measured.
    std::vector<Individual> proposals;
    for (auto& genes : search.offspring(population, config.population * config.screen_factor)) {
      if (seen.count(genes)) continue;
      const Arch a = space.from_genes(genes);
      const double acc = predictor.predict(space, a), lat = latency(a);
      proposals.push_back({genes, {1.0 - acc, lat}, config.constraints.violation(acc, lat)});
    }
    const std::vector<Individual> chosen = search.select(proposals, config.population);
    std::vector<Arch> archs;
    archs.reserve(chosen.size());
    for (const Individual& i : chosen) archs.push_back(space.from_genes(i.genes));
    std::vector<Candidate> measured = measure(archs, accuracies, latency, "nsga2", gen);
    for (size_t i = 0; i < measured.size(); ++i) {
      measured[i].predicted_accuracy = 1.0 - chosen[i].objectives[0];
      measured[i].predicted = true;
      record(std::move(measured[i]));
    }
    population = search.select(population, config.population);
    t.generation_end.push_back(int64_t(t.evaluated.size()));
  }
  return t;
}

std::vector<std::vector<double>> objectives(const std::vector<Candidate>& c) {
  std::vector<std::vector<double>> o;
  o.reserve(c.size());
  for (const Candidate& x : c) o.push_back({1.0 - x.accuracy, x.latency_ms});
  return o;
}

double hypervolume_of_first(const std::vector<Candidate>& c, size_t n, const std::vector<double>& reference) {
  const std::vector<Candidate> first(c.begin(), c.begin() + std::min(n, c.size()));
  return hypervolume_2d(objectives(first), reference);
}

}  // namespace nimble::nas
