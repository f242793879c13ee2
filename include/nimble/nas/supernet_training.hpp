#pragma once
// Training a supernet once for every sub-network (BigNAS, Yu et al. 2020): each step trains the
// largest architecture on the labels, then the smallest and `random_subnets` random ones on the
// largest's soft predictions (in-place distillation), sums their gradients on the shared weights
// and takes one optimizer step.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/nas/supernet.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/train/optimizer.hpp"
#include "nimble/train/schedule.hpp"
#include "nimble/train/train_state.hpp"

namespace nimble::nas {

struct SupernetTrainConfig {
  int64_t epochs = 10;
  int64_t batch = 128;
  train::OptimizerConfig optimizer;  // SGD, Nesterov momentum 0.9, weight decay 5e-4
  train::ScheduleConfig schedule;    // cosine from 0.05
  int64_t random_subnets = 2;        // per step, besides the largest and the smallest
  float label_smoothing = 0.1f;      // the largest's loss
  float distill_temperature = 1.0f;  // the others' loss: KL to the largest's softened predictions
  data::Augment augment;
  Precision precision = Precision::fp32;  // fp32 or bf16 (fp16 would need loss scaling)
  uint64_t seed = 0;
  bool progress = true;
  void validate() const;
};

struct SupernetEpoch {
  int64_t epoch = 0;                              // 1-based
  double largest_loss = 0, largest_accuracy = 0;  // training batches, the largest's cross-entropy
  double distill_loss = 0;                        // the others', averaged over them
  double seconds = 0, samples_per_s = 0;          // training images per second (each used by every subnet)
};

struct SupernetTrainResult {
  std::vector<SupernetEpoch> epochs;
};

// Called after each epoch with what resumes the run from there (for checkpoints).
using SupernetEpochCallback = std::function<void(const Supernet&, const SupernetEpoch&, const train::TrainState&)>;

// Trains `net` on `train`. With `resume`, continues after resume->epoch with the optimizer state
// restored (the supernet must hold that epoch's weights).
SupernetTrainResult train_supernet(Supernet& net, const data::ImageSet& train, const data::Normalization& norm,
                                   const SupernetTrainConfig& config,
                                   const std::optional<train::TrainState>& resume = std::nullopt,
                                   const SupernetEpochCallback& on_epoch_end = {});

}  // namespace nimble::nas
