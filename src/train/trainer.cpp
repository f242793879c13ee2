#include "nimble/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "kernels/kernel_choices.hpp"
#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/loss.hpp"
#include "nimble/train/progress.hpp"
#include "train/gradient_sync.hpp"

namespace nimble::train {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt_metric(const char* name, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %.4f", name, v);
  return buf;
}

// Copies every parameter's data (best-epoch snapshot) or restores it.
std::vector<Tensor> snapshot(const Graph& g) {
  std::vector<Tensor> out;
  for (auto& [name, p] : g.named_params()) out.push_back(p->data.clone());
  return out;
}
// Below this the fp16 gradients overflow even unscaled: the run has diverged.
constexpr float kMinLossScale = 1.0f / 65536.0f;

// Backward and the optimizer step; returns whether the step was taken. With a loss scaler a
// non-finite loss or gradient is an fp16 overflow: the step is skipped and the scale backs off.
// Without one it is divergence. With `sync` (data parallelism) the gradients are averaged over the
// ranks before the step; summed gradients carry any rank's overflow to all of them, and a
// non-finite loss on any rank skips the step on every rank, so the ranks decide alike.
// Where a step is, for the message that ends a diverged run.
struct StepPlace {
  int64_t epoch, step, batch, batches;
  std::string str() const {
    return "step " + std::to_string(step + 1) + " (epoch " + std::to_string(epoch) + ", batch " +
           std::to_string(batch) + " of " + std::to_string(batches) + ")";
  }
};

bool backward_and_step(Session& session, Optimizer& optimizer, GradScaler* scaler, GradientSync* sync,
                       Tensor& diff_logits, ValueGrads& value_grads, double loss, float lr, const StepPlace& at,
                       std::optional<StepPlace>& skipping_since) {
  // Each rank's loss is the mean over its slice; 1/N makes the ranks' gradients add up to the
  // whole batch's mean. Applied before backward (PyTorch DDP's order): each sample's gradient is
  // then the one-process run's, and low precision overflows where that run's does.
  const float share = sync ? 1.0f / float(sync->ranks()) : 1.0f;
  const auto backward = [&](float factor) {  // factor: the rank's share times the loss scale
    scale_gradient(diff_logits, factor);
    for (auto& [v, g] : value_grads) scale_gradient(g, factor);
    session.backward(diff_logits, value_grads);
    if (sync) sync->finish();
  };
  if (!scaler) {
    NIMBLE_CHECK(std::isfinite(loss), "training diverged: the loss became " + std::to_string(loss) + " at " + at.str() +
                                          "; nothing was written after the last finished epoch (try a "
                                          "lower --lr)");
    backward(share);
    optimizer.step(lr);
    return true;
  }
  bool stepped = false;
  bool finite = std::isfinite(loss);
  if (sync) {
    std::vector<double> bad = {finite ? 0.0 : 1.0};
    sync->sum(bad);
    finite = bad[0] == 0.0;
  }
  if (finite) {
    backward(scaler->scale() * share);
    stepped = scaled_step(*scaler, optimizer, lr);
  } else {
    scaler->update(/*found_inf=*/true);
  }
  // Each skipped step halves the scale, so overflowing steps in a row are bounded (about 32 from
  // the default scale to the floor).
  if (stepped)
    skipping_since.reset();
  else if (!skipping_since)
    skipping_since = at;
  NIMBLE_CHECK(scaler->scale() >= kMinLossScale,
               "training diverged: fp16 overflowed at every loss scale down to " + std::to_string(scaler->scale()) +
                   ", every step skipped since " + skipping_since->str() +
                   "; nothing was written after the last finished epoch (try a lower --lr or --precision bf16)");
  return stepped;
}

// Data parallelism keeps one model on every rank; a rank whose weights drifted from rank 0's (a
// kernel that wrote a gradient late, a decision taken differently) would silently train another
// model. Compares a checksum of every parameter with rank 0's.
void check_same_weights(const Graph& g, dist::Communicator& comm, int64_t epoch) {
  double sum = 0, weighted = 0;
  int64_t k = 0;
  for (const auto& [name, p] : g.named_params()) {
    if (p->data.dtype() != DType::f32) continue;
    const float* d = p->data.data<float>();
    for (int64_t i = 0; i < p->data.numel(); ++i, ++k) {
      sum += d[i];
      weighted += d[i] * double(k % 9973 + 1);
    }
  }
  double mine[2] = {sum, weighted}, root[2] = {sum, weighted};
  comm.broadcast(root, sizeof root, 0);
  NIMBLE_CHECK(mine[0] == root[0] && mine[1] == root[1], "data-parallel training: rank " + std::to_string(comm.rank()) +
                                                             "'s weights differ from rank 0's after "
                                                             "epoch " +
                                                             std::to_string(epoch) +
                                                             " (internal error: the ranks must take identical steps)");
}

void restore(const Graph& g, const std::vector<Tensor>& snap) {
  auto params = g.named_params();
  NIMBLE_ASSERT(params.size() == snap.size());
  for (size_t i = 0; i < params.size(); ++i) {
    std::memcpy(params[i].second->data.raw(), snap[i].raw(), snap[i].nbytes());
    params[i].second->touch();
  }
}
}  // namespace

Trainer::Trainer(Graph& graph, TrainConfig config) : graph_(graph), config_(std::move(config)) {
  NIMBLE_CHECK(config_.epochs >= 1, "epochs must be at least 1");
  NIMBLE_CHECK(config_.batch >= 1, "batch size must be at least 1");
  NIMBLE_CHECK(config_.label_smoothing >= 0 && config_.label_smoothing < 1, "label smoothing must be in [0, 1)");
  validate_schedule(config_.schedule);
  const Optimizer check(graph_, config_.optimizer);  // throws on a bad optimizer configuration
  if (config_.precision == Precision::fp16 && config_.loss_scaling) scaler_.emplace(config_.scaler);
  // Dropout draws from the run's seed so that --seed reproduces a run.
  for (size_t i = 0; i < graph_.nodes().size(); ++i)
    if (graph_.nodes()[i].op == OpKind::dropout) graph_.nodes()[i].attrs["seed"] = int64_t(config_.seed * 7919 + i);
}

void Trainer::resume(TrainState state) {
  NIMBLE_CHECK(state.epoch >= 1 && state.epoch < config_.epochs,
               "cannot resume after epoch " + std::to_string(state.epoch) + " of a " + std::to_string(config_.epochs) +
                   "-epoch run (raise --epochs to train longer)");
  NIMBLE_CHECK(state.step >= 0 && state.optimizer_steps >= 0 && state.optimizer_steps <= state.step,
               "resume state: inconsistent step counts");
  NIMBLE_CHECK(state.loss_scaler.empty() || scaler_,
               "the checkpoint has a loss scaler but this run does not scale (fp16 only)");
  if (scaler_ && !state.loss_scaler.empty()) scaler_->load_state_json(state.loss_scaler);
  Optimizer(graph_, config_.optimizer).load_state(state.optimizer, state.optimizer_steps);  // validates now
  if (!state.kernel_choices.empty()) kernels::adopt_kernel_choices(state.kernel_choices);
  resume_ = std::move(state);
}

TrainResult Trainer::fit(const data::ImageSet& train, const data::ImageSet& val, const data::Normalization& norm) {
  NIMBLE_CHECK(train.size() >= config_.batch, "the training set (" + std::to_string(train.size()) +
                                                  " samples) is smaller than one batch (" +
                                                  std::to_string(config_.batch) + ")");
  NIMBLE_CHECK(train.sample_shape() == graph_.input_shape(), "the data's samples are " + train.sample_shape().str() +
                                                                 " but the model takes " + graph_.input_shape().str());
  NIMBLE_CHECK(graph_.output_shape().rank() == 1 && graph_.output_shape()[0] >= train.num_classes,
               "the model has " + graph_.output_shape().str() + " outputs but the data has " +
                   std::to_string(train.num_classes) + " classes");
  // Data parallelism (under mpirun): each rank trains on its slice of every batch and the
  // gradients are averaged, so the ranks take the one-process steps with the batch split.
  dist::Communicator& comm = dist::world();
  data::BatchLoader loader(train, norm, config_.batch, /*shuffle=*/true, /*drop_last=*/true, config_.augment,
                           config_.seed);
  loader.shard(comm.rank(), comm.size());
  SessionOptions session_options{loader.batch_size(), Mode::train, true, config_.precision};
  // On one process too: the same kernels then run, so one process and N ranks compare like for like.
  session_options.sync_batch_norm = config_.sync_batch_norm;
  Session session(graph_, session_options);
  Optimizer optimizer(graph_, config_.optimizer);
  std::optional<GradientSync> sync;
  if (comm.distributed()) {
    sync.emplace(session.graph(), comm);
    session.set_backward_observer([&sync](size_t node) { sync->node_done(node); });
  }
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  const int64_t total_steps = steps_per_epoch * config_.epochs;

  TrainResult result;
  std::vector<Tensor> best;
  Tensor diff_logits;
  double train_seconds = 0, wait_seconds = 0;
  int64_t train_samples = 0;
  int64_t step = 0, first_epoch = 1;
  if (resume_) {
    optimizer.load_state(resume_->optimizer, resume_->optimizer_steps);
    step = resume_->step;
    session.set_forward_passes(step);  // one training forward per step
    first_epoch = resume_->epoch + 1;
    result.best_epoch = resume_->epoch;
    result.best_val_accuracy = resume_->best_val_accuracy;
    best = snapshot(graph_);  // the best so far: restored if no later epoch beats it
  }
  auto state_now = [&](int64_t epoch) {
    TrainState st;
    st.epoch = epoch;
    st.step = step;
    st.optimizer_steps = optimizer.steps();
    st.best_val_accuracy = result.best_val_accuracy;
    st.optimizer = optimizer.state();
    if (scaler_) st.loss_scaler = scaler_->state_json();
    st.kernel_choices = kernels::kernel_choices_json();
    for (const auto& h : hooks_) h->save_state(st);
    return st;
  };
  std::optional<StepPlace> skipping_since;  // the first of the fp16 steps skipped in a row
  if (resume_)
    for (auto& h : hooks_) h->load_state(*resume_);
  for (auto& h : hooks_) h->on_fit_begin(*this, total_steps);
  for (int64_t epoch = first_epoch; epoch <= config_.epochs; ++epoch) {
    for (auto& h : hooks_) h->on_epoch_begin(*this, epoch);
    loader.start_epoch(epoch);
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(config_.epochs), steps_per_epoch,
                      config_.progress && comm.is_root());
    progress.set_steps_after(steps_per_epoch * (config_.epochs - epoch));
    EpochStats stats;
    stats.epoch = epoch;
    double loss_sum = 0;                                   // sum of per-sample losses
    int64_t correct = 0, seen = 0, stepped = 0, done = 0;  // stepped: samples whose step was taken
    const auto t0 = Clock::now();
    data::Batch batch;
    for (;;) {
      const auto wait_start = Clock::now();
      if (!loader.next(batch)) break;
      stats.data_wait_seconds += seconds_since(wait_start);
      const float lr = learning_rate(config_.schedule, step, total_steps);
      const Tensor& logits = session.forward(batch.images);
      LossResult lr_res = cross_entropy(logits, batch.labels, batch.count, config_.label_smoothing, &diff_logits);
      double loss = lr_res.loss;
      ValueGrads value_grads;
      for (auto& h : hooks_) h->on_loss(session, batch, logits, diff_logits, loss, value_grads);
      const bool took =
          backward_and_step(session, optimizer, scaler(), sync ? &*sync : nullptr, diff_logits, value_grads, loss, lr,
                            {epoch, step, done + 1, steps_per_epoch}, skipping_since);
      // The step's figures over the whole batch: every rank's slice under mpirun.
      std::vector<double> step_sums = {loss * double(batch.count), double(lr_res.correct), double(batch.count)};
      if (sync) sum_over_ranks(comm, step_sums);
      if (took) {
        loss_sum += step_sums[0];
        correct += int64_t(step_sums[1]);
        stepped += int64_t(step_sums[2]);
        stats.step_losses.push_back(step_sums[0] / step_sums[2]);
      } else {
        ++stats.skipped_steps;
      }
      ++step;
      for (auto& h : hooks_) h->on_step_end(*this, step);
      seen += int64_t(step_sums[2]);
      stats.lr = lr;
      progress.update(++done, seen,
                      fmt_metric("loss", loss_sum / double(std::max<int64_t>(stepped, 1))) + "  " +
                          fmt_metric("acc", double(correct) / double(std::max<int64_t>(stepped, 1))));
    }
    if (sync) {
      // One model on every rank: its buffers (running statistics, observer ranges) over all slices.
      average_buffers(graph_, comm);
      check_same_weights(graph_, comm, epoch);
    }
    stats.seconds = seconds_since(t0);
    if (scaler_) stats.loss_scale = scaler_->scale();
    train_seconds += stats.seconds;
    wait_seconds += stats.data_wait_seconds;
    train_samples += seen;
    stats.train_loss = loss_sum / std::max<int64_t>(stepped, 1);
    stats.train_accuracy = double(correct) / std::max<int64_t>(stepped, 1);
    stats.samples_per_s = seen / std::max(stats.seconds, 1e-9);
    std::string summary = fmt_metric("loss", stats.train_loss) + "  " + fmt_metric("acc", stats.train_accuracy);
    if (val.size() > 0) {
      EvalResult ev = evaluate(graph_, val, norm, config_.eval_batch, config_.precision);
      stats.val_loss = ev.loss;
      stats.val_accuracy = ev.accuracy;
      summary += "  " + fmt_metric("val_loss", ev.loss) + "  " + fmt_metric("val_acc", ev.accuracy);
    }
    char rate[64];
    std::snprintf(rate, sizeof rate, "  %.0f samples/s  %.1fs", stats.samples_per_s, stats.seconds);
    if (stats.skipped_steps > 0) summary += "  skipped " + std::to_string(stats.skipped_steps) + " steps";
    if (scaler_) summary += "  loss scale " + std::to_string(int64_t(scaler_->scale()));
    progress.finish(summary + rate);
    result.epochs.push_back(stats);
    bool eligible = true;
    for (auto& h : hooks_) eligible = eligible && h->accept_as_best(stats);
    const bool improved =
        eligible && (val.size() == 0 || result.best_epoch == 0 || stats.val_accuracy > result.best_val_accuracy);
    if (improved) {
      result.best_epoch = epoch;
      result.best_val_accuracy = stats.val_accuracy;
      if (val.size() > 0 && epoch < config_.epochs) best = snapshot(graph_);
      if (on_best) on_best(graph_, stats, state_now(epoch));
    }
    for (auto& h : hooks_) h->on_epoch_end(*this, stats);
  }
  if (result.best_epoch != config_.epochs && !best.empty()) restore(graph_, best);
  result.train_samples_per_s = train_samples / std::max(train_seconds, 1e-9);
  result.data_wait_fraction = wait_seconds / std::max(train_seconds, 1e-9);
  return result;
}

EvalResult evaluate(const Graph& graph, const data::ImageSet& set, const data::Normalization& norm, int64_t batch,
                    Precision precision) {
  NIMBLE_CHECK(set.size() > 0, "cannot evaluate on an empty data set");
  NIMBLE_CHECK(set.sample_shape() == graph.input_shape(), "the data's samples are " + set.sample_shape().str() +
                                                              " but the model takes " + graph.input_shape().str());
  NIMBLE_CHECK(graph.output_shape().rank() == 1 && graph.output_shape()[0] >= set.num_classes,
               "the model has " + graph.output_shape().str() + " outputs but the data has " +
                   std::to_string(set.num_classes) + " classes");
  batch = std::min(batch, set.size());
  Session session(graph, {batch, Mode::eval, true, precision});
  // Under mpirun each rank evaluates its share and the sums are combined.
  dist::Communicator& comm = dist::world();
  data::BatchLoader loader(set, norm, batch, /*shuffle=*/false, /*drop_last=*/false, {}, 0);
  loader.shard(comm.rank(), comm.size());
  loader.start_epoch(0);
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  const auto t0 = Clock::now();
  data::Batch b;
  while (loader.next(b)) {
    LossResult lr = cross_entropy(session.forward(b.images), b.labels, b.count, 0.0f, nullptr);
    loss_sum += lr.loss * b.count;
    correct += lr.correct;
    r.samples += b.count;
  }
  if (comm.distributed()) {
    std::vector<double> sums = {loss_sum, double(correct), double(r.samples)};
    sum_over_ranks(comm, sums);
    loss_sum = sums[0], correct = int64_t(sums[1]), r.samples = int64_t(sums[2]);
  }
  r.seconds = seconds_since(t0);
  r.accuracy = double(correct) / r.samples;
  r.loss = loss_sum / r.samples;
  return r;
}

}  // namespace nimble::train
