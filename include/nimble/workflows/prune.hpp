#pragma once
// Pruning a saved float model: unstructured (magnitude, N:M; stored compressed) or whole channels
// physically removed, in one shot or with gradual fine-tuning taught by the unpruned model;
// before and after evaluated and timed side by side.
#include <optional>
#include <string>
#include <vector>

#include "nimble/prune/channel.hpp"
#include "nimble/prune/gradual.hpp"
#include "nimble/prune/layer_ratios.hpp"
#include "nimble/prune/unstructured.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"
#include "nimble/workflows/teacher.hpp"

namespace nimble {

struct PruneOptions {
  std::string model, out;
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";  // auto | idx | folder | cifar | numpy (data::load_data)
  bool skip_bad = false;             // skip unreadable images instead of stopping
  int64_t cache_mb = 0;  // memory for decoded images, MB (0: half of RAM); beyond it they are decoded each epoch
  prune::Method method = prune::Method::magnitude;
  double sparsity = 0.5;  // magnitude
  prune::Scope scope = prune::Scope::global;
  // channel: a ratio of every prunable space's channels, or the smallest ratio that meets a
  // MACs or measured batch-1 latency target (at most one of the three).
  std::optional<double> ratio, target_macs, target_latency_ms;
  // A target is met with a ratio per layer chosen by measured accuracy and cost
  // (prune/layer_ratios.hpp); uniform: one ratio for every layer instead.
  bool uniform = false;
  // With a ratio: per-layer ratios, chosen as for a target, that run no slower at batch 1 than
  // that ratio everywhere timed beside them (a better cut at the uniform cut's latency).
  bool per_layer = false;
  // Training images of the short fine-tuning (one pass, labels only) that judges each per-layer
  // candidate plan; 0: judged one shot, after batch-norm recalibration. Unset: 12,800.
  std::optional<int64_t> plan_images;
  prune::Criterion criterion = prune::Criterion::l1;
  int n = 2, m = 4;  // nm: keep N of every M
  int64_t finetune_epochs = 0;
  // Peak learning rate and the share of the steps over which the cut deepens. Against 0.01 and
  // 0.5, channel pruning to 50 % with 5 epochs lost 0.2 points less on mobilenet_v2 and resnet-20
  // (docs/results.md, "Fine-tuning settings"): the model spends more of its steps recovering.
  double lr = 0.03, ramp = 0.3;
  // Batch of fine-tuning; unset: the model's training recipe's.
  std::optional<int64_t> finetune_batch;
  bool sync_batch_norm = false;                // of fine-tuning under mpirun (train::TrainConfig)
  bool force = false;                          // write {out} even when it is one of the inputs
  Precision precision = Precision::automatic;  // of fine-tuning
  int64_t batch = 256, iters = 50;
  uint64_t seed = 0;
  // The teacher while fine-tuning: empty teacher.teacher means the unpruned model itself;
  // no_teacher fine-tunes on the labels alone.
  TeacherOptions teacher;
  bool no_teacher = false;
  // Fine-tuning keeps OUT.train (the masked model and what continues its training) at each epoch
  // kept; resume continues from it when the command is the same, and a finished run removes it.
  bool resume = false;
  bool progress = true;
  Log log = log_to_stderr;
  void validate() const;
};

struct PruneLayerReport {
  std::string name, op;
  int64_t params_before = 0, params_after = 0, macs_before = 0, macs_after = 0;
  double sparsity = 0;
  std::optional<double> latency_ms_before, latency_ms_after;
};

struct PruneReport {
  std::string model, checkpoint, method, config;
  double amount = 0;
  int64_t finetune_epochs = 0;
  double test_accuracy_before = 0, test_accuracy_after = 0;
  int64_t params_before = 0, params_after = 0, macs_before = 0, macs_after = 0;
  double weight_sparsity_before = 0, weight_sparsity_after = 0;
  double latency_ms_before = 0, latency_ms_after = 0;
  int64_t batch = 0;
  double throughput_before = 0, throughput_after = 0;
  int64_t size_bytes_before = 0, size_bytes_after = 0;
  std::vector<PruneLayerReport> layers;
  std::optional<double> removal_max_abs_diff;  // channel: what removing the channels changed
  // channel with a target, per layer: what the planner measured (accuracy on validation images
  // before fine-tuning, cost in ms or MACs) and the seconds it took.
  std::optional<prune::LayerRatios> layer_plan;
  double plan_seconds = 0;
  std::optional<DistillReport> distillation;
  std::optional<PrecisionChoice> finetune_precision;
  int64_t finetune_best_epoch = 0, finetune_batch = 0;
  double finetune_val_accuracy = 0;
};

PruneReport prune_model(const PruneOptions& options);
std::string to_json(const PruneReport& report);  // `nimble prune --json`
std::string layer_table(const PruneReport& report);

}  // namespace nimble
