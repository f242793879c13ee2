#pragma once
// Hardware-aware architecture search as one call, in stages that each leave their result in the
// work directory and are skipped (or continued) when run again:
//   supernet   OUT/supernet.nimble: the weight-sharing supernet, trained once (resumable per epoch)
//   latency    OUT/latency.json: every block timed on this CPU, the predictor's line fitted on
//              whole models and validated on held-out ones (the block table is also cached per
//              machine under ~/.cache/nimble/latency)
//   search     OUT/evaluations.csv, OUT/front.csv: NSGA-II with predictor screening, and random
//              search as the control; every measured point
//   extract    OUT/searched-K.nimble: the chosen architectures as standalone models, batch-norm
//              recalibrated (optionally fine-tuned), measured and tested
#include <optional>
#include <string>
#include <vector>

#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"

namespace nimble {

struct SearchOptions {
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";
  bool skip_bad = false;
  int64_t cache_mb = 0;
  std::string out = "search";  // the work directory
  // The space (MobileNetV3's options).
  bool squeeze_excite = false, hard_swish = false;
  // Supernet training.
  int64_t epochs = 10;
  std::optional<int64_t> batch;  // default 128 (halved for small data)
  std::optional<double> lr;      // default 0.05 x batch / 128
  int64_t random_subnets = 2;
  Precision precision = Precision::automatic;  // training
  std::optional<int64_t> val;                  // validation images held out (default: a tenth, at most 5,000)
  int64_t limit = 0;                           // first-N training images (0: all)
  uint64_t seed = 0;
  // Latency.
  std::string deploy = "fp32";  // fp32 | bf16 | int8: how the searched model will run
  int threads = 0;              // 0: every core
  int latency_iters = 30;
  int64_t latency_calibration = 20, latency_validation = 50;  // whole models measured
  // Search.
  int64_t population = 16, generations = 6;
  int64_t random_evaluations = 96;  // the control (0: none)
  int64_t recalibration_images = 2000;
  std::optional<double> max_latency_ms, min_accuracy;
  // Output.
  // Extract this architecture (dD-wW-eE-kK_... per stage) instead of searching: to fine-tune or
  // compare one of the front's neighbours. Written to OUT/arch-ARCH.nimble.
  std::string arch;
  int64_t select = 3;  // models extracted from the front (with a latency budget: the best one within it)
  int64_t finetune_epochs = 0;
  bool progress = true;
  Log log = log_to_stderr;
  void validate() const;
};

struct LatencyValidation {
  int64_t models = 0;
  double mape = 0, within_10_percent = 0, kendall_tau = 0;
  double median_noise = 0;  // inter-quartile range / median of the whole-model measurements
};

struct SearchedModel {
  std::string arch, path;
  double val_accuracy_inherited = 0;  // measured during the search
  double predicted_latency_ms = 0, measured_latency_ms = 0, latency_noise = 0;
  double test_accuracy = 0;
  int64_t params = 0, macs = 0;
  bool within_budget = true;
};

struct SearchReport {
  std::string out;
  std::string cpu, deploy;
  // Where the latency table was timed: "this machine", or under mpirun rank 0's machine and how
  // the ranks shared the timing (the other ranks' machines may differ; the table is rank 0's).
  std::string latency_measured_on;
  double space_size = 0;
  // Supernet.
  int64_t supernet_epochs = 0;
  bool supernet_resumed = false, supernet_reused = false;
  double supernet_seconds = 0;
  std::vector<double> supernet_losses;  // the largest sub-network's training loss, per epoch this run trained
  Precision precision = Precision::fp32;
  // Latency.
  int64_t latency_blocks = 0;
  bool latency_cached = false, latency_pinned = false;
  double latency_table_seconds = 0, latency_block_noise = 0, latency_slope = 1, latency_intercept_ms = 0;
  LatencyValidation latency;
  // Search.
  int64_t nsga2_evaluations = 0, random_evaluations = 0;
  std::vector<double> nsga2_hypervolume;                     // after each generation
  std::vector<int64_t> nsga2_generation_evaluations;         // evaluations done by then
  std::vector<double> random_hypervolume;                    // after the same numbers of evaluations
  std::optional<int64_t> nsga2_evaluations_to_random_final;  // to reach random search's final hypervolume
  double predictor_kendall_tau = 0;                          // predicted vs measured, NSGA-II's screened ones
  std::vector<double> hypervolume_reference;
  double search_seconds = 0;
  std::vector<SearchedModel> models;
  double seconds = 0;
};

SearchReport search(const SearchOptions& options);
std::string to_json(const SearchReport& report);

}  // namespace nimble
