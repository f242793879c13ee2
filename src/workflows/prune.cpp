#include "nimble/workflows/prune.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "io/content_hash.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/model.hpp"
#include "nimble/prune/taylor.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/runtime/timing.hpp"
#include "nimble/train/batch_norm_recalibration.hpp"
#include "workflows/report_json.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

void PruneOptions::validate() const {
  if (model.empty()) throw OptionError("model", "a float model file is required");
  if (out.empty()) throw OptionError("out", "is required (the pruned model is written there)");
  const auto only_for = [&](const char* field, bool given, prune::Method for_method) {
    if (given && method != for_method)
      throw OptionError(field, std::string("applies to {method} ") + prune::method_name(for_method) + ", not " +
                                   prune::method_name(method));
  };
  only_for("ratio", ratio.has_value(), prune::Method::channel);
  only_for("target_macs", target_macs.has_value(), prune::Method::channel);
  only_for("target_latency_ms", target_latency_ms.has_value(), prune::Method::channel);
  if (per_layer && !ratio) throw OptionError("per_layer", "applies to a {ratio} (targets are per layer already)");
  const double deepest = prune::deepest_layer_ratio();
  if (per_layer && !(*ratio > 0 && *ratio <= deepest))
    throw OptionError("ratio", "must be in (0, " + workflow::fixed(deepest, 3) + "] with {per_layer}");
  if (plan_images && !per_layer && (uniform || (!target_macs && !target_latency_ms)))
    throw OptionError("plan_images",
                      "applies to per-layer plans ({target_macs}, {target_latency_ms} without "
                      "{uniform}, or {ratio} with {per_layer})");
  if (plan_images) workflow::check_range("plan_images", double(*plan_images), 0, 1e7);
  if (uniform && !target_macs && !target_latency_ms)
    throw OptionError("uniform", "applies to {target_macs} and {target_latency_ms} (a {ratio} is uniform already)");
  if (int(ratio.has_value()) + int(target_macs.has_value()) + int(target_latency_ms.has_value()) > 1)
    throw OptionError("ratio", "give one of {ratio}, {target_macs}, {target_latency_ms}");
  if (method == prune::Method::magnitude && !(sparsity >= 0 && sparsity < 1))
    throw OptionError("sparsity", "must be in [0, 1)");
  if (ratio && !(*ratio >= 0 && *ratio < 1)) throw OptionError("ratio", "must be in [0, 1)");
  if (target_macs && !(*target_macs >= 1)) throw OptionError("target_macs", "must be at least 1");
  if (target_latency_ms && !(*target_latency_ms > 0)) throw OptionError("target_latency_ms", "must be positive");
  if (method == prune::Method::nm && !(n >= 1 && m >= n && m <= 64)) throw OptionError("nm", "needs 0 < N <= M <= 64");
  workflow::check_range("finetune_epochs", double(finetune_epochs), 0, 1000);
  if (!(lr > 0 && std::isfinite(lr))) throw OptionError("lr", "must be positive");
  workflow::check_range("ramp", ramp, 0, 1);
  if (finetune_batch) {
    workflow::check_batch(*finetune_batch, "finetune_batch");
    if (finetune_epochs == 0) throw OptionError("finetune_batch", "acts during fine-tuning: give {finetune_epochs}");
  }
  workflow::check_batch(batch);
  workflow::check_range("iters", double(iters), 1, 100000);
  // The teacher acts during fine-tuning; by default it is the unpruned model itself.
  const char* teacher_field = !teacher.teacher.empty() ? "teacher.teacher" : teacher.customized_field();
  if (teacher_field && finetune_epochs == 0)
    throw OptionError(teacher_field, "acts during fine-tuning: give {finetune_epochs}");
  if (teacher_field && no_teacher) throw OptionError(teacher_field, "has no teacher to use with {no_teacher}");
  TeacherOptions effective = teacher;
  if (effective.teacher.empty()) effective.teacher = model;
  if (!no_teacher) effective.validate();
  check_output_is_not_an_input("out", out, {{"model", model}, {"teacher.teacher", teacher.teacher}}, force);
  if (finetune_epochs > 0)
    check_output_is_not_an_input("out", out + ".train", {{"model", model}, {"teacher.teacher", teacher.teacher}},
                                 force);
  if (resume && finetune_epochs == 0) throw OptionError("resume", "continues fine-tuning: give {finetune_epochs}");
}

namespace {

// Held-out images the per-layer planner judges accuracy on: candidates differ by about a point,
// and 5,000 images put the standard error of an accuracy near 90 % at 0.4 points.
constexpr int64_t kJudgeImages = 5000;
// Training images the per-layer planner recalibrates each candidate's batch-norms on.
constexpr int64_t kRecalibrationImages = 1000;
// Batch-1 calls behind each latency the per-layer planner measures (a candidate's compilation
// costs more than these).
constexpr int64_t kLatencyIters = 200;
// Training images of the short fine-tuning that judges each per-layer candidate plan by default
// (one epoch over them, at the recipe's batch): NetAdapt's short-term fine-tuning.
constexpr int64_t kPlanImages = 12800;

// Training images the taylor criterion scores the unpruned model's channels on before any cut
// (32 batches of 128); the fine-tuning's own gradients rank them from then on.
constexpr int64_t kTaylorImages = 4096;

prune::PruneConfig prune_config(const PruneOptions& o) {
  prune::PruneConfig cfg;
  cfg.method = o.method;
  if (o.method == prune::Method::magnitude) {
    cfg.amount = o.sparsity;
    cfg.scope = o.scope;
  } else if (o.method == prune::Method::channel) {
    cfg.amount = o.ratio.value_or(0.5);
    cfg.criterion = o.criterion;
  } else {
    cfg.n = o.n, cfg.m = o.m;
    cfg.amount = 1.0 - double(cfg.n) / cfg.m;
  }
  return cfg;
}

// The smallest channel ratio in [0, 0.95] whose pruned model satisfies `fits` (which must become
// easier as the ratio grows), by bisection; throws when even 0.95 does not fit.
double smallest_fitting_ratio(const std::function<bool(double)>& fits, const std::string& field,
                              const std::string& what) {
  double lo = 0.0, hi = 0.95;
  if (fits(lo)) return lo;
  if (!fits(hi)) throw OptionError(field, what + " is out of reach: even pruning 95% of the channels does not meet it");
  for (int i = 0; i < 12; ++i) {
    const double mid = 0.5 * (lo + hi);
    (fits(mid) ? hi : lo) = mid;
  }
  return hi;
}

// A per-layer target that even the planner's deepest ratio in every layer misses is refused
// before any data is read (a one-line error, as for every other bad option).
void check_reachable(const PruneOptions& o, const Graph& g) {
  if (o.uniform || (!o.target_macs && !o.target_latency_ms)) return;
  const double deepest = prune::deepest_layer_ratio();
  // Which channels go does not change what a cut that deep costs: L1 needs no data to rank them.
  const Graph p = prune::prune_channels(g, std::vector<double>(prune::ChannelGraph(g).spaces.size(), deepest),
                                        prune::Criterion::l1);
  if (o.target_macs && double(p.macs()) > *o.target_macs)
    throw OptionError("target_macs", std::to_string(int64_t(*o.target_macs)) + " is out of reach: removing " +
                                         workflow::fixed(100 * deepest, 1) + " % of every layer's channels leaves " +
                                         std::to_string(p.macs()) + " MACs");
  if (o.target_latency_ms) {
    const double ms = batch1_latency_ms(p, 30);
    if (ms > *o.target_latency_ms)
      throw OptionError("target_latency_ms", workflow::fixed(*o.target_latency_ms, 4) +
                                                 " ms is out of reach: removing " + workflow::fixed(100 * deepest, 1) +
                                                 " % of every layer's channels runs in " + workflow::fixed(ms, 4) +
                                                 " ms at batch 1");
  }
}

// Channel ratios from a MACs or latency target, when one is given: per layer by measurement
// (validation images judge accuracy), or one ratio for all (`uniform`).
void resolve_target(const PruneOptions& o, const Model& m, const data::ImageSet& judge, const data::ImageSet& train,
                    const data::Normalization& norm, prune::PruneConfig& cfg, PruneReport& r) {
  const Graph& g = m.graph;
  if (!o.target_macs && !o.target_latency_ms && !o.per_layer) return;
  const std::string field = o.target_macs ? "target_macs" : o.target_latency_ms ? "target_latency_ms" : "per_layer";
  const std::string what = o.target_macs         ? "target_macs " + std::to_string(int64_t(*o.target_macs))
                           : o.target_latency_ms ? "target_latency_ms " + std::to_string(*o.target_latency_ms)
                                                 : "per_layer";
  const double target = o.target_macs ? *o.target_macs : o.target_latency_ms.value_or(0);
  const prune::GraphMetric cost = [&](const Graph& p) {
    return o.target_macs ? double(p.macs()) : batch1_latency_ms(p, kLatencyIters);
  };
  if (o.uniform) {
    cfg.amount = smallest_fitting_ratio(
        [&](double ratio) { return cost(prune::prune_channels(g, ratio, cfg.importance())) <= target; }, field, what);
    workflow::say(o.log,
                  field + ": pruning " + std::to_string(cfg.amount) + " of the channels of every prunable space");
    return;
  }
  const int64_t plan_images = std::min(o.plan_images.value_or(kPlanImages), train.size());
  workflow::say(
      o.log,
      field + ": measuring each layer pruned alone (accuracy on " + std::to_string(judge.size()) +
          " validation images after batch-norm recalibration on " + std::to_string(kRecalibrationImages) +
          " training images, " + (o.target_macs ? "MACs" : "batch-1 latency") + "), then candidate plans sized to " +
          (o.per_layer ? "the latency of " + workflow::fixed(100 * *o.ratio, 1) + " % everywhere, timed beside it"
                       : std::string("the target")) +
          " (judged " +
          (plan_images > 0 ? "after fine-tuning on " + std::to_string(plan_images) + " training images" : "one shot") +
          ")");
  // A pruned model's batch-norm statistics are the unpruned model's: judged with them, every deep
  // cut looks equally broken (about 10 %). Recalibrated (EagleEye's adaptive batch-norm), a model
  // with one layer pruned is judged near what fine-tuning will make of it.
  const prune::GraphMetric accuracy = [&](const Graph& p) {
    Graph recalibrated = p.clone();
    train::recalibrate_batch_norm(recalibrated, train, norm, kRecalibrationImages);
    return train::evaluate(recalibrated, judge, norm, 500, Precision::fp32).accuracy;
  };
  // A whole plan cuts deep: judged one shot, every candidate is far from what fine-tuning makes of
  // it (mobilenet_v2 at 56 % of its channels: 27 % after recalibration). A short fine-tuning on
  // labels alone first brings each near where it will end.
  const data::ImageSet short_set = data::take(train, plan_images);
  train::TrainConfig short_tc = workflow::fine_tune_config(m, 1, o.lr, o.seed, false);
  short_tc.batch = std::min(short_tc.batch, short_set.size());
  const prune::GraphMetric tuned_accuracy = [&](const Graph& p) {
    Graph tuned = p.clone();
    train::Trainer(tuned, short_tc).fit(short_set, {}, norm);
    return train::evaluate(tuned, judge, norm, 500, Precision::fp32).accuracy;
  };
  prune::RelativeCost relative_latency;
  if (!o.target_macs)
    relative_latency = [](const Graph& candidate, const Graph& reference) {
      const auto t = time_models({{&candidate, Precision::fp32}, {&reference, Precision::fp32}}, 1, 5, kLatencyIters);
      return percentile(t[0].batch1_ms, 0.5) / percentile(t[1].batch1_ms, 0.5);
    };
  const auto t0 = std::chrono::steady_clock::now();
  prune::LayerRatios plan;
  try {
    plan = o.per_layer
               ? prune::plan_layer_ratios_like_uniform(g, cfg.importance(), accuracy, cost, *o.ratio, relative_latency,
                                                       prune::kLayerRatioLevels, tuned_accuracy)
               : prune::plan_layer_ratios(g, cfg.importance(), accuracy, cost, target, prune::kLayerRatioLevels,
                                          tuned_accuracy, relative_latency);
  } catch (const Error& e) {  // check_reachable's measure met the target, the planner's did not (noise)
    throw OptionError(field, what + " is out of reach: " + e.what());
  }
  r.plan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  cfg.space_ratios = plan.space_ratios;
  cfg.amount = plan.fraction;
  workflow::say(
      o.log,
      field +
          (plan.uniform ? ": one ratio everywhere (no per-layer plan measured more accurate)" : ": per-layer ratios") +
          " remove " + workflow::fixed(100 * plan.fraction, 1) + " % of the channels (" +
          std::to_string(plan.evaluations) + " candidates measured in " + workflow::fixed(r.plan_seconds, 1) +
          " s); the planned model measures " + workflow::fixed(plan.cost, o.target_macs ? 0 : 4) + " (unpruned " +
          workflow::fixed(plan.base_cost, o.target_macs ? 0 : 4) + "), accuracy before fine-tuning " +
          workflow::fixed(100 * plan.planned_accuracy, 2) + " % (one ratio everywhere " +
          workflow::fixed(100 * plan.uniform_accuracy, 2) + " %)");
  r.layer_plan = std::move(plan);
}

int64_t node_params(const Node& n) {
  int64_t count = 0;
  for (auto& [key, p] : n.params)
    if (p->trainable) count += p->data.numel();
  return count;
}

// Per conv / linear layer of `before`, matched by name in `after`.
std::vector<PruneLayerReport> layer_rows(const Graph& before, const Graph& after, int iters) {
  const std::vector<int64_t> mb = before.node_macs(), ma = after.node_macs();
  // Layer times as the inference Session runs them (batch-norm folded into its convolution).
  const auto tb = node_times(passes::optimize_for_inference(before), 1, iters);
  const auto ta = node_times(passes::optimize_for_inference(after), 1, iters);
  std::map<std::string, size_t> after_index;
  for (size_t j = 0; j < after.nodes().size(); ++j) after_index[after.nodes()[j].name] = j;
  std::vector<PruneLayerReport> rows;
  for (size_t i = 0; i < before.nodes().size(); ++i) {
    const Node& n = before.nodes()[i];
    if (n.op != OpKind::conv2d && n.op != OpKind::linear) continue;
    PruneLayerReport r;
    r.name = n.name;
    r.op = op_name(n.op);
    r.params_before = node_params(n);
    r.macs_before = mb[i];
    if (tb.count(n.name)) r.latency_ms_before = tb.at(n.name);
    if (auto it = after_index.find(n.name); it != after_index.end()) {
      const Node& m = after.nodes()[it->second];
      r.params_after = node_params(m);
      r.macs_after = ma[it->second];
      r.sparsity = prune::weight_sparsity(m).fraction();
      if (ta.count(n.name)) r.latency_ms_after = ta.at(n.name);
    }
    rows.push_back(r);
  }
  return rows;
}

// Largest |a - b| over the outputs of two graphs on the same inputs (eval mode, fp32).
double max_output_difference(const Graph& a, const Graph& b, const Tensor& x) {
  Session sa(a, {x.shape()[0], Mode::eval, true, Precision::fp32});
  Session sb(b, {x.shape()[0], Mode::eval, true, Precision::fp32});
  const Tensor ya = sa.forward(x).clone(), yb = sb.forward(x);
  double worst = 0;
  for (int64_t i = 0; i < ya.numel(); ++i)
    worst = std::max(worst, double(std::fabs(ya.data<float>()[i] - yb.data<float>()[i])));
  return worst;
}

// The removal pass must not change what the model computes: checked on real test images.
double check_removal(const Graph& masked, const Graph& pruned, const data::ImageSet& test,
                     const data::Normalization& norm) {
  data::BatchLoader loader(test, norm, 64, false, false, {}, 0);
  loader.start_epoch(0);
  data::Batch b;
  loader.next(b);
  const double diff = max_output_difference(masked, pruned, b.images);
  NIMBLE_CHECK(diff < 1e-3,
               "internal error: removing the pruned channels changed the outputs by " + std::to_string(diff));
  return diff;
}

// What decides a fine-tuning run's result besides the data's content: a checkpoint written by
// another command (or from another model) is not continued.
std::string run_identity(const PruneOptions& o, const Model& m) {
  const TeacherOptions& t = o.teacher;
  std::string hints;
  for (const std::string& h : t.hints) hints += h + ",";
  const std::vector<std::string> parts = {m.weights_fingerprint(),
                                          o.data,
                                          o.data_format,
                                          prune::method_name(o.method),
                                          std::to_string(o.sparsity),
                                          std::to_string(int(o.scope)),
                                          o.ratio ? std::to_string(*o.ratio) : "-",
                                          o.target_macs ? std::to_string(*o.target_macs) : "-",
                                          o.target_latency_ms ? std::to_string(*o.target_latency_ms) : "-",
                                          std::to_string(o.uniform),
                                          std::to_string(o.per_layer),
                                          prune::criterion_name(o.criterion),
                                          std::to_string(o.n) + ":" + std::to_string(o.m),
                                          std::to_string(o.finetune_epochs),
                                          std::to_string(o.lr),
                                          std::to_string(o.ramp),
                                          o.finetune_batch ? std::to_string(*o.finetune_batch) : "-",
                                          precision_name(o.precision),
                                          std::to_string(o.seed),
                                          std::to_string(o.sync_batch_norm),
                                          std::to_string(o.no_teacher),
                                          t.teacher,
                                          distill::teacher_form_name(t.form),
                                          std::to_string(t.temperature),
                                          std::to_string(t.alpha),
                                          hints,
                                          std::to_string(t.hint_weight),
                                          std::to_string(t.hint_lr),
                                          std::to_string(t.cache)};
  std::string text;
  for (const std::string& part : parts) text += part + "|";
  return io::hex(io::fnv1a(text));
}

// The plan a target resolved to (amount and per-layer ratios), kept exactly: a resumed run must
// not measure again and prune differently.
std::string plan_text(const prune::PruneConfig& cfg) {
  std::string text = fmt::format("{:.17g}", cfg.amount);
  for (double r : cfg.space_ratios) text += fmt::format(" {:.17g}", r);
  return text;
}

void read_plan(const std::string& text, prune::PruneConfig& cfg) {
  std::istringstream in(text);
  NIMBLE_CHECK(bool(in >> cfg.amount), "the checkpoint's pruning plan is malformed");
  cfg.space_ratios.clear();
  for (double r; in >> r;) cfg.space_ratios.push_back(r);
}

// The fine-tuning checkpoint to continue (OUT.train: the masked model and its training state),
// checked against this command.
std::optional<Model> resume_point(const PruneOptions& o, const std::string& state_out, const std::string& run) {
  if (!o.resume) return std::nullopt;
  NIMBLE_CHECK(
      std::filesystem::exists(state_out),
      "nothing to resume: " + state_out + " does not exist (fine-tuning writes it after its first kept epoch)");
  Model p = Model::load(state_out);
  NIMBLE_CHECK(p.training_state && p.training_state->settings.count("prune.run"),
               "cannot resume from " + state_out + ": it is not a prune fine-tuning checkpoint");
  NIMBLE_CHECK(p.training_state->setting("prune.run") == run,
               "cannot resume from " + state_out +
                   ": it was written by another prune command or from another model (run without --resume to start "
                   "over)");
  return p;
}

}  // namespace

PruneReport prune_model(const PruneOptions& o) {
  o.validate();
  prune::PruneConfig cfg = prune_config(o);
  const Model m = Model::load(o.model);
  NIMBLE_CHECK(!m.quantized(), o.model + " is int8: prune the float model, then quantize it");
  const prune::ChannelGraph check(m.graph);  // rejects graphs pruning cannot handle before any work
  NIMBLE_CHECK(!prune::prunable_weights(m.graph).empty(), o.model + " has no conv2d or linear layer to prune");
  const data::Normalization& norm = m.preprocessing.normalization;
  const std::string state_out = o.out + ".train", run = run_identity(o, m);
  std::optional<Model> resumed = resume_point(o, state_out, run);
  if (!resumed) check_reachable(o, m.graph);
  const data::DataSet d = workflow::read_data_for(m, o.data, o.data_format, o.skip_bad, o.cache_mb, o.log);
  const data::Split split = workflow::training_split(m, d, o.data);
  if (o.finetune_batch && *o.finetune_batch > split.train.size())  // before any planning, not after it
    throw OptionError("finetune_batch",
                      "is larger than the training split (" + std::to_string(split.train.size()) + " images)");

  PruneReport r;
  if (cfg.method == prune::Method::channel && cfg.criterion == prune::Criterion::taylor && !resumed) {
    cfg.class_scores = prune::taylor_scores(m.graph, split.train, norm, kTaylorImages);
    workflow::say(o.log, "taylor: channels scored by the first-order loss change of removing them, on " +
                             std::to_string(std::min(kTaylorImages, split.train.size())) + " training images");
  }
  if (resumed) {
    read_plan(resumed->training_state->required_setting("prune.plan"), cfg);
    workflow::say(
        o.log, "resuming " + state_out + " after fine-tuning epoch " + std::to_string(resumed->training_state->epoch));
  } else {
    // The planner judges accuracy on held-out training images, never on the test split.
    resolve_target(o, m, data::take(split.val.size() > 0 ? split.val : split.train, kJudgeImages), split.train, norm,
                   cfg, r);
  }
  workflow::say(o.log,
                "prune: " + o.model + ", " + cfg.describe() +
                    (o.finetune_epochs > 0 ? ", " + std::to_string(o.finetune_epochs) + " epochs of gradual fine-tuning"
                                           : ", one shot"));
  const train::EvalResult before_acc = train::evaluate(m.graph, d.test, norm, 500, Precision::fp32);
  r.size_bytes_before = m.model_file_size();

  Graph masked = resumed ? resumed->graph.clone() : m.graph.clone();
  // By default the unpruned model teaches its pruned self while it fine-tunes (docs/results.md,
  // pruning: it cut resnet's channel-pruning drop by two thirds).
  TeacherOptions teacher = o.teacher;
  if (teacher.teacher.empty()) teacher.teacher = o.model;
  if (o.no_teacher || o.finetune_epochs == 0) teacher.teacher.clear();
  if (o.finetune_epochs > 0) {
    train::TrainConfig tc = workflow::fine_tune_config(m, o.finetune_epochs, o.lr, o.seed, o.progress);
    if (o.finetune_batch) tc.batch = *o.finetune_batch;
    r.finetune_batch = tc.batch;
    // Decisions by timing (precision, the teacher's form) are the interrupted run's on resume.
    r.finetune_precision = choose_precision_for(
        resumed ? precision_from_name(resumed->training_state->required_setting("precision")) : o.precision, masked,
        tc.batch, Mode::train);
    workflow::announce(o.log, *r.finetune_precision);
    tc.precision = r.finetune_precision->precision;
    tc.sync_batch_norm = o.sync_batch_norm;
    train::Trainer trainer(masked, tc);
    trainer.add_hook(std::make_shared<prune::GradualPruning>(cfg, o.ramp));
    DistillReport dr;
    if (resumed) workflow::resume_teacher(teacher, *resumed->training_state);
    auto hook =
        workflow::make_distillation(teacher, masked, norm, split, d.test, tc.batch, tc.augment.any(), o.log, dr);
    if (hook) trainer.add_hook(hook);
    if (resumed) trainer.resume(*resumed->training_state);
    // Each epoch kept goes to OUT.train, so that an interrupted fine-tuning can be continued.
    trainer.on_best = [&](const Graph& g, const train::EpochStats& s, const train::TrainState& st) {
      Model ck(g, m.preprocessing);
      ck.class_names = m.class_names;
      ck.provenance.metrics = Metrics{s.epoch, s.val_accuracy, s.train_loss, std::nullopt};
      ck.training_state = st;
      ck.training_state->settings["prune.run"] = run;
      ck.training_state->settings["prune.plan"] = plan_text(cfg);
      ck.training_state->settings["precision"] = precision_name(tc.precision);
      ck.save(state_out);
    };
    const train::TrainResult ft = trainer.fit(split.train, split.val, norm);
    if (hook) workflow::finish_distillation(*hook, o.log, dr), r.distillation = dr;
    r.finetune_best_epoch = ft.best_epoch, r.finetune_val_accuracy = ft.best_val_accuracy;
  } else {
    prune::apply_masks(masked, prune::compute_masks(masked, cfg, cfg.amount));
  }
  const bool channel = o.method == prune::Method::channel;
  Graph pruned = channel ? prune::remove_channels(masked) : masked.clone();
  if (channel) r.removal_max_abs_diff = check_removal(masked, pruned, d.test, norm);
  // One shot, the pruned channels' share of each batch-norm's statistics is gone; measured anew
  // on training images (weights unchanged), the model keeps much of its accuracy.
  if (channel && o.finetune_epochs == 0) train::recalibrate_batch_norm(pruned, split.train, norm, kRecalibrationImages);
  const train::EvalResult after_acc = train::evaluate(pruned, d.test, norm, 500, Precision::fp32);
  const std::vector<workflow::Speed> speeds = workflow::measure_speeds({&m.graph, &pruned}, o.batch, o.iters);

  const prune::Sparsity sp_before = prune::weight_sparsity(m.graph), sp_after = prune::weight_sparsity(pruned);
  Model out(pruned, m.preprocessing);
  out.class_names = m.class_names;
  out.provenance = m.provenance;
  out.provenance.pruning = PruningRecord{
      prune::method_name(o.method), cfg.describe(),     cfg.amount, o.finetune_epochs, teacher.teacher, o.model,
      before_acc.accuracy,          sp_after.fraction()};
  out.provenance.metrics.test_accuracy = after_acc.accuracy;
  out.save(o.out);
  r.size_bytes_after = Model::load(o.out).file_size;              // read back: the file loads
  if (o.finetune_epochs > 0) std::filesystem::remove(state_out);  // finished: nothing left to resume

  r.model = o.model, r.checkpoint = o.out;
  r.method = prune::method_name(o.method), r.config = cfg.describe(), r.amount = cfg.amount;
  r.finetune_epochs = o.finetune_epochs;
  r.test_accuracy_before = before_acc.accuracy, r.test_accuracy_after = after_acc.accuracy;
  r.params_before = m.graph.param_count(), r.params_after = pruned.param_count();
  r.macs_before = m.graph.macs(), r.macs_after = pruned.macs();
  r.weight_sparsity_before = sp_before.fraction(), r.weight_sparsity_after = sp_after.fraction();
  r.latency_ms_before = speeds[0].latency_ms, r.latency_ms_after = speeds[1].latency_ms;
  r.batch = o.batch;
  r.throughput_before = speeds[0].throughput, r.throughput_after = speeds[1].throughput;
  r.layers = layer_rows(m.graph, pruned, 20);

  char line[512];
  std::snprintf(
      line, sizeof line,
      "params %lld -> %lld, MACs %lld -> %lld (%.2fx), weight sparsity %.1f%% -> %.1f%%, file %lld -> %lld bytes "
      "(%.2fx smaller)",
      (long long)r.params_before, (long long)r.params_after, (long long)r.macs_before, (long long)r.macs_after,
      double(r.macs_before) / double(std::max<int64_t>(r.macs_after, 1)), 100 * r.weight_sparsity_before,
      100 * r.weight_sparsity_after, (long long)r.size_bytes_before, (long long)r.size_bytes_after,
      double(r.size_bytes_before) / double(r.size_bytes_after));
  workflow::say(o.log, line);
  std::snprintf(
      line, sizeof line,
      "test accuracy %.4f -> %.4f; batch-1 latency %.4f -> %.4f ms (%.2fx); batch-%lld %.0f -> %.0f samples/s; "
      "saved %s",
      r.test_accuracy_before, r.test_accuracy_after, r.latency_ms_before, r.latency_ms_after,
      r.latency_ms_before / r.latency_ms_after, (long long)o.batch, r.throughput_before, r.throughput_after,
      o.out.c_str());
  workflow::say(o.log, line);
  if (!channel)
    workflow::say(
        o.log, "note: unstructured and N:M sparsity shrink the file but not the time: oneDNN runs the zeros densely");
  return r;
}

std::string layer_table(const PruneReport& r) {
  char line[512];
  std::snprintf(line, sizeof line, "%-28s %-7s %11s %11s %12s %12s %8s %9s %9s", "layer", "op", "params", "params'",
                "MACs", "MACs'", "sparsity", "b1 ms", "b1 ms'");
  std::string out = line;
  for (const PruneLayerReport& l : r.layers) {
    std::snprintf(line, sizeof line, "\n%-28s %-7s %11lld %11lld %12lld %12lld %7.1f%% %9.4f %9.4f", l.name.c_str(),
                  l.op.c_str(), (long long)l.params_before, (long long)l.params_after, (long long)l.macs_before,
                  (long long)l.macs_after, 100 * l.sparsity, l.latency_ms_before.value_or(-1),
                  l.latency_ms_after.value_or(-1));
    out += line;
  }
  return out;
}

std::string to_json(const PruneReport& r) {
  using workflow::json;
  json layers = json::array();
  for (const PruneLayerReport& l : r.layers)
    layers.push_back({{"name", l.name},
                      {"op", l.op},
                      {"params_before", l.params_before},
                      {"params_after", l.params_after},
                      {"macs_before", l.macs_before},
                      {"macs_after", l.macs_after},
                      {"sparsity", l.sparsity},
                      {"latency_ms_before", workflow::optional_json(l.latency_ms_before)},
                      {"latency_ms_after", workflow::optional_json(l.latency_ms_after)}});
  json j = {{"model", r.model},
            {"checkpoint", r.checkpoint},
            {"method", r.method},
            {"config", r.config},
            {"amount", r.amount},
            {"finetune_epochs", r.finetune_epochs},
            {"test_accuracy_before", r.test_accuracy_before},
            {"test_accuracy_after", r.test_accuracy_after},
            {"params_before", r.params_before},
            {"params_after", r.params_after},
            {"macs_before", r.macs_before},
            {"macs_after", r.macs_after},
            {"weight_sparsity_before", r.weight_sparsity_before},
            {"weight_sparsity_after", r.weight_sparsity_after},
            {"latency_ms_before", r.latency_ms_before},
            {"latency_ms_after", r.latency_ms_after},
            {"batch", r.batch},
            {"throughput_before", r.throughput_before},
            {"throughput_after", r.throughput_after},
            {"size_bytes_before", r.size_bytes_before},
            {"size_bytes_after", r.size_bytes_after},
            {"layers", layers}};
  if (r.removal_max_abs_diff) j["removal_max_abs_diff"] = *r.removal_max_abs_diff;
  if (r.layer_plan) {
    const prune::LayerRatios& p = *r.layer_plan;
    json spaces = json::array();
    for (const prune::SpaceProfile& s : p.profiles)
      spaces.push_back(
          {{"space", s.space},
           {"channels", s.channels},
           {"ratio", p.space_ratios[size_t(s.space)]},
           {"levels",
            {{"ratio", s.ratios}, {"kept", s.kept}, {"accuracy", s.accuracy}, {"cost", s.cost}, {"macs", s.macs}}}});
    json candidates = json::array();
    for (const prune::PlanCandidate& c : p.candidates)
      candidates.push_back({{"kind", c.kind},
                            {"accuracy", c.accuracy},
                            {"cost", c.cost},
                            {"params", c.params},
                            {"macs", c.macs},
                            {"fraction", c.fraction}});
    j["layer_plan"] = {{"base_accuracy", p.base_accuracy},
                       {"base_cost", p.base_cost},
                       {"cost", p.cost},
                       {"fraction", p.fraction},
                       {"evaluations", p.evaluations},
                       {"seconds", r.plan_seconds},
                       {"spaces", spaces},
                       {"candidates", candidates},
                       {"uniform", p.uniform},
                       {"planned_accuracy", p.planned_accuracy},
                       {"uniform_accuracy", p.uniform_accuracy}};
  }
  if (r.distillation) j["distillation"] = workflow::distill_json(*r.distillation);
  if (r.finetune_precision) {
    j["finetune"] = workflow::precision_json(*r.finetune_precision);
    j["finetune"]["best_epoch"] = r.finetune_best_epoch;
    j["finetune"]["batch"] = r.finetune_batch;
    j["finetune"]["val_accuracy"] = r.finetune_val_accuracy;
  }
  return j.dump();
}

}  // namespace nimble
