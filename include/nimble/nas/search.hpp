#pragma once
// Searching a space for the architectures with the best accuracy/latency trade-off: NSGA-II whose
// offspring are screened by predictors before any is measured, and random search as the control.
// Accuracy is measured by the caller's function (a supernet's inherited weights); latency comes
// from the table measured on this machine.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nimble/nas/space.hpp"
#include "nimble/nas/stats.hpp"

namespace nimble::nas {

struct Candidate {
  Arch arch;
  double accuracy = 0;    // measured
  double latency_ms = 0;  // predicted by the latency table
  // The accuracy predictor's guess before it was measured (when `predicted`).
  double predicted_accuracy = 0;
  bool predicted = false;
  std::string method;  // "random", "nsga2" or "given" (--arch)
  int generation = 0;  // nsga2: 0 for the initial population
};

struct Constraints {
  std::optional<double> max_latency_ms, min_accuracy;
  double violation(double accuracy, double latency_ms) const;  // 0 when both hold
};

using AccuracyFn = std::function<double(const Arch&)>;
// Several architectures measured in one call (a generation at a time), so that a caller can spread
// them over ranks; returns their accuracies in order.
using AccuraciesFn = std::function<std::vector<double>(const std::vector<Arch>&)>;
using LatencyFn = std::function<double(const Arch&)>;
using CandidateFn = std::function<void(const Candidate&)>;  // after each evaluation (progress)

struct SearchConfig {
  int population = 16;    // NSGA-II's population and the number measured per generation
  int generations = 6;    // after the initial population
  int screen_factor = 8;  // offspring proposed per one measured (ranked by the predictors)
  double ridge_lambda = 1.0;
  uint64_t seed = 0;
  Constraints constraints;
  void validate() const;
};

// The accuracy predictor: ridge regression on the one-hot architecture encoding (as LINAS does).
struct AccuracyPredictor {
  RidgeModel model;
  int64_t samples = 0;
  double predict(const SearchSpace& space, const Arch& arch) const { return model.predict(space.encode(arch)); }
};
AccuracyPredictor fit_accuracy_predictor(const SearchSpace& space, const std::vector<Candidate>& measured,
                                         double lambda);

struct SearchTrace {
  std::vector<Candidate> evaluated;     // in evaluation order
  std::vector<int64_t> generation_end;  // nsga2: evaluations done after each generation (initial included)
};

// `evaluations` uniformly random distinct architectures.
SearchTrace random_search(const SearchSpace& space, int64_t evaluations, const AccuracyFn& accuracy,
                          const LatencyFn& latency, uint64_t seed, const CandidateFn& on_candidate = {});
// The same, measuring 16 architectures per call of `accuracies`.
SearchTrace random_search(const SearchSpace& space, int64_t evaluations, const AccuraciesFn& accuracies,
                          const LatencyFn& latency, uint64_t seed, const CandidateFn& on_candidate = {});

// NSGA-II over (1 - accuracy, latency). The initial population is the largest and the smallest
// architecture and random ones; each generation proposes
// screen_factor x population offspring, ranks them on predicted objectives (the accuracy predictor
// refitted on everything measured so far) and measures the best `population`.
SearchTrace nsga2_search(const SearchSpace& space, const SearchConfig& config, const AccuracyFn& accuracy,
                         const LatencyFn& latency, const CandidateFn& on_candidate = {});
// The same, measuring each generation's architectures in one call of `accuracies`.
SearchTrace nsga2_search(const SearchSpace& space, const SearchConfig& config, const AccuraciesFn& accuracies,
                         const LatencyFn& latency, const CandidateFn& on_candidate = {});

// Objectives (1 - accuracy, latency) of candidates, for pareto_front / hypervolume_2d.
std::vector<std::vector<double>> objectives(const std::vector<Candidate>& c);
// Hypervolume of the first `n` candidates' objectives against `reference`.
double hypervolume_of_first(const std::vector<Candidate>& c, size_t n, const std::vector<double>& reference);

}  // namespace nimble::nas
