#include "nimble/workflows/benchmark.hpp"

#include <cstdio>
#include <memory>

#include "nimble/model.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/runtime/timing.hpp"
#include "nimble/workflows/quantize.hpp"
#include "nimble/zoo/zoo.hpp"
#include "runtime/machine.hpp"
#include "workflows/report_json.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

void BenchmarkOptions::validate() const {
  workflow::check_batch(batch);
  workflow::check_range("iters", double(iters), 1, 1e6);
  workflow::check_range("warmup", double(warmup), 0, 1e6);
  if (model.empty() && input.rank() != 3) throw OptionError("input", "must be CxHxW, got " + input.str());
}

namespace {

int64_t param_bytes(const Graph& g) {
  int64_t bytes = 0;
  for (auto& [n, p] : g.named_params()) bytes += int64_t(p->data.nbytes());
  return bytes;
}

// Speed only: calibrated on random images, so the int8 weights' accuracy means nothing here.
quant::QuantizedModel quantize_for_speed(const Graph& g, int64_t batch) {
  const Shape s = g.input_shape();
  data::ImageSet calib;
  calib.images = Tensor({64, s[0], s[1], s[2]}, DType::u8);
  Rng rng(1);
  for (int64_t i = 0; i < calib.images.numel(); ++i)
    calib.images.data<uint8_t>()[i] = uint8_t(rng.uniform(0.0f, 255.99f));
  calib.labels.assign(64, 0);
  calib.num_classes = 1;
  quant::QuantizeOptions qo;
  qo.selection.big_batch = batch;
  return quant::quantize(g, calib, data::compute_normalization(calib), qo);
}

}  // namespace

BenchmarkReport benchmark_model(const BenchmarkOptions& o) {
  o.validate();
  BenchmarkReport r;
  Graph g;
  if (!o.model.empty()) {
    Model m = Model::load(o.model);
    g = std::move(m.graph);
    r.size_bytes = m.file_size;
    r.model = o.model;
  } else {
    zoo::ModelConfig c;
    c.name = o.zoo_model;
    c.input = o.input;
    c.classes = o.classes;
    c.width = o.width;
    c.depth = o.depth;
    g = zoo::build(c);
    r.size_bytes = param_bytes(g);
    r.model = o.zoo_model;
  }
  std::unique_ptr<Graph> float_graph;
  const int64_t float_bytes = r.size_bytes;
  if (o.int8) {
    if (g.meta.count("quantized")) throw OptionError("int8", r.model + " is already int8");
    float_graph = std::make_unique<Graph>(g.clone());
    workflow::say(o.log, "int8: quantizing " + r.model +
                             " calibrated on 64 random images (for speed only; quantize_model for a real model)");
    quant::QuantizedModel qm = quantize_for_speed(g, o.batch);
    QuantizeReport layers;
    workflow::fill_selection(layers, qm.selection);
    r.layer_report = layer_table(layers);
    g = std::move(qm.graph);
    r.size_bytes = param_bytes(g);  // not saved: the bytes of its parameters
  }
  std::unique_ptr<Graph> baseline;  // timed together with g
  BenchmarkBaseline base;
  if (!o.compare.empty()) {
    Model b = Model::load(o.compare);
    if (b.input_shape() != g.input_shape())
      throw OptionError("compare", o.compare + " takes " + b.input_shape().str() + " inputs, " + r.model + " takes " +
                                       g.input_shape().str());
    baseline = std::make_unique<Graph>(std::move(b.graph));
    base.model = o.compare, base.size_bytes = b.file_size;
  } else if (float_graph) {
    baseline = std::move(float_graph);
    base.model = r.model + " (float)", base.size_bytes = float_bytes;
  } else if (o.compare_precision) {
    baseline = std::make_unique<Graph>(g.clone());
    base.model = r.model, base.size_bytes = r.size_bytes;
  }
  r.precision = choose_precision_for(o.precision, g, o.batch, Mode::eval);
  workflow::announce(o.log, r.precision);
  PrecisionChoice baseline_pc;
  if (baseline) {
    baseline_pc = choose_precision_for(o.compare_precision.value_or(o.precision), *baseline, o.batch, Mode::eval);
    workflow::announce(o.log, baseline_pc);
  }
  // With a baseline both models run in alternation, so their ratio is not skewed by drift.
  std::vector<std::pair<const Graph*, Precision>> models{{&g, r.precision.precision}};
  if (baseline) models.emplace_back(baseline.get(), baseline_pc.precision);
  const std::vector<ModelTimes> times = time_models(models, o.batch, o.warmup, o.iters);
  const std::vector<double>& lat = times[0].batch1_ms;
  r.input = g.input_shape();
  r.latency_ms_p50 = percentile(lat, 0.5);
  r.latency_ms_p90 = percentile(lat, 0.9);
  r.latency_ms_p99 = percentile(lat, 0.99);
  r.latency_threads = times[0].batch1_threads;
  r.batch = o.batch;
  r.throughput_samples_per_s = double(o.batch) / (percentile(times[0].big_ms, 0.5) / 1e3);
  r.params = g.param_count();
  r.macs = g.macs();
  r.gflops_per_s = 2.0 * double(r.macs) * r.throughput_samples_per_s / 1e9;
  r.int8 = o.int8 || g.meta.count("quantized") > 0;
  if (baseline) {
    base.precision = baseline_pc.precision;
    base.latency_ms_p50 = percentile(times[1].batch1_ms, 0.5);
    base.latency_threads = times[1].batch1_threads;
    base.throughput_samples_per_s = double(o.batch) / (percentile(times[1].big_ms, 0.5) / 1e3);
    base.macs = baseline->macs();
    r.speedup_batch1 = base.latency_ms_p50 / r.latency_ms_p50;
    r.speedup_big_batch = r.throughput_samples_per_s / base.throughput_samples_per_s;
    r.baseline = base;
  }
  r.peak_memory_mib = peak_resident_mib();
  return r;
}

std::string to_json(const BenchmarkReport& r) {
  workflow::json j = {{"model", r.model},
                      {"peak_memory_mib", r.peak_memory_mib},
                      {"input", r.input.str()},
                      {"latency_ms_p50", r.latency_ms_p50},
                      {"latency_ms_p90", r.latency_ms_p90},
                      {"latency_ms_p99", r.latency_ms_p99},
                      {"latency_threads", r.latency_threads},
                      {"batch", r.batch},
                      {"throughput_samples_per_s", r.throughput_samples_per_s},
                      {"params", r.params},
                      {"macs", r.macs},
                      {"size_bytes", r.size_bytes},
                      {"gflops_per_s", r.gflops_per_s},
                      {"int8", r.int8}};
  j.update(workflow::precision_json(r.precision));
  if (const auto& b = r.baseline) {
    j["baseline"] = {{"model", b->model},
                     {"precision", precision_name(b->precision)},
                     {"latency_ms_p50", b->latency_ms_p50},
                     {"latency_threads", b->latency_threads},
                     {"throughput_samples_per_s", b->throughput_samples_per_s},
                     {"macs", b->macs},
                     {"size_bytes", b->size_bytes}};
    j["speedup_batch1"] = r.speedup_batch1;
    j["speedup_big_batch"] = r.speedup_big_batch;
  }
  return j.dump();
}

}  // namespace nimble
