// Model <-> `.nimble`: the typed metadata is read and written here and nowhere else. The file's
// "extra" object keeps the keys earlier versions wrote (hyper, normalization, metrics, pruning,
// quantization, train_state), so old files load and new files load in old builds.
#include "nimble/model.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "io/content_hash.hpp"
#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/io/onnx.hpp"

namespace nimble {

using json = nlohmann::json;

const char* channel_order_name(ChannelOrder order) { return order == ChannelOrder::bgr ? "bgr" : "rgb"; }

ChannelOrder channel_order_from_name(const std::string& name) {
  if (name == "rgb") return ChannelOrder::rgb;
  if (name == "bgr") return ChannelOrder::bgr;
  throw Error("unknown channel order '" + name + "' (expected rgb or bgr)");
}

namespace {

// v as T. nlohmann converts a float to an integer with a plain cast, undefined behaviour outside the
// integer's range: a file's 1e300 where an integer belongs is an error instead.
template <class T> T checked(const json& v, const char* what) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (v.is_number_float()) {
      // [min, 2^digits): exactly the doubles that convert (digits excludes the sign bit).
      const double d = v.get<double>(), lo = double(std::numeric_limits<T>::min());
      if (!(d >= lo && d < std::ldexp(1.0, std::numeric_limits<T>::digits)))
        throw Error(std::string(what) + ": " + v.dump() + " is out of the integer range");
    }
  }
  return v.get<T>();
}

// j[key] as T, or `fallback` when j has no such key (json::value, with checked's range check).
template <class T> T value_of(const json& j, const char* key, T fallback) {
  if (!j.is_object()) throw Error(std::string("expected an object holding '") + key + "'");
  const auto it = j.find(key);
  return it == j.end() ? fallback : checked<T>(*it, key);
}

json recipe_json(const TrainRecipe& r, const std::optional<DistillationRecord>& d) {
  json h = {{"model", r.model},
            {"width", r.width},
            {"depth", r.depth},
            {"input", r.input.str()},
            {"classes", r.classes},
            {"epochs", r.epochs},
            {"batch", r.batch},
            {"lr", r.lr},
            {"optimizer", r.optimizer},
            {"schedule", r.schedule},
            {"weight_decay", r.weight_decay},
            {"label_smoothing", r.label_smoothing},
            {"crop_padding", r.crop_padding},
            {"hflip", r.hflip},
            {"erase", r.erase},
            {"crop_scale", r.crop_scale},
            {"jitter", r.jitter},
            {"seed", r.seed},
            {"val", r.val},
            {"data", r.data},
            {"precision", precision_name(r.precision)},
            {"momentum", r.momentum},
            {"nesterov", r.nesterov},
            {"clip_grad", r.clip_grad},
            {"warmup_epochs", r.warmup_epochs},
            {"step_epochs", r.step_epochs},
            {"limit", r.limit},
            {"dropout", r.dropout}};
  if (!r.prune.empty()) h["prune"] = r.prune, h["prune_config"] = r.prune_config, h["prune_ramp"] = r.prune_ramp;
  if (d) {
    h["teacher"] = d->teacher, h["temperature"] = d->temperature, h["alpha"] = d->alpha;
    if (!d->hints.empty()) h["hints"] = d->hints, h["hint_weight"] = d->hint_weight, h["hint_lr"] = d->hint_lr;
    if (d->cached_logits) h["cached_teacher_logits"] = true;
  }
  return h;
}

// Every key optional: files from earlier versions lack some.
TrainRecipe recipe_from(const json& h) {
  TrainRecipe r;
  r.model = value_of(h, "model", r.model);
  r.width = value_of(h, "width", r.width);
  r.depth = value_of(h, "depth", r.depth);
  if (h.contains("input")) r.input = Shape::parse(h["input"].get<std::string>());
  r.classes = value_of(h, "classes", r.classes);
  r.epochs = value_of(h, "epochs", r.epochs);
  r.batch = value_of(h, "batch", r.batch);
  r.lr = value_of(h, "lr", r.lr);
  r.optimizer = value_of(h, "optimizer", r.optimizer);
  r.schedule = value_of(h, "schedule", r.schedule);
  r.weight_decay = value_of(h, "weight_decay", r.weight_decay);
  r.label_smoothing = value_of(h, "label_smoothing", r.label_smoothing);
  r.crop_padding = value_of(h, "crop_padding", r.crop_padding);
  r.hflip = value_of(h, "hflip", r.hflip);
  r.erase = value_of(h, "erase", r.erase);
  r.crop_scale = value_of(h, "crop_scale", r.crop_scale);
  r.jitter = value_of(h, "jitter", r.jitter);
  r.seed = value_of(h, "seed", r.seed);
  r.val = value_of(h, "val", r.val);
  r.data = value_of(h, "data", r.data);
  if (h.contains("precision")) r.precision = precision_from_name(h["precision"].get<std::string>());
  r.momentum = value_of(h, "momentum", r.momentum);
  r.nesterov = value_of(h, "nesterov", r.nesterov);
  r.clip_grad = value_of(h, "clip_grad", r.clip_grad);
  r.warmup_epochs = value_of(h, "warmup_epochs", r.warmup_epochs);
  r.step_epochs = value_of(h, "step_epochs", r.step_epochs);
  r.limit = value_of(h, "limit", r.limit);
  r.dropout = value_of(h, "dropout", r.dropout);
  r.prune = value_of(h, "prune", r.prune);
  r.prune_config = value_of(h, "prune_config", r.prune_config);
  r.prune_ramp = value_of(h, "prune_ramp", r.prune_ramp);
  return r;
}

json metrics_json(const Metrics& m) {
  json j = json::object();
  if (m.epoch) j["epoch"] = *m.epoch;
  if (m.val_accuracy) j["val_accuracy"] = *m.val_accuracy;
  if (m.train_loss) j["train_loss"] = *m.train_loss;
  if (m.test_accuracy) j["test_accuracy"] = *m.test_accuracy;
  return j;
}

Metrics metrics_from(const json& j) {
  Metrics m;
  if (j.contains("epoch")) m.epoch = checked<int64_t>(j["epoch"], "epoch");
  if (j.contains("val_accuracy")) m.val_accuracy = j["val_accuracy"].get<double>();
  if (j.contains("train_loss")) m.train_loss = j["train_loss"].get<double>();
  if (j.contains("test_accuracy")) m.test_accuracy = j["test_accuracy"].get<double>();
  return m;
}

json pruning_json(const PruningRecord& p) {
  return {{"method", p.method},
          {"config", p.config},
          {"amount", p.amount},
          {"finetune_epochs", p.finetune_epochs},
          {"teacher", p.teacher.empty() ? json() : json(p.teacher)},
          {"source", p.source},
          {"test_accuracy_before", p.test_accuracy_before},
          {"weight_sparsity", p.weight_sparsity}};
}

PruningRecord pruning_from(const json& j) {
  PruningRecord p;
  p.method = value_of(j, "method", p.method);
  p.config = value_of(j, "config", p.config);
  p.amount = value_of(j, "amount", p.amount);
  p.finetune_epochs = value_of(j, "finetune_epochs", p.finetune_epochs);
  if (j.contains("teacher") && j["teacher"].is_string()) p.teacher = j["teacher"].get<std::string>();
  p.source = value_of(j, "source", p.source);
  p.test_accuracy_before = value_of(j, "test_accuracy_before", p.test_accuracy_before);
  p.weight_sparsity = value_of(j, "weight_sparsity", p.weight_sparsity);
  return p;
}

json quantization_json(const QuantizationRecord& q) {
  return {{"mode", q.mode},
          {"observer", q.observer},
          {"qat_epochs", q.qat_epochs},
          {"calibration_samples", q.calibration_samples},
          {"layers_kept_float", q.layers_kept_float},
          {"source", q.source},
          {"test_accuracy_fp32", q.test_accuracy_fp32}};
}

QuantizationRecord quantization_from(const json& j) {
  QuantizationRecord q;
  q.mode = value_of(j, "mode", q.mode);
  q.observer = value_of(j, "observer", q.observer);
  q.qat_epochs = value_of(j, "qat_epochs", q.qat_epochs);
  q.calibration_samples = value_of(j, "calibration_samples", q.calibration_samples);
  q.layers_kept_float = value_of(j, "layers_kept_float", q.layers_kept_float);
  q.source = value_of(j, "source", q.source);
  q.test_accuracy_fp32 = value_of(j, "test_accuracy_fp32", q.test_accuracy_fp32);
  return q;
}

json training_state_json(const train::TrainState& st) {
  json s = {{"epoch", st.epoch},
            {"step", st.step},
            {"optimizer_steps", st.optimizer_steps},
            {"best_val_accuracy", st.best_val_accuracy}};
  if (!st.loss_scaler.empty()) s["loss_scaler"] = json::parse(st.loss_scaler);
  if (!st.kernel_choices.empty()) s["kernel_choices"] = json::parse(st.kernel_choices);
  if (!st.settings.empty()) s["settings"] = st.settings;
  return s;
}

train::TrainState training_state_from(const json& s, const io::NamedTensors& tensors) {
  train::TrainState st;
  st.epoch = checked<int64_t>(s.at("epoch"), "epoch");
  st.step = checked<int64_t>(s.at("step"), "step");
  st.optimizer_steps = checked<int64_t>(s.at("optimizer_steps"), "optimizer_steps");
  st.best_val_accuracy = s.at("best_val_accuracy").get<double>();
  if (s.contains("loss_scaler")) st.loss_scaler = s["loss_scaler"].dump();
  if (s.contains("kernel_choices")) st.kernel_choices = s["kernel_choices"].dump();
  if (s.contains("settings")) st.settings = s["settings"].get<std::map<std::string, std::string>>();
  // One list on disk: the optimizer's tensors, then the hooks'.
  for (const auto& [name, t] : tensors)  // a Tensor copy shares its buffer
    (name.rfind("optimizer.", 0) == 0 ? st.optimizer : st.hook_tensors).emplace_back(name, t);
  return st;
}

json extra_json(const Model& m, bool with_training_state) {
  json extra = json::object();
  const Provenance& p = m.provenance;
  if (p.recipe) extra["hyper"] = recipe_json(*p.recipe, p.distillation);
  const data::Normalization& n = m.preprocessing.normalization;
  if (!n.mean.empty()) extra["normalization"] = {{"mean", n.mean}, {"std", n.std}};
  if (m.preprocessing.channel_order != ChannelOrder::rgb)
    extra["channel_order"] = channel_order_name(m.preprocessing.channel_order);
  if (m.preprocessing.fit != data::FitMode::crop) extra["fit"] = data::fit_mode_name(m.preprocessing.fit);
  if (!m.class_names.empty()) extra["class_names"] = m.class_names;
  const json metrics = metrics_json(p.metrics);
  if (!metrics.empty()) extra["metrics"] = metrics;
  if (p.pruning) extra["pruning"] = pruning_json(*p.pruning);
  if (p.quantization) extra["quantization"] = quantization_json(*p.quantization);
  if (with_training_state && m.training_state) extra["train_state"] = training_state_json(*m.training_state);
  return extra;
}

void read_extra(Model& m, const json& extra, const io::NamedTensors& state) {
  if (extra.contains("hyper")) {
    const json& h = extra["hyper"];
    m.provenance.recipe = recipe_from(h);
    if (h.contains("teacher")) {
      DistillationRecord d;
      d.teacher = h["teacher"].get<std::string>();
      d.temperature = value_of(h, "temperature", d.temperature);
      d.alpha = value_of(h, "alpha", d.alpha);
      if (h.contains("hints")) d.hints = h["hints"].get<std::vector<std::string>>();
      d.hint_weight = value_of(h, "hint_weight", d.hint_weight);
      d.hint_lr = value_of(h, "hint_lr", d.hint_lr);
      d.cached_logits = value_of(h, "cached_teacher_logits", d.cached_logits);
      m.provenance.distillation = d;
    }
  }
  if (extra.contains("normalization")) {
    data::Normalization& n = m.preprocessing.normalization;
    n.mean = extra["normalization"].at("mean").get<std::vector<float>>();
    n.std = extra["normalization"].at("std").get<std::vector<float>>();
    NIMBLE_CHECK(n.mean.size() == n.std.size(), "normalisation mean and std differ in length");
    for (float s : n.std) NIMBLE_CHECK(s > 0, "a normalisation std is not positive");
  }
  if (extra.contains("channel_order"))
    m.preprocessing.channel_order = channel_order_from_name(extra["channel_order"].get<std::string>());
  if (extra.contains("fit")) m.preprocessing.fit = data::parse_fit_mode(extra["fit"].get<std::string>());
  if (extra.contains("class_names")) m.class_names = extra["class_names"].get<std::vector<std::string>>();
  if (extra.contains("metrics")) m.provenance.metrics = metrics_from(extra["metrics"]);
  if (extra.contains("pruning")) m.provenance.pruning = pruning_from(extra["pruning"]);
  if (extra.contains("quantization")) m.provenance.quantization = quantization_from(extra["quantization"]);
  if (extra.contains("train_state")) m.training_state = training_state_from(extra["train_state"], state);
}

}  // namespace

Model Model::load(const std::string& path) {
  if (io::is_onnx_path(path)) {
    Model m = io::import_onnx(path);
    std::error_code ec;
    m.file_size = int64_t(std::filesystem::file_size(path, ec));
    return m;
  }
  io::Checkpoint ck = io::load_checkpoint(path);
  Model m(std::move(ck.graph));
  m.file_size = ck.file_size;
  try {
    read_extra(m, json::parse(ck.extra_json), ck.state);
  } catch (const json::exception& e) {
    throw Error("checkpoint " + path + ": malformed metadata (" + e.what() + ")");
  } catch (const Error& e) {
    throw Error("checkpoint " + path + ": " + e.what());
  }
  const size_t channels = size_t(m.input_shape()[0]);
  const data::Normalization& n = m.preprocessing.normalization;
  NIMBLE_CHECK(n.mean.empty() || n.mean.size() == channels, "checkpoint " + path + ": its normalisation has " +
                                                                std::to_string(n.mean.size()) +
                                                                " channels, its input " + std::to_string(channels));
  NIMBLE_CHECK(m.class_names.empty() || int64_t(m.class_names.size()) == m.num_classes(),
               "checkpoint " + path + ": it names " + std::to_string(m.class_names.size()) + " classes for " +
                   std::to_string(m.num_classes()) + " outputs");
  return m;
}

void Model::save(const std::string& path) const {
  // A diverged run must not replace a good file with a NaN model.
  for (const auto& [name, p] : graph.named_params()) {
    if (p->data.dtype() != DType::f32) continue;
    const float* v = p->data.data<float>();
    const int64_t n = p->data.numel();
    const int64_t bad = std::find_if(v, v + n, [](float x) { return !std::isfinite(x); }) - v;
    NIMBLE_CHECK(bad == n, "refusing to write " + path + ": parameter " + name + " holds " +
                               std::to_string(v[bad < n ? bad : 0]) +
                               " (the model diverged); the file there is unchanged");
  }
  io::NamedTensors state;
  if (training_state) {
    state = training_state->optimizer;
    state.insert(state.end(), training_state->hook_tensors.begin(), training_state->hook_tensors.end());
  }
  io::save_checkpoint(graph, path, extra_json(*this, true).dump(), state);
}

std::optional<Precision> Model::trained_precision() const {
  if (provenance.recipe) return provenance.recipe->precision;
  return std::nullopt;
}

Model Model::clone() const {
  Model m = *this;
  m.graph = graph.clone();
  if (training_state) {
    for (auto& [name, t] : m.training_state->optimizer) t = t.clone();
    for (auto& [name, t] : m.training_state->hook_tensors) t = t.clone();
  }
  return m;
}

int64_t Model::model_file_size() const {
  if (!training_state) return file_size;
  // Measured by writing it: the bitmask encoding of sparse tensors makes sizes data-dependent.
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path() / ("nimble-size-" + std::to_string(::getpid()) + ".tmp");
  io::save_checkpoint(graph, tmp.string(), extra_json(*this, false).dump());
  const int64_t size = int64_t(std::filesystem::file_size(tmp));
  std::filesystem::remove(tmp);
  return size;
}

namespace {
uint64_t add_tensor(uint64_t h, const std::string& name, const Tensor& t) {
  h = io::fnv1a(name + "|" + t.shape().str() + "|", h);
  return io::fnv1a(std::string(static_cast<const char*>(t.raw()), size_t(t.nbytes())), h);
}
}  // namespace

std::string Model::weights_fingerprint() const {
  uint64_t h = io::fnv1a("weights");
  for (const auto& [name, p] : graph.named_params()) h = add_tensor(h, name, p->data);
  return io::hex(h);
}

std::string Model::training_state_fingerprint() const {
  if (!training_state) return "";
  const train::TrainState& st = *training_state;
  uint64_t h = io::fnv1a(training_state_json(st).dump());  // steps, loss scaler, kernel choices
  for (const auto& [name, t] : st.optimizer) h = add_tensor(h, name, t);
  for (const auto& [name, t] : st.hook_tensors) h = add_tensor(h, name, t);
  return io::hex(h);
}

std::string metadata_json(const Model& model) { return extra_json(model, true).dump(); }

}  // namespace nimble
