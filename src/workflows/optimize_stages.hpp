#pragma once
// The stages of `nimble optimize` and what they share: the preset's recipe, the data read once,
// and the measurement of a candidate model. Internal.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/workflows/optimize.hpp"
#include "workflows/report_json.hpp"
#include "workflows/stage_store.hpp"

namespace nimble::workflow {

// A zoo model with its width and depth ("resnet:0.5:8").
struct ZooSpec {
  std::string name;
  double width = 1.0;
  int64_t depth = 0;
  std::string str() const;
  static ZooSpec parse(const std::string& s);  // throws OptionError("student", ...)
};

// What a preset trains: the teacher when none is given, the student, and each stage's epochs.
struct Preset {
  ZooSpec teacher, student;
  int64_t teacher_epochs = 0, distill_epochs = 0, prune_epochs = 0, qat_epochs = 0;
  // Without a latency goal, pruning aims at this fraction of the model's batch-1 latency, with
  // per-layer ratios chosen by measurement; 0: no pruning without a latency goal.
  double prune_latency = 0.75;
  // Training images of the short fine-tuning that judges each pruning candidate (PruneOptions).
  int64_t prune_plan_images = 12800;
  double alpha = 0.9;  // the soft targets' weight wherever the teacher teaches (distil, prune, QAT)
  // Hand-designed small models trained plainly for baseline_epochs and quantized: the chart's
  // "baseline" points, where a user would start without the pipeline.
  std::vector<ZooSpec> baselines;
  int64_t baseline_epochs = 0;
  int64_t limit = 0;                             // training images (0: all)
  static Preset named(const std::string& name);  // throws OptionError("preset", ...)
};

struct OptimizeRun {
  OptimizeRun(const OptimizeOptions& options, OptimizeReport& r);
  const OptimizeOptions& o;
  Preset preset;
  StageStore store;
  OptimizeReport& report;
  int force_from = 1 << 30;  // stages at this index and after are computed again
  std::string teacher_path;  // after the teacher stage
  data::DataSet data;        // read for the teacher's input, after the teacher stage
  data::Split split;         // the teacher's training / validation split
  uint64_t data_hash = 0;
  // The model handed from stage to stage, and the accuracy floor on the validation split.
  std::string current_path, current_id;
  double floor_val_accuracy = 0;
  // The prune stage's input, when the pruned model was kept (the quantize stage then starts from it).
  std::string unpruned_path;
  // The quantize stage's int8 model: accuracy points each int8 layer costs alone (validation).
  std::map<std::string, double> int8_sensitivity;
};

// Measures the model at `path`: accuracy on the test and validation splits (float models in their
// fastest native precision), batch-1 latency and throughput at the deployment batch.
// `precision` of a float model: unset, its fastest native one.
OptimizeCandidate measure_candidate(const OptimizeRun& run, const std::string& path, const std::string& id,
                                    const std::string& label, const std::string& kind, const std::string& stage,
                                    std::optional<Precision> precision = std::nullopt);

json candidate_json(const OptimizeCandidate& c);
OptimizeCandidate candidate_from_json(const json& j);

// Each stage: computes (or takes back) its record, adds its candidates and its row to the report,
// and moves run.current_* on when it keeps its result.
void teacher_stage(OptimizeRun& run, int index);
void baseline_stage(OptimizeRun& run, int index);
void student_stage(OptimizeRun& run, int index, std::optional<ZooSpec>& student);
void distill_stage(OptimizeRun& run, int index, const std::optional<ZooSpec>& student);
void prune_stage(OptimizeRun& run, int index);
void quantize_stage(OptimizeRun& run, int index);
// Picks the recommended model, writes OUT/model.nimble and OUT/model.onnx, times it against the fp32
// teacher side by side and fills the per-layer table.
void final_stage(OptimizeRun& run, int index);

}  // namespace nimble::workflow
