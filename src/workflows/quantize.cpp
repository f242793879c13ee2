#include "nimble/workflows/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>

#include "nimble/distill/distillation.hpp"
#include "nimble/model.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "runtime/machine.hpp"
#include "workflows/report_json.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

void QuantizeOptions::validate() const {
  if (model.empty()) throw OptionError("model", "a float model file is required");
  if (out.empty()) throw OptionError("out", "is required (the int8 model is written there)");
  if (dynamic && qat_epochs > 0)
    throw OptionError("qat_epochs", "{dynamic} quantization neither calibrates nor trains");
  if (dynamic && max_drop) throw OptionError("max_drop", "{dynamic} quantization takes no accuracy budget");
  if (max_drop) workflow::check_range("max_drop", *max_drop, 0, 100);
  workflow::check_range("calib", double(calib), 1, 60000);
  workflow::check_batch(batch);
  workflow::check_range("iters", double(iters), 1, 100000);
  workflow::check_range("qat_epochs", double(qat_epochs), 0, 1000);
  if (!(qat_lr > 0 && std::isfinite(qat_lr))) throw OptionError("qat_lr", "must be positive");
  if (!teacher.teacher.empty() && qat_epochs == 0)
    throw OptionError("teacher", "distils during quantization-aware training: give {qat_epochs}");
  teacher.validate();
  check_output_is_not_an_input("out", out, {{"model", model}, {"teacher", teacher.teacher}}, force);
}

namespace {

// The layer names of `model` that can be quantized; throws OptionError for any other in `names`.
void check_layer_names(const Graph& g, const std::string& path, const std::vector<std::string>& names) {
  const std::vector<std::string> layers = quant::quantizable_layers(quant::prepare(g));
  for (const std::string& name : names) {
    if (std::find(layers.begin(), layers.end(), name) != layers.end()) continue;
    std::string known;
    for (const std::string& l : layers) known += (known.empty() ? "" : ", ") + l;
    throw OptionError("keep_float", path + " has no quantizable layer '" + name + "' (it has " + known + ")");
  }
}

}  // namespace

QuantizeReport quantize_model(const QuantizeOptions& o) {
  o.validate();
  const Model m = Model::load(o.model);
  NIMBLE_CHECK(!m.quantized(), o.model + " is already quantized");
  check_layer_names(m.graph, o.model, o.keep_float);
  const data::Normalization& norm = m.preprocessing.normalization;
  const data::DataSet d = workflow::read_data_for(m, o.data, o.data_format, o.skip_bad, o.cache_mb, o.log);
  const data::Split split = workflow::training_split(m, d, o.data);
  // Calibration samples: a seeded random subset of the training part of that split.
  const data::ImageSet calib = data::split_validation(split.train, std::min(o.calib, split.train.size()), o.seed).val;
  if (o.max_drop && split.val.size() == 0)
    throw OptionError("max_drop", "needs a validation split, and " + o.model + " was trained without one ({val} 0)");

  QuantizeReport r;
  quant::QuantizeOptions qo;
  qo.observer = o.observer;
  qo.selection.keep_float.insert(o.keep_float.begin(), o.keep_float.end());
  qo.selection.speed = o.speed_gate;
  qo.selection.big_batch = o.batch;
  if (o.max_drop) {
    qo.selection.max_drop_points = *o.max_drop;
    qo.selection.measure_sensitivity = o.measure_sensitivity;
    qo.selection.accuracy = [&](const Graph& g) {
      return train::evaluate(g, split.val, norm, 500, Precision::fp32).accuracy;
    };
  }
  if (o.qat_epochs > 0) {
    // Fine-tuning with fake quantization: the run's own recipe at a small learning rate.
    qo.fine_tune = [&](Graph& g) {
      train::TrainConfig tc = workflow::fine_tune_config(m, o.qat_epochs, o.qat_lr, o.seed, o.progress);
      r.qat_precision = choose_precision_for(o.precision, g, tc.batch, Mode::train);
      workflow::announce(o.log, *r.qat_precision);
      tc.precision = r.qat_precision->precision;
      tc.sync_batch_norm = o.sync_batch_norm;
      workflow::say(o.log, "quantization-aware training: " + std::to_string(tc.epochs) + " epochs at lr " +
                               std::to_string(o.qat_lr));
      train::Trainer trainer(g, tc);
      DistillReport dr;
      auto hook = workflow::make_distillation(o.teacher, g, norm, split, d.test, tc.batch, tc.augment.any(), o.log, dr);
      if (hook) trainer.add_hook(hook);
      trainer.fit(split.train, split.val, norm);
      if (hook) workflow::finish_distillation(*hook, o.log, dr), r.distillation = dr;
    };
  }
  workflow::say(o.log, "quantize: " + o.model +
                           (o.dynamic ? std::string(", dynamic (linear layers, activations quantized per batch)")
                                      : ", calibrating on " + std::to_string(calib.size()) + " training samples (" +
                                            quant::observer_name(o.observer) + ")") +
                           (qo.selection.speed ? "; timing each layer in int8 and in float" : "") +
                           (qo.selection.accuracy ? "; measuring each layer's validation accuracy" : ""));
  const quant::QuantizedModel qm =
      o.dynamic ? quant::quantize_dynamic(m.graph, qo.selection) : quant::quantize(m.graph, calib, norm, qo);
  workflow::fill_selection(r, qm.selection);
  if (!qm.selection.tolerance_met)
    workflow::say(o.log, "warning: no configuration met max_drop " + std::to_string(o.max_drop.value_or(0)) +
                             "; saving the best found");

  const train::EvalResult fp32 = train::evaluate(m.graph, d.test, norm, 500, Precision::fp32);
  const train::EvalResult int8 = train::evaluate(qm.graph, d.test, norm, 500, Precision::fp32);
  const std::vector<workflow::Speed> speeds = workflow::measure_speeds({&m.graph, &qm.graph}, o.batch, o.iters);

  Model q(qm.graph, m.preprocessing);
  q.class_names = m.class_names;
  q.provenance = m.provenance;
  q.provenance.quantization = QuantizationRecord{o.dynamic ? "dynamic" : "static",
                                                 quant::observer_name(o.observer),
                                                 o.qat_epochs,
                                                 calib.size(),
                                                 r.layers_kept_float,
                                                 o.model,
                                                 fp32.accuracy};
  q.provenance.metrics.test_accuracy = int8.accuracy;
  q.save(o.out);
  r.size_bytes_int8 = Model::load(o.out).file_size;  // read back: it loads without calibration
  r.size_bytes_fp32 = m.model_file_size();

  r.model = o.model, r.checkpoint = o.out;
  r.mode = o.dynamic ? "dynamic" : "static";
  r.observer = quant::observer_name(o.observer);
  r.calibration_samples = o.dynamic ? 0 : calib.size();
  r.qat_epochs = o.qat_epochs;
  r.test_accuracy_fp32 = fp32.accuracy, r.test_accuracy_int8 = int8.accuracy;
  r.latency_ms_fp32 = speeds[0].latency_ms, r.latency_ms_int8 = speeds[1].latency_ms;
  r.batch = o.batch;
  r.throughput_fp32 = speeds[0].throughput, r.throughput_int8 = speeds[1].throughput;
  workflow::say(o.log, layer_table(r));
  workflow::say(
      o.log, "test accuracy fp32 " + std::to_string(fp32.accuracy) + " -> int8 " + std::to_string(int8.accuracy) +
                 "; batch-1 latency " + std::to_string(r.latency_ms_fp32) + " -> " + std::to_string(r.latency_ms_int8) +
                 " ms; batch-" + std::to_string(o.batch) + " " + std::to_string(int64_t(r.throughput_fp32)) + " -> " +
                 std::to_string(int64_t(r.throughput_int8)) + " samples/s; " + std::to_string(r.size_bytes_fp32) +
                 " -> " + std::to_string(r.size_bytes_int8) + " bytes; saved " + o.out);
  r.peak_memory_mib = peak_resident_mib();
  return r;
}

std::string layer_table(const QuantizeReport& r) {
  std::string out =
      "layer                          op        precision  b1 ms float/int8   big ms float/int8   drop alone  why "
      "float";
  for (const QuantizeLayerReport& l : r.layers) {
    char line[512];
    std::snprintf(line, sizeof line, "\n%-30s %-9s %-10s %7.4f / %-7.4f   %7.3f / %-7.3f   %9s  %s", l.name.c_str(),
                  l.op.c_str(), l.int8 ? "int8" : "float", l.float_ms_b1, l.int8_ms_b1, l.float_ms_big, l.int8_ms_big,
                  l.accuracy_drop_alone ? std::to_string(*l.accuracy_drop_alone).substr(0, 6).c_str() : "-",
                  l.reason.c_str());
    out += line;
  }
  return out;
}

std::string to_json(const QuantizeReport& r) {
  using workflow::json;
  json layers = json::array();
  for (const QuantizeLayerReport& l : r.layers)
    layers.push_back({{"name", l.name},
                      {"op", l.op},
                      {"precision", l.int8 ? "int8" : "float"},
                      {"reason", l.reason},
                      {"float_ms_b1", l.float_ms_b1},
                      {"int8_ms_b1", l.int8_ms_b1},
                      {"float_ms_big", l.float_ms_big},
                      {"int8_ms_big", l.int8_ms_big},
                      {"accuracy_drop_alone", workflow::optional_json(l.accuracy_drop_alone)}});
  json j = {{"model", r.model},
            {"peak_memory_mib", r.peak_memory_mib},
            {"checkpoint", r.checkpoint},
            {"mode", r.mode},
            {"observer", r.observer},
            {"calibration_samples", r.calibration_samples},
            {"qat_epochs", r.qat_epochs},
            {"test_accuracy_fp32", r.test_accuracy_fp32},
            {"test_accuracy_int8", r.test_accuracy_int8},
            {"latency_ms_fp32", r.latency_ms_fp32},
            {"latency_ms_int8", r.latency_ms_int8},
            {"batch", r.batch},
            {"throughput_fp32", r.throughput_fp32},
            {"throughput_int8", r.throughput_int8},
            {"size_bytes_fp32", r.size_bytes_fp32},
            {"size_bytes_int8", r.size_bytes_int8},
            {"layers_kept_float", r.layers_kept_float},
            {"layers", layers},
            {"val_accuracy_fp32", workflow::optional_json(r.val_accuracy_fp32)},
            {"val_accuracy_int8", workflow::optional_json(r.val_accuracy_int8)},
            {"tolerance_met", r.tolerance_met},
            {"speed_gate",
             {{"float_ms_b1", r.gate_float_ms_b1},
              {"int8_ms_b1", r.gate_int8_ms_b1},
              {"float_ms_big", r.gate_float_ms_big},
              {"int8_ms_big", r.gate_int8_ms_big},
              {"comparisons", r.gate_comparisons},
              {"rounds", r.gate_rounds},
              {"unstable", r.gate_unstable}}}};
  if (r.qat_precision) j["qat"] = workflow::precision_json(*r.qat_precision);
  if (r.distillation) j["distillation"] = workflow::distill_json(*r.distillation);
  return j.dump();
}

}  // namespace nimble
