#pragma once
// Shared pieces of the `nimble` subcommands.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::quant {
struct Selection;
}
namespace nimble::distill {
class Distillation;
}

namespace nimble::cli {

using json = nlohmann::json;

constexpr const char* kDefaultData = "/usr/share/datasets/fashion-mnist";

// Every subcommand registers itself with one of these.
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_bench(CLI::App& app);
void add_models(CLI::App& app);
void add_info(CLI::App& app);
void add_quantize(CLI::App& app);
void add_prune(CLI::App& app);
void add_distill(CLI::App& app);

// Validators with short messages (CLI11's own print the whole double range).
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// --precision, on every command that runs a model.
void add_precision_option(CLI::App* c, std::string& value);
// The precision for --precision FLAG, announced on stderr (a warning when it is emulated); throws
// Error on an unknown name. The second form lets `auto` time a few steps of the model that will
// run (runtime/precision_probe.hpp).
void announce_precision(const PrecisionChoice& c);
PrecisionChoice resolve_precision(const std::string& flag);
PrecisionChoice resolve_precision(const std::string& flag, const Graph& g, int64_t batch, Mode mode);
json precision_json(const PrecisionChoice& c);

// Prints the one JSON summary object on stdout.
void print_json(const json& j);
// Status lines go to stderr so stdout stays machine-readable with --json.
void note(const std::string& line);

struct LoadedModel {
  Graph graph;
  json extra;  // what the checkpoint carries besides the graph
  int64_t file_size = 0;
  std::vector<std::pair<std::string, Tensor>> state;  // training state (optimizer moments), if saved
};
LoadedModel load_model(const std::string& path);
data::Normalization normalization_of(const json& extra);
json normalization_json(const data::Normalization& n);

// Input shape, class count and normalisation that the data in `dir` implies.
data::IdxData load_data(const std::string& dir);

// Timing helpers (random_batch, time_forward, percentile) are in nimble/runtime/timing.hpp.
// Batch-1 median latency and big-batch throughput of models compiled for inference in fp32,
// measured together (time_forward_interleaved), so that their ratios are comparable: one entry
// per graph, in order.
struct Speed {
  double latency_ms = 0, throughput = 0;
};
std::vector<Speed> measure_speeds(const std::vector<const Graph*>& graphs, int64_t batch, int64_t iters);

// The training run's own split (from the checkpoint's hyper-parameters), so calibration and
// fine-tuning never see validation or test samples and validation measures on the split the
// run was selected on; 5,000 held out with seed 0 (nimble train's default) for foreign checkpoints.
data::Split training_split(const json& extra, const data::ImageSet& train);

// Fine-tuning a trained model (QAT, pruning): the run's own recipe (batch, augmentation, weight
// decay, label smoothing) for `epochs` at peak learning rate `lr` (cosine).
train::TrainConfig fine_tune_config(const json& extra, int64_t epochs, double lr, uint64_t seed, bool progress);

// The size of `m` as a model file: a checkpoint that also carries training state (an older
// `nimble train` wrote optimizer moments into it) is measured without it, via a scratch file
// next to `scratch_prefix`.
int64_t model_file_size(const LoadedModel& m, const std::string& scratch_prefix);

// The per-layer table of an int8 quantization (precision, float / int8 times, why float), on stderr.
void print_layer_report(const quant::Selection& sel);

// --teacher and its flags, on every command that trains (train, distill, prune, quantize's QAT).
struct TeacherArgs {
  std::string teacher, precision = "auto";
  double temperature = 4.0, alpha = 0.9, hint_weight = 1.0, hint_lr = 0.01;
  std::vector<std::string> hints;
  bool cache = false;
};
void add_teacher_options(CLI::App* c, TeacherArgs& t, bool required);

// The distillation hook for a student about to train on split.train at `batch`: loads the
// teacher, picks its fastest accurate form (announced), caches its logits with --cache-teacher
// (augmentation must be off). `report` receives the teacher's JSON fields (teacher_test_accuracy,
// teacher_params, teacher_latency_ms, teacher_precision, ...). Null without --teacher.
std::shared_ptr<distill::Distillation> make_distillation(const TeacherArgs& t, const Graph& student,
                                                         const data::Normalization& student_norm,
                                                         const data::Split& split, const data::ImageSet& test,
                                                         int64_t batch, bool augmenting, json& report);
// After training: the teacher's share of the training time, into `report`.
void finish_distillation_report(const distill::Distillation& hook, json& report);

}  // namespace nimble::cli
