#pragma once
// Training a model from the zoo (or continuing a saved one) on a data set: the best validation
// epoch is kept, evaluated on the test split and saved with what resuming needs beside it.
#include <optional>
#include <string>
#include <vector>

#include "nimble/core/shape.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/workflows/options.hpp"
#include "nimble/workflows/quantize.hpp"
#include "nimble/workflows/teacher.hpp"

namespace nimble {

struct TrainOptions {
  // A zoo model (cnn | resnet | mobilenet_v1 | mobilenet_v2), or a .nimble file to train on from
  // its weights (distillation into a saved student).
  std::string model = "cnn";
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";  // auto | idx | folder | cifar | numpy (data::load_data)
  bool skip_bad = false;             // skip unreadable images instead of stopping
  int64_t cache_mb = 0;        // memory for decoded images, MB (0: half of RAM); beyond it they are decoded each epoch
  std::optional<Shape> input;  // default: the data's sample shape; other images are fitted to it
  // Per-channel mean and std of pixels scaled to [0, 1] (both or neither; one per input channel);
  // empty: a model trained on keeps its own, a new one gets the training split's.
  std::vector<float> mean, std;
  std::string fit = "crop";  // how images of another size are fitted: crop | stretch (kept in the model)
  double width = 1.0, dropout = 0.2;
  int64_t depth = 0;
  // Unset: the model's recipe (cnn 10 epochs, lr 0.05, no crop; others 30, 0.1 / 0.05, crop 2,
  // label smoothing 0.1).
  std::optional<int64_t> epochs, crop_padding;
  std::optional<double> lr, label_smoothing;
  std::optional<bool> hflip;
  // Random resized crop: the minimum area fraction of the box, in (0, 1]; unset or 0: off (then the
  // model's crop_padding applies). Cannot be combined with a crop_padding above 0.
  std::optional<double> crop_scale;
  double jitter = 0;  // colour jitter: brightness, contrast, saturation factors in [1 - jitter, 1 + jitter]
  // Unset: 128, halved (down to 8) until the training split holds at least 4 batches; the
  // recipe's learning rate then scales with it (linear scaling).
  std::optional<int64_t> batch;
  std::string optimizer = "sgd", schedule = "cosine";
  double momentum = 0.9, weight_decay = 5e-4, clip_grad = 0, erase = 0, warmup_epochs = 0;
  bool nesterov = true;
  int64_t step_epochs = 0;
  bool sync_batch_norm = false;  // under mpirun: batch-norm over every rank's slice (train::TrainConfig)
  // Validation images held out of the training split; default: the data's own val split if it
  // has one, else a tenth of the training images, at most 5,000.
  std::optional<int64_t> val;
  int64_t limit = 0;
  uint64_t seed = 0;
  Precision precision = Precision::automatic;
  std::string out;     // default MODEL.nimble; the training checkpoint goes to OUT.train
  bool force = false;  // write {out} (and its checkpoint, {qat_out}) even when one of them is an input
  // Continue the run saved in this model (or its .train file): its settings; epochs may be raised.
  std::string resume;
  // Prune while training: magnitude:S[:global|layer], channel:R[:l1|l2|bn] or nm:N:M.
  std::string prune;
  double prune_ramp = 0.5;
  // End with quantization-aware training and write the int8 model (default OUT-int8.nimble).
  bool qat = false;
  std::optional<int64_t> qat_epochs;  // default 2
  std::optional<double> qat_lr;       // default 0.001
  std::string qat_out;
  TeacherOptions teacher;
  bool progress = true;  // the per-epoch progress bar on stderr
  Log log = log_to_stderr;
  void validate() const;
};

struct TrainReport {
  double peak_memory_mib = 0;  // the process's peak resident memory when the run ended
  std::string model;
  double test_accuracy = 0, test_loss = 0, val_accuracy = 0;
  int64_t best_epoch = 0, epochs = 0;
  double train_samples_per_s = 0, seconds = 0;
  double data_wait_fraction = 0;  // of the training steps' time, spent waiting on the data loader
  int64_t skipped_images = 0;     // unreadable images left out (skip_bad)
  int64_t params = 0, macs = 0;
  std::string checkpoint, training_checkpoint;
  PrecisionChoice precision;
  std::string prune;  // with pruning
  double weight_sparsity = 0;
  std::optional<DistillReport> distillation;
  // fp16 loss scaling
  bool loss_scaling = false;
  int64_t skipped_steps = 0;
  double loss_scale = 0;
  std::optional<QuantizeReport> qat;       // with qat: the quantization of the saved model
  std::vector<train::EpochStats> history;  // per epoch, with the per-step losses
  int ranks = 1;                           // data-parallel ranks (mpirun -np N)
  std::string ranks_detail;                // e.g. "MPI, 2 ranks on host-a"
};

TrainReport train_model(const TrainOptions& options);
std::string to_json(const TrainReport& report);  // `nimble train --json` / `nimble distill --json`

}  // namespace nimble
