// nimble quantize: static post-training int8 quantization of a checkpoint — calibrate on training
// samples, convert, evaluate both models on the test split, time both, save the int8 model.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "cli/common.hpp"
#include "cli/quantize_command.hpp"
#include "nimble/core/error.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::cli {

namespace {

std::set<std::string> split_names(const std::string& list) {
  std::set<std::string> names;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) names.insert(item);
  return names;
}

json layers_json(const quant::Selection& sel) {
  json layers = json::array();
  for (const quant::LayerReport& r : sel.layers)
    layers.push_back({{"name", r.name}, {"op", r.op}, {"precision", r.int8 ? "int8" : "float"}, {"reason", r.reason},
                      {"float_ms_b1", r.float_ms_b1}, {"int8_ms_b1", r.int8_ms_b1}, {"float_ms_big", r.float_ms_big},
                      {"int8_ms_big", r.int8_ms_big},
                      {"accuracy_drop_alone", r.accuracy_drop_alone >= 0 ? json(r.accuracy_drop_alone) : json()}});
  return layers;
}

}  // namespace

json quantize_checkpoint(const QuantizeArgs& a) {
  NIMBLE_CHECK(!a.out.empty(), "--out is required (the int8 model is written there)");
  NIMBLE_CHECK(!a.dynamic || (a.qat_epochs == 0 && a.max_drop < 0),
               "--dynamic quantizes without calibration or training: it takes neither --qat-epochs nor --max-drop");
  NIMBLE_CHECK(a.calib >= 1 && a.calib <= 60000, "--calib must be between 1 and 60000 samples");
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  const quant::ObserverKind observer = quant::observer_from_name(a.observer);
  LoadedModel m = load_model(a.model);
  NIMBLE_CHECK(!m.graph.meta.count("quantized"), a.model + " is already quantized");
  const data::Normalization norm = normalization_of(m.extra);
  data::IdxData d = load_data(a.data);
  NIMBLE_CHECK(d.train.sample_shape() == m.graph.input_shape(), "the data's samples are " + d.train.sample_shape().str() +
                                                                    " but the model takes " + m.graph.input_shape().str());
  const data::Split split = training_split(m.extra, d.train);
  // Calibration samples: a seeded random subset of the training part of that split.
  const data::ImageSet calib = data::split_validation(split.train, std::min(a.calib, split.train.size()), a.seed).val;
  NIMBLE_CHECK(a.max_drop < 0 || split.val.size() > 0, "--max-drop needs a validation split, and " + a.model +
                                                           " was trained without one (--val 0)");

  quant::QuantizeOptions qo;
  qo.observer = observer;
  qo.selection.keep_float = split_names(a.keep_float);
  const std::vector<std::string> layers = quant::quantizable_layers(quant::prepare(m.graph));
  for (const std::string& name : qo.selection.keep_float) {
    if (std::find(layers.begin(), layers.end(), name) != layers.end()) continue;
    std::string known;
    for (const std::string& l : layers) known += (known.empty() ? "" : ", ") + l;
    throw Error("--keep-float: " + a.model + " has no quantizable layer '" + name + "' (it has " + known + ")");
  }
  qo.selection.speed = !a.no_speed_gate;
  qo.selection.big_batch = a.batch;
  if (a.max_drop >= 0) {
    qo.selection.max_drop_points = a.max_drop;
    qo.selection.accuracy = [&](const Graph& g) { return train::evaluate(g, split.val, norm, 500, Precision::fp32).accuracy; };
  }
  NIMBLE_CHECK(a.qat_epochs >= 0 && a.qat_epochs <= 1000, "--qat-epochs must be between 0 and 1000");
  NIMBLE_CHECK(a.qat_lr > 0 && std::isfinite(a.qat_lr), "--qat-lr must be positive");
  std::optional<PrecisionChoice> qat_precision;
  std::shared_ptr<distill::Distillation> distillation;
  json distill_report;
  NIMBLE_CHECK(a.teacher.teacher.empty() || a.qat_epochs > 0, "--teacher distils during quantization-aware training: give --qat-epochs");
  if (a.qat_epochs > 0) {
    // Fine-tuning with fake quantization: the run's own recipe (batch, augmentation, weight
    // decay) at a small learning rate, in the precision --precision picks.
    choose_precision(a.precision);  // validate the name before any work
    qo.fine_tune = [&](Graph& g) {
      train::TrainConfig tc = fine_tune_config(m.extra, a.qat_epochs, a.qat_lr, a.seed, !a.json_out);
      qat_precision = choose_precision_for(a.precision, g, tc.batch, Mode::train);
      announce_precision(*qat_precision);
      tc.precision = qat_precision->precision;
      note("quantization-aware training: " + std::to_string(tc.epochs) + " epochs at lr " + std::to_string(a.qat_lr));
      train::Trainer trainer(g, tc);
      distillation = make_distillation(a.teacher, g, norm, split, d.test, tc.batch, tc.augment.any(), distill_report);
      if (distillation) trainer.add_hook(distillation);
      trainer.fit(split.train, split.val, norm);
      if (distillation) finish_distillation_report(*distillation, distill_report);
    };
  }
  note("nimble quantize: " + a.model +
       (a.dynamic ? std::string(", dynamic (linear layers, activations quantized per batch)")
                  : ", calibrating on " + std::to_string(calib.size()) + " training samples (" +
                        quant::observer_name(observer) + ")") +
       (qo.selection.speed ? "; timing each layer in int8 and in float" : "") +
       (qo.selection.accuracy ? "; measuring each layer's validation accuracy" : ""));
  const quant::QuantizedModel qm =
      a.dynamic ? quant::quantize_dynamic(m.graph, qo.selection) : quant::quantize(m.graph, calib, norm, qo);
  const Graph& q = qm.graph;
  const quant::Selection& sel = qm.selection;
  if (!sel.tolerance_met)
    note("warning: no configuration met --max-drop " + std::to_string(a.max_drop) + "; saving the best found");
  const std::set<std::string>& kept = sel.keep_float;

  const train::EvalResult fp32 = train::evaluate(m.graph, d.test, norm, 500, Precision::fp32);
  const train::EvalResult int8 = train::evaluate(q, d.test, norm, 500, Precision::fp32);
  const std::vector<Speed> speeds = measure_speeds({&m.graph, &q}, a.batch, a.iters);
  const Speed &s32 = speeds[0], &s8 = speeds[1];

  json extra = m.extra;
  extra.erase("train_state");  // an int8 model is not trained further
  extra["quantization"] = {{"mode", a.dynamic ? "dynamic" : "static"},
                           {"observer", quant::observer_name(observer)},
                           {"qat_epochs", a.qat_epochs},
                           {"calibration_samples", calib.size()},
                           {"layers_kept_float", std::vector<std::string>(kept.begin(), kept.end())},
                           {"source", a.model},
                           {"test_accuracy_fp32", fp32.accuracy}};
  extra["metrics"]["test_accuracy"] = int8.accuracy;
  io::save_checkpoint(q, a.out, extra.dump());
  const int64_t size_int8 = io::load_checkpoint(a.out).file_size;  // read back: it loads without calibration
  const int64_t size_fp32 = model_file_size(m, a.out);

  print_layer_report(sel);
  note("test accuracy fp32 " + std::to_string(fp32.accuracy) + " -> int8 " + std::to_string(int8.accuracy) +
       "; batch-1 latency " + std::to_string(s32.latency_ms) + " -> " + std::to_string(s8.latency_ms) + " ms; batch-" +
       std::to_string(a.batch) + " " + std::to_string(int64_t(s32.throughput)) + " -> " +
       std::to_string(int64_t(s8.throughput)) + " samples/s; " + std::to_string(size_fp32) + " -> " +
       std::to_string(size_int8) + " bytes; saved " + a.out);
  json j = {{"model", a.model},
            {"checkpoint", a.out},
            {"mode", a.dynamic ? "dynamic" : "static"},
            {"observer", quant::observer_name(observer)},
            {"calibration_samples", a.dynamic ? 0 : calib.size()},
            {"qat_epochs", a.qat_epochs},
            {"test_accuracy_fp32", fp32.accuracy},
            {"test_accuracy_int8", int8.accuracy},
            {"latency_ms_fp32", s32.latency_ms},
            {"latency_ms_int8", s8.latency_ms},
            {"batch", a.batch},
            {"throughput_fp32", s32.throughput},
            {"throughput_int8", s8.throughput},
            {"size_bytes_fp32", size_fp32},
            {"size_bytes_int8", size_int8},
            {"layers_kept_float", std::vector<std::string>(kept.begin(), kept.end())},
            {"layers", layers_json(sel)},
            {"val_accuracy_fp32", sel.float_accuracy >= 0 ? json(sel.float_accuracy) : json()},
            {"val_accuracy_int8", sel.int8_accuracy >= 0 ? json(sel.int8_accuracy) : json()},
            {"tolerance_met", sel.tolerance_met},
            {"speed_gate", {{"float_ms_b1", sel.float_ms_b1}, {"int8_ms_b1", sel.int8_ms_b1},
                            {"float_ms_big", sel.float_ms_big}, {"int8_ms_big", sel.int8_ms_big}}}};
  if (qat_precision) j["qat"] = precision_json(*qat_precision);  // the precision QAT trained in
  if (distillation) j["distillation"] = distill_report;
  return j;
}

void add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* c = app.add_subcommand("quantize", "Quantize a checkpoint to int8 (static, calibrated on training samples)");
  c->add_option("model", a->model, "fp32 checkpoint (.nimble)")->required();
  c->add_option("--out", a->out, "where to write the int8 checkpoint")->required();
  c->add_option("--data", a->data, "IDX data directory (calibration from its training split, accuracy on its test split)")
      ->capture_default_str();
  c->add_option("--calib", a->calib, "calibration samples")->capture_default_str();
  c->add_option("--observer", a->observer, "minmax | ema-minmax | percentile | entropy | mse")->capture_default_str();
  c->add_option("--keep-float", a->keep_float, "comma-separated layer names to leave in float");
  c->add_option("--max-drop", a->max_drop,
                "accuracy-aware: keep the most sensitive layers in float until the validation top-1 drop is within "
                "this many points");
  c->add_option("--qat-epochs", a->qat_epochs,
                "quantization-aware training: fine-tune this many epochs with fake quantization before converting")
      ->capture_default_str();
  c->add_option("--qat-lr", a->qat_lr, "learning rate of quantization-aware training (cosine)")->capture_default_str();
  add_precision_option(c, a->precision);
  c->add_flag("--dynamic", a->dynamic,
              "dynamic quantization: int8 weights for linear layers, activations quantized per batch (no calibration)");
  c->add_flag("--no-speed-gate", a->no_speed_gate, "quantize every layer even where int8 measures slower than float");
  c->add_option("--batch", a->batch, "batch size of the throughput measurement")->capture_default_str();
  c->add_option("--iters", a->iters, "timed batch-1 calls per model")->capture_default_str();
  c->add_option("--seed", a->seed, "seed of the calibration subset")->capture_default_str();
  add_teacher_options(c, a->teacher, false);
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->callback([a] {
    const json j = quantize_checkpoint(*a);
    if (a->json_out) print_json(j);
  });
}

}  // namespace nimble::cli
