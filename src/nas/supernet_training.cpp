#include "nimble/nas/supernet_training.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "kernels/kernel_choices.hpp"
#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/distill/losses.hpp"
#include "nimble/runtime/many_sessions.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/loss.hpp"
#include "nimble/train/progress.hpp"
#include "train/gradient_sync.hpp"

namespace nimble::nas {

namespace {
using Clock = std::chrono::steady_clock;

// One sub-network's pass: forward, the distillation loss against the largest's logits, backward,
// its gradients added onto the supernet's. Returns the loss. `share`: this rank's part of the
// batch's mean (1/ranks under mpirun).
double distill_pass(Supernet& net, Graph& subnet, Session& session, const data::Batch& batch, const Tensor& teacher,
                    float temperature, float share) {
  const Tensor& logits = session.forward(batch.images);
  Tensor diff(logits.shape());
  const double loss = distill::kd_loss(logits, teacher, batch.count, temperature, 1.0f, &diff);
  NIMBLE_CHECK(std::isfinite(loss), "supernet training diverged: a sub-network's loss became " + std::to_string(loss) +
                                        " (try a lower --lr)");
  train::scale_gradient(diff, share);
  session.backward(diff);
  net.add_gradients_from(subnet);
  return loss;
}

std::string metrics(double loss, double acc, double kd) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %.4f  acc %.4f  distill %.4f", loss, acc, kd);
  return buf;
}
}  // namespace

void SupernetTrainConfig::validate() const {
  NIMBLE_CHECK(epochs >= 1, "supernet epochs must be at least 1");
  NIMBLE_CHECK(batch >= 2, "the supernet batch size must be at least 2");
  NIMBLE_CHECK(random_subnets >= 0 && random_subnets <= 16, "random sub-networks per step must be in [0, 16]");
  NIMBLE_CHECK(distill_temperature > 0, "the distillation temperature must be positive");
  NIMBLE_CHECK(label_smoothing >= 0 && label_smoothing < 1, "label smoothing must be in [0, 1)");
  NIMBLE_CHECK(precision == Precision::fp32 || precision == Precision::bf16,
               std::string("supernet training runs in fp32 or bf16, not ") + precision_name(precision));
  train::validate_schedule(schedule);
}

SupernetTrainResult train_supernet(Supernet& net, const data::ImageSet& train, const data::Normalization& norm,
                                   const SupernetTrainConfig& config, const std::optional<train::TrainState>& resume,
                                   const SupernetEpochCallback& on_epoch_end) {
  config.validate();
  prepare_for_many_sessions();  // a session per random sub-network per step
  const SearchSpace& space = net.space();
  NIMBLE_CHECK(train.sample_shape() == space.options().input, "the data's samples are " + train.sample_shape().str() +
                                                                  " but the search space takes " +
                                                                  space.options().input.str());
  NIMBLE_CHECK(train.size() >= config.batch, "the training set is smaller than one batch");
  NIMBLE_CHECK(train.num_classes <= space.options().classes, "the data has more classes than the search space");
  Graph& graph = net.graph();
  train::Optimizer optimizer(graph, config.optimizer);
  data::BatchLoader loader(train, norm, config.batch, /*shuffle=*/true, /*drop_last=*/true, config.augment,
                           config.seed);
  // Under mpirun each rank trains on its slice of every batch (as train::Trainer does): the same
  // random sub-networks on every rank (one seed), gradients summed before each step, and
  // batch-norm over the whole batch (the statistics summed over the ranks), so that the supernet,
  // whose sub-networks are ranked by the accuracy it gives them, is the one-process supernet.
  dist::Communicator& comm = dist::world();
  loader.shard(comm.rank(), comm.size());
  const float share = 1.0f / float(comm.size());
  std::optional<train::GradientSync> sync;
  if (comm.distributed()) sync.emplace(graph, comm);
  SessionOptions options{loader.batch_size(), Mode::train, true, config.precision};
  options.sync_batch_norm = comm.distributed();
  Session largest(graph, options);
  Graph smallest_graph = net.extract(space.smallest());
  Session smallest(smallest_graph, options);
  const int64_t steps_per_epoch = loader.batches_per_epoch(), total_steps = steps_per_epoch * config.epochs;
  int64_t step = 0, first_epoch = 1;
  if (resume) {
    NIMBLE_CHECK(resume->epoch >= 1 && resume->epoch < config.epochs, "cannot resume a supernet after epoch " +
                                                                          std::to_string(resume->epoch) + " of " +
                                                                          std::to_string(config.epochs));
    optimizer.load_state(resume->optimizer, resume->optimizer_steps);
    if (!resume->kernel_choices.empty()) kernels::adopt_kernel_choices(resume->kernel_choices);
    step = resume->step;
    largest.set_forward_passes(step);  // one forward each per step (the random ones are new each step)
    smallest.set_forward_passes(step);
    first_epoch = resume->epoch + 1;
  }
  SupernetTrainResult result;
  Tensor diff;
  for (int64_t epoch = first_epoch; epoch <= config.epochs; ++epoch) {
    // The random architectures of an epoch are drawn from its own stream: a resumed run draws the same.
    Rng rng(config.seed * 1000003 + uint64_t(epoch));
    loader.start_epoch(epoch);
    train::Progress progress("supernet epoch " + std::to_string(epoch) + "/" + std::to_string(config.epochs),
                             steps_per_epoch, config.progress && comm.is_root());
    progress.set_steps_after(steps_per_epoch * (config.epochs - epoch));
    SupernetEpoch stats;
    stats.epoch = epoch;
    double loss_sum = 0, kd_sum = 0;
    int64_t correct = 0, seen = 0, kd_passes = 0, done = 0;
    const auto t0 = Clock::now();
    data::Batch batch;
    while (loader.next(batch)) {
      const float lr = train::learning_rate(config.schedule, step, total_steps);
      const Tensor& logits = largest.forward(batch.images);
      const train::LossResult ce =
          train::cross_entropy(logits, batch.labels, batch.count, config.label_smoothing, &diff);
      NIMBLE_CHECK(std::isfinite(ce.loss), "supernet training diverged: the loss became " + std::to_string(ce.loss) +
                                               " at epoch " + std::to_string(epoch) + " (try a lower --lr)");
      const Tensor teacher = logits.clone();
      train::scale_gradient(diff, share);
      largest.backward(diff);  // writes the supernet's gradients; the others add to them
      net.copy_weights_to(smallest_graph);
      double kd = distill_pass(net, smallest_graph, smallest, batch, teacher, config.distill_temperature, share);
      for (int64_t r = 0; r < config.random_subnets; ++r) {
        Graph sub = net.extract(space.random(rng));
        Session session(sub, options);
        kd += distill_pass(net, sub, session, batch, teacher, config.distill_temperature, share);
      }
      // The step's figures over the whole batch (every rank's slice).
      std::vector<double> sums = {ce.loss * double(batch.count), double(ce.correct), double(batch.count), kd * share};
      if (sync) {
        sync->finish();
        sync->sum(sums);
      }
      kd_passes += 1 + config.random_subnets;
      optimizer.step(lr);
      ++step;
      loss_sum += sums[0];
      correct += int64_t(sums[1]);
      seen += int64_t(sums[2]);
      kd_sum += sums[3];
      progress.update(++done, seen,
                      metrics(loss_sum / double(seen), double(correct) / double(seen), kd_sum / double(kd_passes)));
    }
    stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    stats.samples_per_s = double(seen) / std::max(stats.seconds, 1e-9);
    stats.largest_loss = loss_sum / double(std::max<int64_t>(seen, 1));
    stats.largest_accuracy = double(correct) / double(std::max<int64_t>(seen, 1));
    stats.distill_loss = kd_sum / double(std::max<int64_t>(kd_passes, 1));
    char rate[64];
    std::snprintf(rate, sizeof rate, "  %.0f samples/s  %.1fs", stats.samples_per_s, stats.seconds);
    progress.finish(metrics(stats.largest_loss, stats.largest_accuracy, stats.distill_loss) + rate);
    result.epochs.push_back(stats);
    if (on_epoch_end) {
      train::TrainState st;
      st.epoch = epoch;
      st.step = step;
      st.optimizer_steps = optimizer.steps();
      st.optimizer = optimizer.state();
      st.kernel_choices = kernels::kernel_choices_json();
      on_epoch_end(net, stats, st);
    }
  }
  return result;
}

}  // namespace nimble::nas
