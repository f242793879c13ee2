#include "nimble/nas/nsga2.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <utility>

#include "fronts.hpp"
#include "nimble/core/error.hpp"
#include "nimble/nas/pareto.hpp"

namespace nimble::nas {

namespace {

// Redraws per child before a duplicate is accepted: enough to escape a converged population, bounded so a tiny
// search space cannot loop forever.
constexpr int kMaxDraws = 32;

double unit(Rng& rng) { return static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53; }  // [0, 1)

// A value in [0, cardinality) other than `value` (cardinality >= 2).
int other_value(Rng& rng, int value, int cardinality) {
  int v = static_cast<int>(rng.below(static_cast<uint64_t>(cardinality - 1)));
  return v >= value ? v + 1 : v;
}

void check_population(const std::vector<Individual>& pool, const std::vector<int>& cardinalities, const char* what) {
  const std::string where = std::string("Nsga2::") + what + ": ";
  for (const Individual& ind : pool) {
    NIMBLE_CHECK(ind.genes.size() == cardinalities.size(), where + "a genome has " + std::to_string(ind.genes.size()) +
                                                               " genes, the search has " +
                                                               std::to_string(cardinalities.size()));
    for (size_t g = 0; g < ind.genes.size(); ++g)
      NIMBLE_CHECK(ind.genes[g] >= 0 && ind.genes[g] < cardinalities[g],
                   where + "gene " + std::to_string(g) + " is out of range");
    NIMBLE_CHECK(!ind.objectives.empty() && ind.objectives.size() == pool.front().objectives.size(),
                 where + "every individual needs the same, non-zero number of objectives");
    for (double v : ind.objectives) NIMBLE_CHECK(!std::isnan(v), where + "an objective is NaN");
    NIMBLE_CHECK(ind.violation >= 0, where + "violation must be >= 0 (0 = feasible)");
  }
}

struct Ranking {
  std::vector<int> rank;         // constrained non-domination rank
  std::vector<double> crowding;  // crowding distance within the individual's front
};

Ranking rank_and_crowd(const std::vector<Individual>& pool) {
  Ranking r;
  r.rank = ranks_under(pool.size(), [&](size_t i, size_t j) { return constrained_dominates(pool[i], pool[j]); });
  r.crowding.assign(pool.size(), 0);
  std::vector<std::vector<double>> objectives;
  objectives.reserve(pool.size());
  for (const Individual& ind : pool) objectives.push_back(ind.objectives);
  const int fronts = pool.empty() ? 0 : *std::max_element(r.rank.begin(), r.rank.end()) + 1;
  std::vector<std::vector<size_t>> members(fronts);
  for (size_t i = 0; i < pool.size(); ++i) members[r.rank[i]].push_back(i);
  for (const auto& front : members) {
    const std::vector<double> d = crowding_distances(objectives, front);
    for (size_t k = 0; k < front.size(); ++k) r.crowding[front[k]] = d[k];
  }
  return r;
}

}  // namespace

bool constrained_dominates(const Individual& a, const Individual& b) {
  const bool a_feasible = a.violation <= 0, b_feasible = b.violation <= 0;
  if (a_feasible != b_feasible) return a_feasible;
  if (!a_feasible) return a.violation < b.violation;
  return dominates(a.objectives, b.objectives);
}

Nsga2::Nsga2(std::vector<int> cardinalities, Nsga2Config config)
    : cardinalities_(std::move(cardinalities)), config_(config), rng_(config.seed) {
  NIMBLE_CHECK(!cardinalities_.empty(), "Nsga2 needs at least one gene");
  for (int c : cardinalities_) NIMBLE_CHECK(c >= 1, "Nsga2: every gene needs a cardinality >= 1");
  NIMBLE_CHECK(config_.population >= 4 && config_.population % 2 == 0,
               "Nsga2: population must be even and >= 4 (got " + std::to_string(config_.population) + ")");
  NIMBLE_CHECK(config_.crossover_probability >= 0 && config_.crossover_probability <= 1,
               "Nsga2: crossover_probability must be in [0, 1]");
  NIMBLE_CHECK(config_.mutation_probability <= 1, "Nsga2: mutation_probability must be <= 1 (< 0 for 1 / genes)");
  mutation_probability_ = config_.mutation_probability < 0 ? 1.0 / static_cast<double>(cardinalities_.size())
                                                           : config_.mutation_probability;
}

std::vector<int> Nsga2::random_genome() {
  std::vector<int> genes(cardinalities_.size());
  for (size_t g = 0; g < genes.size(); ++g) genes[g] = static_cast<int>(rng_.below(cardinalities_[g]));
  return genes;
}

std::vector<std::vector<int>> Nsga2::random_genomes(int count) {
  NIMBLE_CHECK(count >= 0, "Nsga2::random_genomes: count must be >= 0");
  std::vector<std::vector<int>> genomes;
  std::set<std::vector<int>> seen;
  for (int c = 0; c < count; ++c) {
    std::vector<int> genes = random_genome();
    for (int draw = 1; draw < kMaxDraws && seen.count(genes) != 0; ++draw) genes = random_genome();
    seen.insert(genes);
    genomes.push_back(std::move(genes));
  }
  return genomes;
}

size_t Nsga2::tournament(const std::vector<int>& ranks, const std::vector<double>& crowding) {
  const size_t n = ranks.size();
  if (n == 1) return 0;
  const size_t a = rng_.below(n);
  size_t b = rng_.below(n - 1);
  if (b >= a) ++b;
  if (ranks[a] != ranks[b]) return ranks[a] < ranks[b] ? a : b;
  return crowding[b] > crowding[a] ? b : a;
}

void Nsga2::mutate(std::vector<int>& genes, bool force) {
  for (size_t g = 0; g < genes.size(); ++g)
    if (cardinalities_[g] >= 2 && unit(rng_) < mutation_probability_)
      genes[g] = other_value(rng_, genes[g], cardinalities_[g]);
  if (!force) return;
  // A redraw after duplicates: change one more gene so the child surely differs from its parent.
  std::vector<size_t> mutable_genes;
  for (size_t g = 0; g < genes.size(); ++g)
    if (cardinalities_[g] >= 2) mutable_genes.push_back(g);
  if (mutable_genes.empty()) return;
  const size_t g = mutable_genes[rng_.below(mutable_genes.size())];
  genes[g] = other_value(rng_, genes[g], cardinalities_[g]);
}

std::vector<int> Nsga2::make_child(const std::vector<Individual>& parents, const std::vector<int>& ranks,
                                   const std::vector<double>& crowding, bool force_mutation) {
  const std::vector<int>& first = parents[tournament(ranks, crowding)].genes;
  const std::vector<int>& second = parents[tournament(ranks, crowding)].genes;
  std::vector<int> child = first;
  if (unit(rng_) < config_.crossover_probability)
    for (size_t g = 0; g < child.size(); ++g)
      if ((rng_.next_u64() >> 63) != 0) child[g] = second[g];
  mutate(child, force_mutation);
  return child;
}

std::vector<std::vector<int>> Nsga2::offspring(const std::vector<Individual>& parents, int count) {
  NIMBLE_CHECK(count >= 0, "Nsga2::offspring: count must be >= 0");
  NIMBLE_CHECK(!parents.empty(), "Nsga2::offspring needs at least one evaluated parent");
  check_population(parents, cardinalities_, "offspring");
  const Ranking ranking = rank_and_crowd(parents);
  std::set<std::vector<int>> seen;
  for (const Individual& p : parents) seen.insert(p.genes);
  std::vector<std::vector<int>> children;
  for (int c = 0; c < count; ++c) {
    std::vector<int> child = make_child(parents, ranking.rank, ranking.crowding, false);
    for (int draw = 1; draw < kMaxDraws && seen.count(child) != 0; ++draw)
      child = make_child(parents, ranking.rank, ranking.crowding, draw >= kMaxDraws / 2);
    seen.insert(child);
    children.push_back(std::move(child));
  }
  return children;
}

std::vector<Individual> Nsga2::select(const std::vector<Individual>& pool, int count) const {
  NIMBLE_CHECK(count >= 0, "Nsga2::select: count must be >= 0");
  check_population(pool, cardinalities_, "select");
  std::vector<Individual> distinct;
  std::set<std::vector<int>> seen;
  for (const Individual& ind : pool)
    if (seen.insert(ind.genes).second) distinct.push_back(ind);
  const Ranking ranking = rank_and_crowd(distinct);
  std::vector<size_t> order(distinct.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Whole fronts first, then the least crowded of the front that does not fit (Deb et al. 2002).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (ranking.rank[a] != ranking.rank[b]) return ranking.rank[a] < ranking.rank[b];
    return ranking.crowding[a] > ranking.crowding[b];
  });
  order.resize(std::min(order.size(), static_cast<size_t>(count)));
  std::vector<Individual> selected;
  selected.reserve(order.size());
  for (size_t i : order) selected.push_back(std::move(distinct[i]));
  return selected;
}

}  // namespace nimble::nas
