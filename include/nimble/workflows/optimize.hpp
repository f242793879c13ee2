#pragma once
// `nimble optimize`: from a model (or none: a teacher trained from the zoo) to its fastest form
// within the user's accuracy budget, as a chain of the other workflows — baseline, student,
// distillation, channel pruning, quantization — each kept only when it pays, every model measured
// on the way, one recommended model and a report (JSON and a self-contained HTML page).
// Each stage's result is stored under OUT/stages/ with a hash of its inputs; a rerun with the same
// inputs takes it back instead of computing it again.
#include <optional>
#include <string>
#include <vector>

#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"

namespace nimble {

struct OptimizeOptions {
  // The model to optimize: a .nimble or .onnx file; empty: train a teacher from the zoo.
  std::string model;
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";  // auto | idx | folder | cifar | numpy (data::load_data)
  bool skip_bad = false;
  int64_t cache_mb = 0;
  std::string out = "optimized";  // work directory: stages/, model.nimble, model.onnx, report.json, report.html
  // Goals. max_drop: points of test accuracy below the teacher the result may lose.
  double max_drop = 1.0;
  std::optional<double> max_latency_ms;  // at the deployment batch
  std::optional<double> max_size_mb;     // of the .nimble file
  int64_t batch = 1;                     // the deployment batch: latency is measured at it
  // quick: small and short (a few minutes; what the tests run); default: the full recipe.
  std::string preset = "default";
  // The student: auto (the preset's zoo student, scaled to the latency budget when there is one),
  // self (the model itself), or a zoo model "NAME[:WIDTH]" (cnn:0.5, mobilenet_v2:0.35).
  std::string student = "auto";
  // Without a latency goal the prune stage aims at this fraction of the model's batch-1 latency;
  // 0: it prunes only to reach max_latency_ms. Empty: the preset's (default 0, quick 0.8).
  std::optional<double> prune_latency;
  std::string from_stage;  // rerun from this stage even when its inputs are unchanged
  std::string command;     // as the user typed it, for the report
  // Of training and of the float models' measurements; automatic: each model's fastest native one.
  // An explicit precision (with NIMBLE_KERNEL_CHOICE=first) makes a run reproducible bit for bit.
  Precision precision = Precision::automatic;
  uint64_t seed = 0;
  int64_t iters = 100;  // timed runs per latency measurement
  bool progress = true;
  bool force = false;  // write DIR/model.nimble, DIR/model.onnx even when {model} is one of them
  Log log = log_to_stderr;
  void validate() const;
};

// One measured model.
struct OptimizeCandidate {
  std::string id, label, kind, stage, precision, path;  // kind: teacher | baseline | candidate
  double test_accuracy = 0;
  std::optional<double> val_accuracy;
  double latency_ms_p50 = 0, latency_ms_p90 = 0, throughput = 0;
  int64_t throughput_batch = 0, params = 0, macs = 0, size_bytes = 0;
  bool pareto = false, recommended = false;
};

struct OptimizeStage {
  std::string name, status, reason;  // status: done | reused | skipped | failed
  bool reused = false;               // taken back from an earlier run with the same inputs
  double seconds = 0;
  std::string result;  // candidate id handed on; empty: none
  std::optional<double> accuracy_change_points, latency_change_ms;
};

struct OptimizeLayer {
  std::string name, op, precision, note;
  std::optional<double> ms, sensitivity_points;
  std::optional<int64_t> channels_before, channels_after;
  int64_t params = 0, macs = 0;
};

struct OptimizeReport {
  std::string out, command, created, cpu, isa, data, data_format, input;
  int cores = 0, threads = 0;
  int64_t classes = 0, train_images = 0, val_images = 0, test_images = 0;
  double max_drop = 0;
  std::optional<double> max_latency_ms, max_size_mb;
  int64_t batch = 1, iters = 0;
  double median_noise = 0;
  bool goals_met = false;
  std::vector<std::string> unmet;
  std::vector<OptimizeCandidate> candidates;
  std::string recommended;  // candidate id; empty when none met the goals
  // The recommended model and the fp32 teacher timed in alternation at batch 1.
  double speedup_vs_teacher = 0, latency_ms_side_by_side = 0, teacher_latency_ms_side_by_side = 0;
  std::vector<OptimizeStage> stages;
  std::vector<OptimizeLayer> final_layers;
  std::string model_path, onnx_path, report_json_path, report_html_path;
  double seconds = 0;
};

// The stages, in order; `from_stage` (`--from`) takes one of these names.
const std::vector<std::string>& optimize_stage_names();

OptimizeReport optimize(const OptimizeOptions& options);
std::string to_json(const OptimizeReport& report);  // `nimble optimize --json`, also OUT/report.json

}  // namespace nimble
