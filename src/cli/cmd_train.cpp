// nimble train: build a zoo model, train it on IDX data, evaluate on the test split, save the
// best checkpoint. Beside the model file it keeps a training checkpoint (`MODEL.train`: the same
// weights plus optimizer moments and loss-scaler state) for --resume, so the model file a user
// ships, quantizes or prunes holds the weights alone.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/common.hpp"
#include "cli/quantize_command.hpp"
#include "nimble/core/error.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/prune/gradual.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::cli {

namespace {

// --prune METHOD:AMOUNT[:OPTION] (magnitude:0.8[:layer|global], channel:0.5[:l1|l2|bn]) or nm:N:M.
prune::PruneConfig parse_prune_spec(const std::string& spec) {
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  for (std::string part; std::getline(ss, part, ':');) parts.push_back(part);
  const std::string usage = "--prune expects magnitude:S[:layer|global], channel:R[:l1|l2|bn] or nm:N:M, got '" + spec + "'";
  NIMBLE_CHECK(parts.size() >= 2 && parts.size() <= 3, usage);
  prune::PruneConfig cfg;
  cfg.method = prune::method_from_name(parts[0]);
  auto number = [&](const std::string& text) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    NIMBLE_CHECK(used == text.size() && used > 0, usage);
    return v;
  };
  if (cfg.method == prune::Method::nm) {
    NIMBLE_CHECK(parts.size() == 3, usage);
    const double n = number(parts[1]), m = number(parts[2]);
    NIMBLE_CHECK(n == std::floor(n) && m == std::floor(m) && n >= 1 && m >= n && m <= 64, "--prune nm:N:M needs 0 < N <= M <= 64");
    cfg.n = int(n), cfg.m = int(m);
    cfg.amount = 1.0 - n / m;
    return cfg;
  }
  cfg.amount = number(parts[1]);
  NIMBLE_CHECK(cfg.amount > 0 && cfg.amount < 1, "--prune: the amount must be in (0, 1), got " + parts[1]);
  if (parts.size() == 3) {
    if (cfg.method == prune::Method::magnitude) cfg.scope = prune::scope_from_name(parts[2]);
    else cfg.criterion = prune::criterion_from_name(parts[2]);
  }
  return cfg;
}

// Per-model recipe defaults (documented in the README); any flag overrides them.
struct Recipe {
  int64_t epochs;
  float lr;
  int64_t crop_padding;
  bool hflip;
  float label_smoothing;
};
Recipe recipe_for(const std::string& model) {
  if (model == "cnn") return {10, 0.05f, 0, true, 0.0f};  // random crops cost this small model ~1 point in 10 epochs
  if (model == "resnet") return {30, 0.1f, 2, true, 0.1f};
  return {30, 0.05f, 2, true, 0.1f};  // mobilenets
}

struct TrainArgs {
  std::string model = "cnn", data = kDefaultData, input, out, optimizer = "sgd", schedule = "cosine", precision = "auto";
  std::string resume, prune, qat_out;
  double prune_ramp = 0.5, qat_lr = 0.001;
  int64_t qat_epochs = 2;
  bool qat = false;
  double width = 1.0, dropout = 0.2, momentum = 0.9, weight_decay = 5e-4, clip = 0, erase = 0;
  double lr = -1, label_smoothing = -1, warmup_epochs = 0;
  int64_t depth = 0, epochs = -1, batch = 128, val = 5000, limit = 0, crop_padding = -1, step_epochs = 0;
  int hflip = -1;
  bool no_nesterov = false, json_out = false, quiet = false;
  uint64_t seed = 0;
  TeacherArgs teacher;  // distillation (nimble distill, or train --teacher)
};

// --resume: the run's settings come from the checkpoint; only these may be given again.
const char* const kResumeFlags[] = {"--resume", "--epochs", "--out", "--json", "--quiet"};

// `--resume` takes either the model file or its training checkpoint.
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

// The checkpoint's hyper-parameters back into the arguments that produced them.
void apply_hyper(const json& h, TrainArgs& a) {
  try {
    a.model = h.at("model").get<std::string>();
    a.width = h.at("width").get<double>();
    a.depth = h.at("depth").get<int64_t>();
    a.input = h.at("input").get<std::string>();
    if (a.epochs <= 0) a.epochs = h.at("epochs").get<int64_t>();
    a.batch = h.at("batch").get<int64_t>();
    a.lr = h.at("lr").get<double>();
    a.optimizer = h.at("optimizer").get<std::string>();
    a.schedule = h.at("schedule").get<std::string>();
    a.weight_decay = h.at("weight_decay").get<double>();
    a.label_smoothing = h.at("label_smoothing").get<double>();
    a.crop_padding = h.at("crop_padding").get<int64_t>();
    a.hflip = h.at("hflip").get<bool>() ? 1 : 0;
    a.erase = h.at("erase").get<double>();
    a.seed = h.at("seed").get<uint64_t>();
    a.val = h.at("val").get<int64_t>();
    a.data = h.at("data").get<std::string>();
    a.precision = h.at("precision").get<std::string>();
    a.momentum = h.at("momentum").get<double>();
    a.no_nesterov = !h.at("nesterov").get<bool>();
    a.clip = h.at("clip_grad").get<double>();
    a.warmup_epochs = h.at("warmup_epochs").get<double>();
    a.step_epochs = h.at("step_epochs").get<int64_t>();
    a.limit = h.at("limit").get<int64_t>();
    a.dropout = h.at("dropout").get<double>();
  } catch (const json::exception& e) {
    throw Error("cannot resume: the checkpoint's hyper-parameters are incomplete (" + std::string(e.what()) +
                "); it was not written by this version of nimble train");
  }
}

train::TrainState resume_state(const json& extra, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  train::TrainState st;
  try {
    const json& s = extra.at("train_state");
    st.epoch = s.at("epoch").get<int64_t>();
    st.step = s.at("step").get<int64_t>();
    st.optimizer_steps = s.at("optimizer_steps").get<int64_t>();
    st.best_val_accuracy = s.at("best_val_accuracy").get<double>();
    if (s.contains("loss_scaler")) st.loss_scaler = s["loss_scaler"].dump();
  } catch (const json::exception&) {
    throw Error("cannot resume: the checkpoint has no training state");
  }
  st.optimizer = tensors;
  return st;
}

train::EpochStats resumed_stats(const json& extra) {
  train::EpochStats s;
  s.epoch = extra["train_state"]["epoch"].get<int64_t>();
  s.val_accuracy = extra["train_state"]["best_val_accuracy"].get<double>();
  if (extra.contains("metrics") && extra["metrics"].contains("train_loss"))
    s.train_loss = extra["metrics"]["train_loss"].get<double>();
  return s;
}

// With --qat the float run is followed by quantization-aware fine-tuning; its int8 model goes
// next to the float one unless --qat-out says where.
std::string int8_file_for(const std::string& out) {
  const std::string sfx = ".nimble";
  const bool has_sfx = out.size() > sfx.size() && out.compare(out.size() - sfx.size(), sfx.size(), sfx) == 0;
  return (has_sfx ? out.substr(0, out.size() - sfx.size()) : out) + "-int8.nimble";
}

void run_train(TrainArgs a, const CLI::App& cmd) {
  std::optional<prune::PruneConfig> pruning;
  if (!a.prune.empty()) pruning = parse_prune_spec(a.prune);
  for (const char* flag : {"--qat-epochs", "--qat-lr", "--qat-out"})
    NIMBLE_CHECK(a.qat || cmd.get_option(flag)->count() == 0, std::string(flag) + " applies to --qat runs only");
  NIMBLE_CHECK(a.qat_epochs >= 1 && a.qat_epochs <= 1000, "--qat-epochs must be between 1 and 1000");
  NIMBLE_CHECK(a.qat_lr > 0 && std::isfinite(a.qat_lr), "--qat-lr must be positive");
  std::optional<LoadedModel> resumed;
  if (!a.resume.empty()) {
    for (const CLI::Option* o : cmd.get_options()) {
      if (o->count() == 0) continue;
      bool allowed = false;
      for (const char* f : kResumeFlags) allowed = allowed || o->check_name(f);
      NIMBLE_CHECK(allowed, o->get_name() + " cannot be combined with --resume: the run's settings come from the checkpoint");
    }
    const std::string state_file = training_checkpoint_for(a.resume);
    NIMBLE_CHECK(std::filesystem::exists(state_file),
                 "cannot resume " + a.resume + ": its training checkpoint " + state_file + " does not exist");
    resumed = load_model(state_file);
    NIMBLE_CHECK(resumed->extra.contains("hyper") && resumed->extra.contains("train_state"),
                 "cannot resume " + a.resume + ": " + state_file + " has no training state (not written by nimble train)");
    NIMBLE_CHECK(!resumed->extra["hyper"].contains("prune"),
                 "cannot resume " + a.resume + ": it was trained with --prune, whose schedule cannot be resumed");
    NIMBLE_CHECK(!resumed->extra["hyper"].contains("teacher"),
                 "cannot resume " + a.resume + ": it was distilled from a teacher, which resuming does not reload");
    apply_hyper(resumed->extra["hyper"], a);
    if (a.out.empty()) a.out = model_file_for(a.resume);
  }
  // A checkpoint as the starting point (nimble distill --student FILE): its architecture and
  // weights, trained on with this run's recipe.
  std::optional<LoadedModel> start;
  if (!resumed && (a.model.find('/') != std::string::npos || a.model.find(".nimble") != std::string::npos)) {
    start = load_model(a.model);
    NIMBLE_CHECK(!start->graph.meta.count("quantized"), a.model + " is int8 and cannot be trained");
  }
  const Recipe r = recipe_for(start ? start->extra.value("hyper", json::object()).value("model", "mobilenet") : a.model);
  data::IdxData d = load_data(a.data);
  data::ImageSet train_set = a.limit > 0 ? data::take(d.train, a.limit) : d.train;
  NIMBLE_CHECK(a.val >= 0 && a.val < train_set.size(), "--val must be smaller than the training set (" +
                                                           std::to_string(train_set.size()) + " samples)");
  data::Split split = data::split_validation(train_set, a.val, a.seed);
  data::Normalization norm = data::compute_normalization(split.train);

  zoo::ModelConfig mc;
  mc.name = a.model;
  mc.input = a.input.empty() ? d.train.sample_shape() : Shape::parse(a.input);
  mc.classes = d.train.num_classes;
  mc.width = a.width;
  mc.depth = a.depth;
  mc.dropout = a.dropout;
  mc.seed = a.seed;
  Graph graph = resumed ? std::move(resumed->graph) : start ? std::move(start->graph) : zoo::build(mc);
  NIMBLE_CHECK(graph.input_shape() == mc.input, "the checkpoint's model takes " + graph.input_shape().str() +
                                                     " but its data gives " + mc.input.str());

  train::TrainConfig tc;
  tc.epochs = a.epochs > 0 ? a.epochs : r.epochs;
  tc.batch = a.batch;
  tc.seed = a.seed;
  tc.progress = !a.quiet;
  tc.label_smoothing = float(a.label_smoothing >= 0 ? a.label_smoothing : r.label_smoothing);
  tc.optimizer.kind = a.optimizer;
  tc.optimizer.momentum = float(a.momentum);
  tc.optimizer.nesterov = !a.no_nesterov;
  tc.optimizer.weight_decay = float(a.weight_decay);
  tc.optimizer.clip_grad_norm = float(a.clip);
  tc.schedule.kind = a.schedule;
  tc.schedule.lr = float(a.lr > 0 ? a.lr : r.lr);
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  const int64_t steps_per_epoch = std::max<int64_t>(1, split.train.size() / a.batch);
  tc.schedule.warmup_steps = int64_t(a.warmup_epochs * steps_per_epoch);
  tc.schedule.step_size = a.step_epochs * steps_per_epoch;
  tc.augment.crop_padding = a.crop_padding >= 0 ? a.crop_padding : r.crop_padding;
  tc.augment.hflip = a.hflip >= 0 ? a.hflip != 0 : r.hflip;
  tc.augment.erase_prob = float(a.erase);
  NIMBLE_CHECK(a.erase >= 0 && a.erase <= 1, "--erase must be a probability in [0, 1]");
  NIMBLE_CHECK(tc.augment.crop_padding <= 64, "--crop-padding must be at most 64");

  const std::string out = a.out.empty() ? a.model + ".nimble" : a.out;
  const std::string qat_out = a.qat_out.empty() ? int8_file_for(out) : a.qat_out;
  if (a.qat) {
    const auto same = [](const std::string& x, const std::string& y) {
      return std::filesystem::weakly_canonical(x) == std::filesystem::weakly_canonical(y);
    };
    NIMBLE_CHECK(!same(qat_out, out) && !same(qat_out, training_checkpoint_for(out)),
                 "--qat-out must differ from the float model " + out + " and its training checkpoint");
  }
  choose_precision(a.precision);  // validates the name before anything is timed or printed
  const PrecisionChoice pc = choose_precision_for(a.precision, graph, tc.batch, Mode::train);
  tc.precision = pc.precision;

  json hyper = {{"model", a.model},        {"width", a.width},
                {"depth", zoo::resnet_depth(mc)}, {"input", mc.input.str()},
                {"classes", mc.classes},   {"epochs", tc.epochs},
                {"batch", tc.batch},       {"lr", tc.schedule.lr},
                {"optimizer", a.optimizer}, {"schedule", a.schedule},
                {"weight_decay", a.weight_decay}, {"label_smoothing", tc.label_smoothing},
                {"crop_padding", tc.augment.crop_padding}, {"hflip", tc.augment.hflip},
                {"erase", a.erase},        {"seed", a.seed},
                {"val", a.val},            {"data", a.data},
                {"precision", precision_name(pc.precision)},
                {"momentum", a.momentum},  {"nesterov", !a.no_nesterov},
                {"clip_grad", a.clip},     {"warmup_epochs", a.warmup_epochs},
                {"step_epochs", a.step_epochs}, {"limit", a.limit},
                {"dropout", a.dropout}};
  if (pruning) hyper["prune"] = a.prune, hyper["prune_config"] = pruning->describe(), hyper["prune_ramp"] = a.prune_ramp;
  if (!a.teacher.teacher.empty())
    hyper["teacher"] = a.teacher.teacher, hyper["temperature"] = a.teacher.temperature, hyper["alpha"] = a.teacher.alpha;
  auto extra_for = [&](const train::EpochStats& s, const train::TrainState& st) {
    json state = {{"epoch", st.epoch},
                  {"step", st.step},
                  {"optimizer_steps", st.optimizer_steps},
                  {"best_val_accuracy", st.best_val_accuracy}};
    if (!st.loss_scaler.empty()) state["loss_scaler"] = json::parse(st.loss_scaler);
    return json{{"hyper", hyper},
                {"normalization", normalization_json(norm)},
                {"metrics", {{"epoch", s.epoch}, {"val_accuracy", s.val_accuracy}, {"train_loss", s.train_loss}}},
                {"train_state", state}};
  };
  // The model file and, beside it, the training checkpoint; the model file last, so that a
  // model on disk always has its training checkpoint from the same epoch or later.
  const std::string state_out = training_checkpoint_for(out);
  auto save_both = [&](const Graph& g, json extra, const train::TrainState& st) {
    io::save_checkpoint(g, state_out, extra.dump(), st.optimizer);
    extra.erase("train_state");
    io::save_checkpoint(g, out, extra.dump());
  };

  train::Trainer trainer(graph, tc);  // validates the configuration before anything is printed
  if (pruning) trainer.add_hook(std::make_shared<prune::GradualPruning>(*pruning, a.prune_ramp));
  json distill_report;
  const auto distillation =
      make_distillation(a.teacher, graph, norm, split, d.test, tc.batch, tc.augment.any(), distill_report);
  if (distillation) trainer.add_hook(distillation);
  std::optional<train::TrainState> resumed_state;
  if (resumed) {
    resumed_state = resume_state(resumed->extra, resumed->state);
    trainer.resume(*resumed_state);
  }
  announce_precision(pc);
  if (resumed)
    note("resuming " + a.resume + " after epoch " + std::to_string(resumed->extra["train_state"]["epoch"].get<int64_t>()));
  note("nimble train: " + a.model + " (" + std::to_string(graph.param_count()) + " params, " +
       std::to_string(graph.macs()) + " MACs/sample) on " + std::to_string(split.train.size()) + " samples, " +
       std::to_string(split.val.size()) + " for validation, " + std::to_string(tc.epochs) + " epochs, batch " +
       std::to_string(tc.batch) + ", lr " + std::to_string(tc.schedule.lr) + " (" + tc.schedule.kind + ")");
  // Keep the best epoch on disk as training goes, with what resuming needs, so an interrupted run
  // leaves a model and can be continued.
  std::optional<std::pair<train::EpochStats, train::TrainState>> best;
  if (resumed) best.emplace(resumed_stats(resumed->extra), *resumed_state);
  trainer.on_best = [&](const Graph& g, const train::EpochStats& s, const train::TrainState& st) {
    best.emplace(s, st);
    save_both(g, extra_for(s, st), st);
  };
  const auto t0 = std::chrono::steady_clock::now();
  train::TrainResult res = trainer.fit(split.train, split.val, norm);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  train::EvalResult test = train::evaluate(graph, d.test, norm, 500, pc.precision);
  json extra = extra_for(best->first, best->second);
  extra["metrics"]["test_accuracy"] = test.accuracy;
  save_both(graph, extra, best->second);
  if (pruning && pruning->method == prune::Method::channel) {
    // The model file gets the physically smaller graph (it computes what the masked one does);
    // the training checkpoint keeps the masked dense graph the optimizer state belongs to.
    graph = prune::remove_channels(graph);
    extra.erase("train_state");
    io::save_checkpoint(graph, out, extra.dump());
  }
  if (pruning)
    note("pruned " + pruning->describe() + ": weight sparsity " +
         std::to_string(prune::weight_sparsity(graph).fraction()) + ", " + std::to_string(graph.param_count()) +
         " params, " + std::to_string(graph.macs()) + " MACs/sample");
  note("test accuracy " + std::to_string(test.accuracy) + " (best epoch " + std::to_string(res.best_epoch) +
       "), " + std::to_string(int64_t(res.train_samples_per_s)) + " train samples/s; saved " + out +
       " (and " + state_out + " for --resume)");
  json qat_report;
  if (a.qat) {
    // The saved float model, fine-tuned with fake quantization in this run's precision (and from
    // its teacher, if any) and converted: exactly `nimble quantize OUT --qat-epochs N`.
    QuantizeArgs q;
    q.model = out;
    q.out = qat_out;
    q.data = a.data;
    q.precision = precision_name(pc.precision);
    q.qat_epochs = a.qat_epochs;
    q.qat_lr = a.qat_lr;
    q.seed = a.seed;
    q.teacher = a.teacher;
    q.json_out = a.json_out || a.quiet;
    qat_report = quantize_checkpoint(q);
  }
  if (a.json_out) {
    json j = {{"model", a.model},
                {"test_accuracy", test.accuracy},
                {"test_loss", test.loss},
                {"val_accuracy", res.best_val_accuracy},
                {"best_epoch", res.best_epoch},
                {"train_samples_per_s", res.train_samples_per_s},
                {"epochs", tc.epochs},
                {"params", graph.param_count()},
                {"macs", graph.macs()},
                {"seconds", seconds},
                {"checkpoint", out},
                {"training_checkpoint", state_out}};
    if (pruning) j["prune"] = a.prune, j["weight_sparsity"] = prune::weight_sparsity(graph).fraction();
    if (distillation) {
      finish_distillation_report(*distillation, distill_report);
      j.update(distill_report);
      j["student_params"] = graph.param_count();
    }
    j.update(precision_json(pc));
    if (a.qat) {
      j["test_accuracy_int8"] = qat_report["test_accuracy_int8"];
      j["int8_checkpoint"] = qat_out;
      j["qat"] = qat_report;
    }
    int64_t skipped = 0;
    for (auto& e : res.epochs) skipped += e.skipped_steps;
    if (trainer.scaler()) {
      j["skipped_steps"] = skipped;
      j["loss_scale"] = trainer.scaler()->scale();
    }
    print_json(j);
  }
}

// The options of `train`; `distill` has the same with --student for --model and a required --teacher.
void add_train_options(CLI::App* c, const std::shared_ptr<TrainArgs>& a, bool distill) {
  if (distill)
    c->add_option("--student", a->model, "the student: a zoo model (cnn | resnet | mobilenet_v1 | mobilenet_v2) or a "
                                         "checkpoint to continue from")
        ->capture_default_str();
  else
    c->add_option("--model", a->model, "cnn | resnet | mobilenet_v1 | mobilenet_v2")->capture_default_str();
  c->add_option("--data", a->data, "directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")->capture_default_str();
  c->add_option("--input", a->input, "model input CxHxW (default: the data's sample shape)");
  c->add_option("--width", a->width, "channel width multiplier")->capture_default_str();
  c->add_option("--depth", a->depth, "resnet depth: 6n+2 (CIFAR layout; default 20 below 64 px) or 18 / 34 (ImageNet "
                                     "layout; default 18 from 64 px on)");
  c->add_option("--dropout", a->dropout, "dropout before the classifier (mobilenets)")->capture_default_str();
  c->add_option("--epochs", a->epochs, "epochs (default per model: cnn 10, others 30)")->check(positive_number());
  c->add_option("--batch", a->batch, "batch size")->capture_default_str();
  c->add_option("--lr", a->lr, "peak learning rate (default per model: cnn 0.05, resnet 0.1, mobilenets 0.05)")
      ->check(positive_number());
  c->add_option("--optimizer", a->optimizer, "sgd | adamw")->capture_default_str();
  c->add_option("--momentum", a->momentum, "SGD momentum")->capture_default_str();
  c->add_flag("--no-nesterov", a->no_nesterov, "plain momentum instead of Nesterov");
  c->add_option("--weight-decay", a->weight_decay, "weight decay")->capture_default_str();
  c->add_option("--schedule", a->schedule, "cosine | step | constant")->capture_default_str();
  c->add_option("--warmup-epochs", a->warmup_epochs, "linear warm-up length in epochs")->capture_default_str();
  c->add_option("--step-epochs", a->step_epochs, "step schedule: decay by 10x every N epochs");
  c->add_option("--clip-grad", a->clip, "clip the global gradient norm (0: off)")->capture_default_str();
  c->add_option("--label-smoothing", a->label_smoothing, "label smoothing (default per model)")->check(CLI::Range(0.0, 0.99));
  c->add_option("--crop-padding", a->crop_padding, "random-crop padding in pixels (default per model: cnn 0, others 2)")->check(CLI::Range(0, 64));
  c->add_option("--hflip", a->hflip, "random horizontal flip 0/1 (default 1)")->check(CLI::Range(0, 1));
  c->add_option("--erase", a->erase, "random-erasing probability")->capture_default_str();
  c->add_option("--val", a->val, "training samples held out for validation")->capture_default_str()->check(non_negative_number());
  c->add_option("--limit", a->limit, "use only the first N training samples (0: all)")->check(non_negative_number());
  c->add_option("--seed", a->seed, "seed for initialisation, shuffling, augmentation")->capture_default_str();
  c->add_option("--out", a->out, "checkpoint path (default MODEL.nimble)");
  c->add_option("--prune", a->prune,
                "prune while training: magnitude:S[:global|layer], channel:R[:l1|l2|bn] or nm:N:M (sparsity rises on "
                "the cubic schedule; channel pruning saves the physically smaller model)");
  c->add_option("--prune-ramp", a->prune_ramp, "fraction of the training steps over which sparsity rises to the target")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  c->add_flag("--qat", a->qat,
              "end with quantization-aware training: --qat-epochs of fine-tuning with fake quantization, then the int8 "
              "model is written to --qat-out (as nimble quantize --qat-epochs would)");
  c->add_option("--qat-epochs", a->qat_epochs, "epochs of quantization-aware fine-tuning after the float epochs")
      ->capture_default_str();
  c->add_option("--qat-lr", a->qat_lr, "learning rate of quantization-aware fine-tuning (cosine)")->capture_default_str();
  c->add_option("--qat-out", a->qat_out, "where --qat writes the int8 model (default OUT-int8.nimble)");
  add_precision_option(c, a->precision);
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->add_flag("--quiet", a->quiet, "no progress output");
  if (!distill)  // a distillation run is not resumable: the teacher is not saved with it
    c->add_option("--resume", a->resume,
                  "continue the run saved in this checkpoint (its settings; --epochs may raise the total)");
  add_teacher_options(c, a->teacher, distill);
  c->callback([a, c] { run_train(*a, *c); });
}
}  // namespace

void add_train(CLI::App& app) {
  add_train_options(app.add_subcommand("train", "Train a zoo model on an IDX data set (default: Fashion-MNIST)"),
                    std::make_shared<TrainArgs>(), false);
}

void add_distill(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  a->model = "mobilenet_v2";
  add_train_options(app.add_subcommand("distill", "Train a small student from a trained teacher (knowledge distillation)"),
                    a, true);
}

}  // namespace nimble::cli
