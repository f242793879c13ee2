#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/train/grad_scaler.hpp"
#include "nimble/train/optimizer.hpp"
#include "nimble/train/schedule.hpp"
#include "nimble/train/train_state.hpp"

namespace nimble {
class Session;
}

namespace nimble::train {

struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch = 128;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  float label_smoothing = 0.0f;
  data::Augment augment;
  uint64_t seed = 0;
  int64_t eval_batch = 500;
  bool progress = true;                   // progress on stderr: a bar on a terminal, plain lines otherwise
  Precision precision = Precision::fp32;  // training and per-epoch evaluation
  // fp16 only: dynamic loss scaling (bf16 has fp32's range and needs none).
  bool loss_scaling = true;
  GradScalerConfig scaler;
  // Under mpirun: batch-norm over the whole batch's statistics, not each rank's slice (the
  // single-process result up to summation order, at one collective per batch-norm and pass). On
  // one process it selects the same batch-norm kernels, so the two compare like for like.
  bool sync_batch_norm = false;
};

struct EpochStats {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  double samples_per_s = 0, seconds = 0, lr = 0;
  double data_wait_seconds = 0;     // of `seconds`, spent waiting for the loader's next batch
  int64_t skipped_steps = 0;        // fp16: steps skipped for inf/NaN gradients
  double loss_scale = 0;            // fp16: the scale at the end of the epoch (0: no scaling)
  std::vector<double> step_losses;  // per step taken: the batch's mean loss (all ranks' slices)
};

struct TrainResult {
  std::vector<EpochStats> epochs;
  int64_t best_epoch = 0;
  double best_val_accuracy = 0;
  double train_samples_per_s = 0;  // over all epochs, training steps only
  double data_wait_fraction = 0;   // of the training steps' time, spent waiting for data
};

class Trainer;
using ValueGrads = std::vector<std::pair<int, Tensor>>;  // (value id of the session's graph, gradient)

// Extension points for the techniques (pruning masks, distillation, observers).
class TrainerHook {
 public:
  virtual ~TrainerHook() = default;
  // Before the first step, with the run's total optimizer steps (schedules key off it).
  virtual void on_fit_begin(Trainer&, int64_t total_steps) {}
  virtual void on_epoch_begin(Trainer&, int64_t epoch) {}
  // May change the loss and its gradient with respect to the logits (distillation), and add
  // gradients at intermediate values of `session.graph()` (feature distillation).
  virtual void on_loss(Session& session, const data::Batch& batch, const Tensor& logits, Tensor& diff_logits,
                       double& loss, ValueGrads& value_grads) {}
  virtual void on_step_end(Trainer&, int64_t step) {}
  virtual void on_epoch_end(Trainer&, const EpochStats&) {}
  // Whether this epoch's weights may be kept as the best epoch (pruning: only at the target).
  virtual bool accept_as_best(const EpochStats&) { return true; }
  // Its part of a training checkpoint (hook_tensors, settings), and back: a resumed fit() gives
  // it the checkpoint's state before on_fit_begin. Throws Error when the state is not its own.
  virtual void save_state(TrainState&) const {}
  virtual void load_state(const TrainState&) {}
};

class Trainer {
 public:
  Trainer(Graph& graph, TrainConfig config);
  void add_hook(std::shared_ptr<TrainerHook> hook) { hooks_.push_back(std::move(hook)); }
  // Called when validation accuracy improves (e.g. to write the best checkpoint), with the state
  // that resumes training from that epoch.
  std::function<void(const Graph&, const EpochStats&, const TrainState&)> on_best;
  // Continue a run: fit() starts after `state.epoch` with the optimizer, loss scaler and schedule
  // position restored (the graph must already hold that epoch's weights). Throws Error if the
  // state does not fit this configuration.
  void resume(TrainState state);
  // The step fit() starts from: 0, or the resumed state's.
  int64_t start_step() const { return resume_ ? resume_->step : 0; }

  // Trains on `train`, evaluates on `val` after every epoch, and leaves the graph holding the
  // weights of the best validation epoch (the last epoch when `val` is empty).
  TrainResult fit(const data::ImageSet& train, const data::ImageSet& val, const data::Normalization& norm);
  Graph& graph() { return graph_; }
  const TrainConfig& config() const { return config_; }
  // The loss scaler (fp16 with loss scaling), else null. Its state belongs in checkpoints.
  GradScaler* scaler() { return scaler_ ? &*scaler_ : nullptr; }

 private:
  Graph& graph_;
  TrainConfig config_;
  std::optional<GradScaler> scaler_;
  std::optional<TrainState> resume_;
  std::vector<std::shared_ptr<TrainerHook>> hooks_;
};

struct EvalResult {
  double accuracy = 0, loss = 0;
  int64_t samples = 0;
  double seconds = 0;
};

// Accuracy and mean cross-entropy of `graph` (compiled for inference) on a whole set. Under
// mpirun each rank evaluates its share and every rank gets the total.
EvalResult evaluate(const Graph& graph, const data::ImageSet& set, const data::Normalization& norm, int64_t batch = 500,
                    Precision precision = Precision::fp32);

}  // namespace nimble::train
