#pragma once
// NSGA-II (Deb et al. 2002) over integer genomes, ask/tell style: the caller evaluates genomes (trains,
// measures, predicts), the search only proposes and selects. One generation:
//
//   auto children = search.offspring(population, config.population);      // ask
//   ... evaluate children into Individuals ...                             // tell
//   population = search.select(concat(population, evaluated), config.population);
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nimble/core/rng.hpp"

namespace nimble::nas {

struct Individual {
  std::vector<int> genes;          // genes[i] in [0, cardinality[i])
  std::vector<double> objectives;  // minimised
  double violation = 0;            // constraint violation; 0 = feasible (Deb's constrained domination)
};

struct Nsga2Config {
  int population = 32;
  double crossover_probability = 0.9;  // uniform crossover
  double mutation_probability = -1;    // per gene; < 0 means 1 / genes
  uint64_t seed = 0;
};

// Constrained domination: a feasible individual beats an infeasible one; of two infeasible ones the lower
// violation wins; of two feasible ones Pareto domination on the objectives decides.
bool constrained_dominates(const Individual& a, const Individual& b);

class Nsga2 {
 public:
  // Throws nimble::Error unless cardinalities is non-empty with each >= 1, population >= 4 and even, and the
  // probabilities are at most 1 (crossover also >= 0).
  Nsga2(std::vector<int> cardinalities, Nsga2Config config);

  // `count` uniformly random genomes, distinct where the space allows (bounded retries).
  std::vector<std::vector<int>> random_genomes(int count);

  // `count` children of an evaluated population: binary tournaments on (constrained rank, crowding), uniform
  // crossover, per-gene mutation to a different value. Children that repeat each other or a parent are
  // redrawn a bounded number of times, so duplicates appear only when the space is (nearly) exhausted.
  std::vector<std::vector<int>> offspring(const std::vector<Individual>& parents, int count);

  // Environmental selection: the best `count` distinct genomes of `pool` by constrained non-dominated rank, then
  // crowding distance; fewer when the pool has fewer distinct genomes. Sorted best first; the first copy of a
  // repeated genome is the one kept.
  std::vector<Individual> select(const std::vector<Individual>& pool, int count) const;

  const std::vector<int>& cardinalities() const { return cardinalities_; }
  const Nsga2Config& config() const { return config_; }

 private:
  std::vector<int> random_genome();
  std::vector<int> make_child(const std::vector<Individual>& parents, const std::vector<int>& ranks,
                              const std::vector<double>& crowding, bool force_mutation);
  size_t tournament(const std::vector<int>& ranks, const std::vector<double>& crowding);
  void mutate(std::vector<int>& genes, bool force);

  std::vector<int> cardinalities_;
  Nsga2Config config_;
  double mutation_probability_;
  Rng rng_;
};

}  // namespace nimble::nas
