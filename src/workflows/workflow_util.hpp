#pragma once
// Pieces the workflow calls share. Internal.
#include <memory>
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/model.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/workflows/options.hpp"
#include "nimble/workflows/quantize.hpp"
#include "nimble/workflows/teacher.hpp"

namespace nimble::distill {
class Distillation;
}
namespace nimble::quant {
struct Selection;
}

namespace nimble::workflow {

inline void say(const Log& log, const std::string& line) {
  if (log) log(line);
}
// `v` with `digits` decimals, for report lines.
std::string fixed(double v, int digits);
// The precision a run uses, on one line (a warning when it is emulated).
void announce(const Log& log, const PrecisionChoice& c);

// Throws OptionError(field, ...) unless lo <= v <= hi.
void check_range(const std::string& field, double v, double lo, double hi);
void check_batch(int64_t batch, const std::string& field = "batch");  // 1..65536

// Reads the data at `path` (data::load_data), fitted to `input` (empty: as the data is) with `fit`.
// A BGR model's data comes with red and blue swapped (images are read as RGB).
data::DataSet read_data(const std::string& path, const std::string& format, bool skip_bad, int64_t cache_mb,
                        const Shape& input, data::FitMode fit, ChannelOrder order = ChannelOrder::rgb);
// One line of what was read: format, split sizes, classes, how many images were fitted and how
// many unreadable ones were skipped.
std::string data_summary(const std::string& path, const data::DataSet& d, data::FitMode fit);
// read_data for a trained model, logged with data_summary: fitted to its input with its fit mode;
// its labels must be within its classes.
data::DataSet read_data_for(const Model& m, const std::string& path, const std::string& format, bool skip_bad,
                            int64_t cache_mb, const Log& log);
// The validation images a run holds out by default: a tenth of the training images, at most 5,000.
int64_t default_val_count(int64_t train_images);
// A batch for a run that names none: `batch`, halved (down to 8) until the training split holds at
// least 4 batches, so that a data set of a few hundred images still takes several steps an epoch.
int64_t default_batch(int64_t train_images, int64_t batch);
// The training run's own split (from the model's recipe) when `path` is the data it was trained
// on, so calibration and fine-tuning never see validation or test samples: the data's own val
// split when the run used it. For other data, or models without a recipe (imported ones): the
// data's val split, else default_val_count held out with seed 0.
data::Split training_split(const Model& m, const data::DataSet& d, const std::string& path);
// Fine-tuning a trained model (QAT, pruning): its own recipe (batch, augmentation, weight decay,
// label smoothing) for `epochs` at peak learning rate `lr` (cosine).
train::TrainConfig fine_tune_config(const Model& m, int64_t epochs, double lr, uint64_t seed, bool progress);

// Batch-1 median latency and big-batch throughput of models compiled for inference in fp32,
// timed in alternation so their ratios are comparable: one entry per graph, in order.
struct Speed {
  double latency_ms = 0, throughput = 0;
};
std::vector<Speed> measure_speeds(const std::vector<const Graph*>& graphs, int64_t batch, int64_t iters);

// The per-layer choices of an int8 selection into a report (layers, kept-float names, the gate).
void fill_selection(QuantizeReport& r, const quant::Selection& sel);

// An int8 model cannot be trained, pruned or quantized again: one error line saying what to do.
void check_float(const Model& m, const std::string& path, const std::string& what);

// The distillation hook for a student about to train on split.train at `batch`: loads the
// teacher, picks its fastest accurate form (logged), caches its logits when asked. Fills the
// report's teacher fields. Null without a teacher.
std::shared_ptr<distill::Distillation> make_distillation(const TeacherOptions& t, const Graph& student,
                                                         const data::Normalization& student_norm,
                                                         const data::Split& split, const data::ImageSet& test,
                                                         int64_t batch, bool augmenting, const Log& log,
                                                         DistillReport& report);
// A resumed run's teacher as the interrupted run had it: its form and, for int8, the layers its
// speed gate kept in float (from the checkpoint's distill.* settings; unchanged without them).
void resume_teacher(TeacherOptions& t, const train::TrainState& state);
// After training: the teacher's share of the training time.
void finish_distillation(const distill::Distillation& hook, const Log& log, DistillReport& report);

}  // namespace nimble::workflow
