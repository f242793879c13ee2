#include "nimble/workflows/train.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <memory>
#include <optional>
#include <sstream>

#include "nimble/dist/communicator.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/io/onnx.hpp"
#include "nimble/model.hpp"
#include "nimble/nas/space.hpp"
#include "nimble/prune/gradual.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/zoo/zoo.hpp"
#include "runtime/machine.hpp"
#include "workflows/report_json.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

namespace {

// prune: METHOD:AMOUNT[:OPTION] (magnitude:0.8[:layer|global], channel:0.5[:l1|l2|bn]) or nm:N:M.
prune::PruneConfig parse_prune_spec(const std::string& spec) {
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  for (std::string part; std::getline(ss, part, ':');) parts.push_back(part);
  const auto fail = [&] {
    return OptionError("prune",
                       "expects magnitude:S[:layer|global], channel:R[:l1|l2|bn] or nm:N:M, got '" + spec + "'");
  };
  if (parts.size() < 2 || parts.size() > 3) throw fail();
  prune::PruneConfig cfg;
  cfg.method = prune::method_from_name(parts[0]);
  const auto number = [&](const std::string& text) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || used == 0) throw fail();
    return v;
  };
  if (cfg.method == prune::Method::nm) {
    if (parts.size() != 3) throw fail();
    const double n = number(parts[1]), m = number(parts[2]);
    if (!(n == std::floor(n) && m == std::floor(m) && n >= 1 && m >= n && m <= 64))
      throw OptionError("prune", "nm:N:M needs 0 < N <= M <= 64");
    cfg.n = int(n), cfg.m = int(m);
    cfg.amount = 1.0 - n / m;
    return cfg;
  }
  cfg.amount = number(parts[1]);
  if (!(cfg.amount > 0 && cfg.amount < 1)) throw OptionError("prune", "the amount must be in (0, 1), got " + parts[1]);
  if (parts.size() == 3) {
    if (cfg.method == prune::Method::magnitude)
      cfg.scope = prune::scope_from_name(parts[2]);
    else
      cfg.criterion = prune::criterion_from_name(parts[2]);
  }
  return cfg;
}

// Per-model recipe defaults (documented in the README); any option overrides them.
struct Recipe {
  int64_t epochs;
  double lr;
  int64_t crop_padding;
  bool hflip;
  double label_smoothing;
};
Recipe recipe_for(const std::string& model) {
  if (model == "cnn") return {10, 0.05, 0, true, 0.0};  // random crops cost this small model ~1 point in 10 epochs
  if (model == "resnet") return {30, 0.1, 2, true, 0.1};
  return {30, 0.05, 2, true, 0.1};  // mobilenets
}

// `resume` takes either the model file or its training checkpoint.
constexpr const char* kTrainingSuffix = ".train";
bool is_training_checkpoint(const std::string& path) {
  const std::string sfx = kTrainingSuffix;
  return path.size() > sfx.size() && path.compare(path.size() - sfx.size(), sfx.size(), sfx) == 0;
}
std::string training_checkpoint_for(const std::string& path) {
  return is_training_checkpoint(path) ? path : path + kTrainingSuffix;
}
std::string model_file_for(const std::string& path) {
  return is_training_checkpoint(path) ? path.substr(0, path.size() - std::string(kTrainingSuffix).size()) : path;
}

// With qat the float run is followed by quantization-aware fine-tuning; its int8 model goes next
// to the float one unless qat_out says where.
std::string int8_file_for(const std::string& out) {
  const std::string sfx = ".nimble";
  const bool has_sfx = out.size() > sfx.size() && out.compare(out.size() - sfx.size(), sfx.size(), sfx) == 0;
  return (has_sfx ? out.substr(0, out.size() - sfx.size()) : out) + "-int8.nimble";
}

// Resuming takes the run's settings from its checkpoint: only these may differ from the defaults.
void check_resume_options(const TrainOptions& o) {
  const TrainOptions d;
  const auto same = [](const auto& a, const auto& b) { return a == b; };
  const std::pair<const char*, bool> given[] = {{"model", !same(o.model, d.model)},
                                                {"data", !same(o.data, d.data)},
                                                {"input", o.input.has_value()},
                                                {"width", !same(o.width, d.width)},
                                                {"dropout", !same(o.dropout, d.dropout)},
                                                {"depth", !same(o.depth, d.depth)},
                                                {"crop_padding", o.crop_padding.has_value()},
                                                {"lr", o.lr.has_value()},
                                                {"label_smoothing", o.label_smoothing.has_value()},
                                                {"hflip", o.hflip.has_value()},
                                                {"crop_scale", o.crop_scale.has_value()},
                                                {"mean", !o.mean.empty()},
                                                {"std", !o.std.empty()},
                                                {"jitter", !same(o.jitter, d.jitter)},
                                                {"batch", o.batch.has_value()},
                                                {"optimizer", !same(o.optimizer, d.optimizer)},
                                                {"schedule", !same(o.schedule, d.schedule)},
                                                {"momentum", !same(o.momentum, d.momentum)},
                                                {"weight_decay", !same(o.weight_decay, d.weight_decay)},
                                                {"clip_grad", !same(o.clip_grad, d.clip_grad)},
                                                {"erase", !same(o.erase, d.erase)},
                                                {"warmup_epochs", !same(o.warmup_epochs, d.warmup_epochs)},
                                                {"nesterov", !same(o.nesterov, d.nesterov)},
                                                {"step_epochs", !same(o.step_epochs, d.step_epochs)},
                                                {"val", !same(o.val, d.val)},
                                                {"limit", !same(o.limit, d.limit)},
                                                {"seed", !same(o.seed, d.seed)},
                                                {"precision", !same(o.precision, d.precision)},
                                                {"prune", !o.prune.empty()},
                                                {"qat", o.qat},
                                                {"teacher", !o.teacher.teacher.empty()},
                                                {o.teacher.customized_field(), o.teacher.customized_field()}};
  for (const auto& [field, differs] : given)
    if (differs)
      throw OptionError(field, "cannot be combined with {resume}: the run's settings come from the checkpoint");
}

// The checkpoint's recipe back into the options that produced it.
constexpr int64_t kDefaultBatch = 128;

// --model names a file (a saved student to train on) rather than a zoo model.
bool names_a_file(const std::string& model) {
  return model.find('/') != std::string::npos || model.find(".nimble") != std::string::npos || io::is_onnx_path(model);
}

TrainOptions resumed_options(const TrainOptions& o, const TrainRecipe& r) {
  TrainOptions a = o;
  a.model = r.model, a.width = r.width, a.depth = r.depth, a.input = r.input;
  if (!o.epochs) a.epochs = r.epochs;
  a.batch = r.batch, a.lr = r.lr, a.optimizer = r.optimizer, a.schedule = r.schedule;
  a.weight_decay = r.weight_decay, a.label_smoothing = r.label_smoothing;
  a.crop_padding = r.crop_padding, a.hflip = r.hflip, a.erase = r.erase, a.seed = r.seed;
  a.crop_scale = r.crop_scale, a.jitter = r.jitter;
  if (r.val >= 0) a.val = r.val;
  a.data = r.data, a.precision = r.precision, a.momentum = r.momentum, a.nesterov = r.nesterov;
  a.clip_grad = r.clip_grad, a.warmup_epochs = r.warmup_epochs, a.step_epochs = r.step_epochs;
  a.limit = r.limit, a.dropout = r.dropout, a.prune = r.prune, a.prune_ramp = r.prune_ramp;
  if (a.out.empty()) a.out = model_file_for(o.resume);
  return a;
}

}  // namespace

void TrainOptions::validate() const {
  if (model.empty()) throw OptionError("model", "a zoo model name or a model file is required");
  if (resume.empty() && !names_a_file(model) && !nas::is_searched_model_name(model)) zoo::check_model_name(model);
  if (optimizer != "sgd" && optimizer != "adamw")
    throw OptionError("optimizer", "must be sgd or adamw, got '" + optimizer + "'");
  if (epochs) workflow::check_range("epochs", double(*epochs), 1, 1e6);
  if (batch) workflow::check_batch(*batch);
  if (lr && !(*lr > 0 && std::isfinite(*lr))) throw OptionError("lr", "must be positive");
  if (label_smoothing) workflow::check_range("label_smoothing", *label_smoothing, 0, 0.99);
  if (crop_padding) workflow::check_range("crop_padding", double(*crop_padding), 0, 64);
  workflow::check_range("erase", erase, 0, 1);
  if (crop_scale) {
    workflow::check_range("crop_scale", *crop_scale, 0, 1);
    if (*crop_scale > 0 && crop_padding && *crop_padding > 0)
      throw OptionError("crop_scale", "cannot be combined with {crop_padding}: choose one random crop");
  }
  workflow::check_range("jitter", jitter, 0, 1);
  if (val) workflow::check_range("val", double(*val), 0, 1e9);
  data::parse_fit_mode(fit);  // throws naming the choices
  if (mean.empty() != std.empty()) throw OptionError(mean.empty() ? "std" : "mean", "needs {mean} and {std} together");
  if (mean.size() != std.size()) throw OptionError("std", "must have as many values as {mean}");
  for (float s : std)
    if (!(s > 0 && std::isfinite(s))) throw OptionError("std", "values must be positive");
  for (float m : mean)
    if (!std::isfinite(m)) throw OptionError("mean", "values must be finite");
  data::parse_data_format(data_format);
  workflow::check_range("limit", double(limit), 0, 1e9);
  workflow::check_range("prune_ramp", prune_ramp, 0, 1);
  if (!qat) {
    if (qat_epochs) throw OptionError("qat_epochs", "applies to {qat} runs only");
    if (qat_lr) throw OptionError("qat_lr", "applies to {qat} runs only");
    if (!qat_out.empty()) throw OptionError("qat_out", "applies to {qat} runs only");
  }
  if (qat_epochs) workflow::check_range("qat_epochs", double(*qat_epochs), 1, 1000);
  if (qat_lr && !(*qat_lr > 0 && std::isfinite(*qat_lr))) throw OptionError("qat_lr", "must be positive");
  if (!prune.empty() && parse_prune_spec(prune).criterion == prune::Criterion::taylor && prune_ramp == 0)
    throw OptionError("prune_ramp",
                      "must be above 0 with the taylor criterion: it ranks channels by the gradients of "
                      "the training steps before each cut");
  if (!resume.empty()) check_resume_options(*this);
  teacher.validate();
}

TrainReport train_model(const TrainOptions& options) {
  options.validate();
  std::optional<Model> resumed;
  TrainOptions a = options;
  if (!options.resume.empty()) {
    const std::string state_file = training_checkpoint_for(options.resume);
    NIMBLE_CHECK(std::filesystem::exists(state_file),
                 "cannot resume " + options.resume + ": its training checkpoint " + state_file + " does not exist");
    resumed = Model::load(state_file);
    NIMBLE_CHECK(
        resumed->provenance.recipe && resumed->training_state,
        "cannot resume " + options.resume + ": " + state_file + " has no training state (not written by train)");
    a = resumed_options(options, *resumed->provenance.recipe);
    if (const auto& d = resumed->provenance.distillation) {
      // The same teacher in the same form: its file is checked against the checkpoint's
      // fingerprint when the hook takes its state back.
      a.teacher = TeacherOptions{};
      a.teacher.teacher = d->teacher, a.teacher.temperature = d->temperature, a.teacher.alpha = d->alpha;
      a.teacher.hints = d->hints, a.teacher.hint_weight = d->hint_weight, a.teacher.hint_lr = d->hint_lr;
      a.teacher.cache = d->cached_logits;
      workflow::resume_teacher(a.teacher, *resumed->training_state);
      NIMBLE_CHECK(std::filesystem::exists(d->teacher),
                   "cannot resume " + options.resume + ": it was distilled from " + d->teacher + ", which is gone");
    }
  }
  std::optional<prune::PruneConfig> pruning;
  if (!a.prune.empty()) pruning = parse_prune_spec(a.prune);
  // A model file as the starting point (distillation into a saved student): its architecture and
  // weights, trained on with this run's recipe.
  std::optional<Model> start;
  if (!resumed && names_a_file(a.model)) {
    start = Model::load(a.model);
    workflow::check_float(*start, a.model, "trained");
  }
  const Recipe recipe = recipe_for(start && start->provenance.recipe ? start->provenance.recipe->model
                                   : start                           ? "mobilenet"
                                                                     : a.model);
  // A model trained on (resumed, or a saved student) brings its preprocessing.
  const Model* base = resumed ? &*resumed : start ? &*start : nullptr;
  const data::FitMode fit = base ? base->preprocessing.fit : data::parse_fit_mode(a.fit);
  const Shape wanted = a.input ? *a.input : start ? start->input_shape() : Shape{};
  const data::DataSet d = workflow::read_data(a.data, a.data_format, a.skip_bad, a.cache_mb, wanted, fit,
                                              base ? base->preprocessing.channel_order : ChannelOrder::rgb);
  const data::ImageSet train_set = a.limit > 0 ? data::take(d.train, a.limit) : d.train;
  // The data's own validation split, or a tenth of the training images (at most 5,000).
  const bool own_val = !a.val && d.val.size() > 0;
  const int64_t val = own_val ? -1 : a.val.value_or(workflow::default_val_count(train_set.size()));
  if (!own_val && val >= train_set.size())
    throw OptionError("val",
                      "must be smaller than the training set (" + std::to_string(train_set.size()) + " samples)");
  const data::Split split = own_val ? data::Split{train_set, d.val} : data::split_validation(train_set, val, a.seed);
  // Normalisation: given, or the one a model trained on (resumed, or an imported network whose
  // weights expect it), or the training split's.
  data::Normalization norm;
  if (!a.mean.empty()) {
    norm = {a.mean, a.std};
    if (int64_t(norm.mean.size()) != d.train.sample_shape()[0])
      throw OptionError("mean", "has " + std::to_string(norm.mean.size()) + " values for " +
                                    std::to_string(d.train.sample_shape()[0]) + "-channel images");
  } else if (base && !base->preprocessing.normalization.mean.empty()) {
    norm = base->preprocessing.normalization;
  } else {
    norm = data::compute_normalization(split.train);
  }
  // A small data set: the default batch shrinks with it; a batch given larger than the training
  // split takes all of it, one step an epoch, instead of none.
  const int64_t batch = a.batch ? std::min<int64_t>(*a.batch, split.train.size())
                                : workflow::default_batch(split.train.size(), kDefaultBatch);

  zoo::ModelConfig mc;
  mc.name = a.model;
  mc.input = d.train.sample_shape();
  mc.classes = d.train.num_classes;
  mc.width = a.width;
  mc.depth = a.depth;
  mc.dropout = a.dropout;
  mc.seed = a.seed;
  Model model = resumed ? std::move(*resumed)
                : start ? std::move(*start)
                        : Model(nas::is_searched_model_name(a.model)
                                    ? nas::build_searched_model(a.model, mc.input, mc.classes, mc.seed)
                                    : zoo::build(mc));
  if (model.class_names.empty() && int64_t(d.class_names.size()) == mc.classes) model.class_names = d.class_names;
  Graph& graph = model.graph;
  NIMBLE_CHECK(graph.input_shape() == mc.input,
               "the model takes " + graph.input_shape().str() + " but its data gives " + mc.input.str());

  train::TrainConfig tc;
  tc.epochs = a.epochs.value_or(recipe.epochs);
  tc.batch = batch;
  tc.seed = a.seed;
  tc.progress = a.progress;
  tc.label_smoothing = float(a.label_smoothing.value_or(recipe.label_smoothing));
  tc.optimizer.kind = a.optimizer;
  tc.optimizer.momentum = float(a.momentum);
  tc.optimizer.nesterov = a.nesterov;
  tc.optimizer.weight_decay = float(a.weight_decay);
  tc.optimizer.clip_grad_norm = float(a.clip_grad);
  tc.sync_batch_norm = a.sync_batch_norm;
  tc.schedule.kind = a.schedule;
  tc.schedule.lr = float(a.lr.value_or(recipe.lr * double(tc.batch) / double(kDefaultBatch)));
  const int64_t steps_per_epoch = std::max<int64_t>(1, split.train.size() / tc.batch);
  tc.schedule.warmup_steps = int64_t(a.warmup_epochs * double(steps_per_epoch));
  tc.schedule.step_size = a.step_epochs * steps_per_epoch;
  // A random resized crop replaces the model's default padded crop.
  const double crop_scale = a.crop_scale.value_or(0);
  tc.augment.crop_padding = crop_scale > 0 ? 0 : a.crop_padding.value_or(recipe.crop_padding);
  tc.augment.crop_scale = float(crop_scale);
  tc.augment.hflip = a.hflip.value_or(recipe.hflip);
  tc.augment.erase_prob = float(a.erase);
  tc.augment.jitter = float(a.jitter);

  const std::string out = a.out.empty() ? a.model + ".nimble" : a.out;
  const std::string state_out = training_checkpoint_for(out);
  const std::string qat_out = a.qat_out.empty() ? int8_file_for(out) : a.qat_out;
  if (a.qat) {
    const auto same = [](const std::string& x, const std::string& y) {
      return std::filesystem::weakly_canonical(x) == std::filesystem::weakly_canonical(y);
    };
    if (same(qat_out, out) || same(qat_out, state_out))
      throw OptionError("qat_out", "must differ from the float model " + out + " and its training checkpoint");
  }
  // A saved model trained further (--model FILE, --student FILE) and the teacher are read; --resume's
  // checkpoint is the run's own, rewritten as it goes.
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"model", std::filesystem::exists(a.model) ? a.model : ""}, {"teacher.teacher", a.teacher.teacher}};
  check_output_is_not_an_input("out", out, inputs, a.force);
  check_output_is_not_an_input("out", state_out, inputs, a.force);
  if (a.qat) check_output_is_not_an_input("qat_out", qat_out, inputs, a.force);
  TrainReport rep;
  rep.precision = choose_precision_for(a.precision, graph, tc.batch, Mode::train);
  tc.precision = rep.precision.precision;

  TrainRecipe rec;
  rec.model = a.model, rec.width = a.width, rec.depth = zoo::resnet_depth(mc), rec.input = mc.input;
  rec.classes = mc.classes, rec.epochs = tc.epochs, rec.batch = tc.batch, rec.lr = tc.schedule.lr;
  rec.optimizer = a.optimizer, rec.schedule = a.schedule, rec.weight_decay = a.weight_decay;
  rec.label_smoothing = tc.label_smoothing, rec.crop_padding = tc.augment.crop_padding, rec.hflip = tc.augment.hflip;
  rec.crop_scale = crop_scale, rec.jitter = a.jitter;
  rec.erase = a.erase, rec.seed = a.seed, rec.val = val, rec.data = a.data, rec.precision = rep.precision.precision;
  rec.momentum = a.momentum, rec.nesterov = a.nesterov, rec.clip_grad = a.clip_grad;
  rec.warmup_epochs = a.warmup_epochs, rec.step_epochs = a.step_epochs, rec.limit = a.limit, rec.dropout = a.dropout;
  if (pruning) rec.prune = a.prune, rec.prune_config = pruning->describe(), rec.prune_ramp = a.prune_ramp;
  const Metrics resumed_metrics = model.provenance.metrics;
  model.provenance = Provenance{};
  model.provenance.recipe = rec;
  if (!a.teacher.teacher.empty())
    model.provenance.distillation =
        DistillationRecord{a.teacher.teacher,     a.teacher.temperature, a.teacher.alpha, a.teacher.hints,
                           a.teacher.hint_weight, a.teacher.hint_lr,     a.teacher.cache};
  model.preprocessing.normalization = norm;
  model.preprocessing.fit = fit;

  // The model file and, beside it, the training checkpoint; the model file last, so that a model
  // on disk always has its training checkpoint from the same epoch or later.
  const auto save_both = [&](const Graph& g, const train::EpochStats& s, const train::TrainState& st) {
    Model m(g, model.preprocessing);
    m.class_names = model.class_names;
    m.provenance = model.provenance;
    m.provenance.metrics = Metrics{s.epoch, s.val_accuracy, s.train_loss, model.provenance.metrics.test_accuracy};
    m.training_state = st;
    m.save(state_out);
    m.training_state.reset();
    m.save(out);
  };

  train::Trainer trainer(graph, tc);  // validates the configuration before anything is logged
  if (pruning) trainer.add_hook(std::make_shared<prune::GradualPruning>(*pruning, a.prune_ramp));
  DistillReport distill_report;
  const auto distillation = workflow::make_distillation(a.teacher, graph, norm, split, d.test, tc.batch,
                                                        tc.augment.any(), a.log, distill_report);
  if (distillation) trainer.add_hook(distillation);
  std::optional<std::pair<train::EpochStats, train::TrainState>> best;
  if (resumed) {
    trainer.resume(*model.training_state);
    train::EpochStats s;
    s.epoch = model.training_state->epoch;
    s.val_accuracy = model.training_state->best_val_accuracy;
    s.train_loss = resumed_metrics.train_loss.value_or(0);
    best.emplace(s, *model.training_state);
  }
  workflow::announce(a.log, rep.precision);
  workflow::say(a.log, workflow::data_summary(a.data, d, fit));
  if (!a.val && !resumed)
    workflow::say(a.log, own_val ? "validation: the data's own val split (" + std::to_string(d.val.size()) + " images)"
                                 : "validation: " + std::to_string(val) + " of " + std::to_string(train_set.size()) +
                                       " training images held out (a tenth, at most 5,000; --val sets it)");
  if (batch < a.batch.value_or(kDefaultBatch))
    workflow::say(a.log, "batch " + std::to_string(batch) + ": the training split has " +
                             std::to_string(split.train.size()) + " samples (--batch sets it)");
  if (resumed)
    workflow::say(a.log, "resuming " + a.resume + " after epoch " + std::to_string(model.training_state->epoch));
  workflow::say(a.log, "train: " + a.model + " (" + std::to_string(graph.param_count()) + " params, " +
                           std::to_string(graph.macs()) + " MACs/sample) on " + std::to_string(split.train.size()) +
                           " samples, " + std::to_string(split.val.size()) + " for validation, " +
                           std::to_string(tc.epochs) + " epochs, batch " + std::to_string(tc.batch) + ", lr " +
                           std::to_string(tc.schedule.lr) + " (" + tc.schedule.kind + ")");
  // Keep the best epoch on disk as training goes, with what resuming needs, so an interrupted run
  // leaves a model and can be continued.
  trainer.on_best = [&](const Graph& g, const train::EpochStats& s, const train::TrainState& st) {
    best.emplace(s, st);
    save_both(g, s, st);
  };
  const auto t0 = std::chrono::steady_clock::now();
  const train::TrainResult res = trainer.fit(split.train, split.val, norm);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const train::EvalResult test = train::evaluate(graph, d.test, norm, 500, rep.precision.precision);
  model.provenance.metrics.test_accuracy = test.accuracy;
  save_both(graph, best->first, best->second);
  if (pruning && pruning->method == prune::Method::channel) {
    // The model file gets the physically smaller graph (it computes what the masked one does);
    // the training checkpoint keeps the masked dense graph the optimizer state belongs to.
    Model small(prune::remove_channels(graph), model.preprocessing);
    small.provenance = model.provenance;
    small.provenance.metrics =
        Metrics{best->first.epoch, best->first.val_accuracy, best->first.train_loss, test.accuracy};
    small.save(out);
    graph = std::move(small.graph);
  }
  if (pruning)
    workflow::say(a.log, "pruned " + pruning->describe() + ": weight sparsity " +
                             std::to_string(prune::weight_sparsity(graph).fraction()) + ", " +
                             std::to_string(graph.param_count()) + " params, " + std::to_string(graph.macs()) +
                             " MACs/sample");
  workflow::say(a.log, "test accuracy " + std::to_string(test.accuracy) + " (best epoch " +
                           std::to_string(res.best_epoch) + "), " + std::to_string(int64_t(res.train_samples_per_s)) +
                           " train samples/s (" + fmt::format("{:.1f}", 100 * res.data_wait_fraction) +
                           "% of it waiting for data); saved " + out + " (and " + state_out + " to resume)");
  if (a.qat) {
    // The saved float model, fine-tuned with fake quantization in this run's precision (and from
    // its teacher, if any) and converted: exactly quantize_model with qat_epochs.
    QuantizeOptions q;
    q.model = out, q.out = qat_out, q.data = a.data, q.data_format = a.data_format, q.skip_bad = a.skip_bad;
    q.cache_mb = a.cache_mb;
    q.precision = rep.precision.precision;
    q.qat_epochs = a.qat_epochs.value_or(2), q.qat_lr = a.qat_lr.value_or(0.001), q.seed = a.seed;
    q.teacher = a.teacher;
    q.progress = a.progress;
    q.log = a.log;
    rep.qat = quantize_model(q);
  }
  rep.model = a.model;
  rep.test_accuracy = test.accuracy, rep.test_loss = test.loss;
  rep.val_accuracy = res.best_val_accuracy, rep.best_epoch = res.best_epoch;
  rep.train_samples_per_s = res.train_samples_per_s;
  rep.data_wait_fraction = res.data_wait_fraction;
  rep.history = res.epochs;
  rep.ranks = dist::world().size(), rep.ranks_detail = dist::world().describe();
  rep.skipped_images = d.skipped;
  rep.epochs = tc.epochs;
  rep.params = graph.param_count(), rep.macs = graph.macs();
  rep.checkpoint = out, rep.training_checkpoint = state_out;
  if (pruning) rep.prune = a.prune, rep.weight_sparsity = prune::weight_sparsity(graph).fraction();
  if (distillation) {
    workflow::finish_distillation(*distillation, a.log, distill_report);
    distill_report.student_params = graph.param_count();
    rep.distillation = distill_report;
  }
  if (const train::GradScaler* scaler = trainer.scaler()) {
    rep.loss_scaling = true;
    for (const train::EpochStats& e : res.epochs) rep.skipped_steps += e.skipped_steps;
    rep.loss_scale = scaler->scale();
  }
  rep.peak_memory_mib = peak_resident_mib();
  return rep;
}

std::string to_json(const TrainReport& r) {
  workflow::json j = {{"model", r.model},
                      {"peak_memory_mib", r.peak_memory_mib},
                      {"test_accuracy", r.test_accuracy},
                      {"test_loss", r.test_loss},
                      {"val_accuracy", r.val_accuracy},
                      {"best_epoch", r.best_epoch},
                      {"train_samples_per_s", r.train_samples_per_s},
                      {"data_wait_fraction", r.data_wait_fraction},
                      {"skipped_images", r.skipped_images},
                      {"epochs", r.epochs},
                      {"params", r.params},
                      {"macs", r.macs},
                      {"seconds", r.seconds},
                      {"checkpoint", r.checkpoint},
                      {"training_checkpoint", r.training_checkpoint}};
  if (!r.prune.empty()) j["prune"] = r.prune, j["weight_sparsity"] = r.weight_sparsity;
  if (r.distillation) j.update(workflow::distill_json(*r.distillation));
  j.update(workflow::precision_json(r.precision));
  if (r.qat) {
    j["test_accuracy_int8"] = r.qat->test_accuracy_int8;
    j["int8_checkpoint"] = r.qat->checkpoint;
    j["qat"] = workflow::json::parse(to_json(*r.qat));
  }
  if (r.loss_scaling) j["skipped_steps"] = r.skipped_steps, j["loss_scale"] = r.loss_scale;
  j["ranks"] = r.ranks, j["ranks_detail"] = r.ranks_detail;
  workflow::json history = workflow::json::array();
  for (const train::EpochStats& e : r.history)
    history.push_back({{"epoch", e.epoch},
                       {"train_loss", e.train_loss},
                       {"train_accuracy", e.train_accuracy},
                       {"val_loss", e.val_loss},
                       {"val_accuracy", e.val_accuracy},
                       {"seconds", e.seconds},
                       {"samples_per_s", e.samples_per_s},
                       {"step_losses", e.step_losses}});
  j["history"] = history;
  return j.dump();
}

}  // namespace nimble
