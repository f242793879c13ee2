// nimble quantize: static post-training int8 quantization of a checkpoint — calibrate on training
// samples, convert, evaluate both models on the test split, time both, save the int8 model.
#include <memory>
#include <set>
#include <sstream>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/quant/quantize.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::cli {

namespace {

struct QuantizeArgs {
  std::string model, out, data = kDefaultData, observer = "minmax", keep_float;
  int64_t calib = 512, batch = 256, iters = 50;
  uint64_t seed = 0;
  bool json_out = false;
};

std::set<std::string> split_names(const std::string& list) {
  std::set<std::string> names;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) names.insert(item);
  return names;
}

struct Speed {
  double latency_ms = 0, throughput = 0;
};
Speed measure(const Graph& g, int64_t batch, int64_t iters) {
  Session one(g, {1, Mode::eval, true, Precision::fp32});
  const std::vector<double> lat = time_calls(one, random_input(g.input_shape(), 1), 10, iters);
  Session big(g, {batch, Mode::eval, true, Precision::fp32});
  const std::vector<double> ms = time_calls(big, random_input(g.input_shape(), batch), 2, std::max<int64_t>(3, iters / 10));
  return {percentile(lat, 0.5), batch / (percentile(ms, 0.5) / 1e3)};
}

void run_quantize(const QuantizeArgs& a) {
  NIMBLE_CHECK(!a.out.empty(), "--out is required (the int8 model is written there)");
  NIMBLE_CHECK(a.calib >= 1 && a.calib <= 60000, "--calib must be between 1 and 60000 samples");
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  const quant::ObserverKind observer = quant::observer_from_name(a.observer);
  LoadedModel m = load_model(a.model);
  NIMBLE_CHECK(!m.graph.meta.count("quantized"), a.model + " is already quantized");
  const data::Normalization norm = normalization_of(m.extra);
  data::IdxData d = load_data(a.data);
  NIMBLE_CHECK(d.train.sample_shape() == m.graph.input_shape(), "the data's samples are " + d.train.sample_shape().str() +
                                                                    " but the model takes " + m.graph.input_shape().str());
  // Calibration samples: a seeded random subset of the training split, never the test split.
  const data::ImageSet calib = data::split_validation(d.train, std::min(a.calib, d.train.size()), a.seed).val;

  const Graph prepared = quant::prepare(m.graph);
  quant::ConvertOptions opt;
  opt.keep_float = split_names(a.keep_float);
  note("nimble quantize: calibrating " + a.model + " on " + std::to_string(calib.size()) + " training samples (" +
       quant::observer_name(observer) + ")");
  const quant::Calibration cal = quant::calibrate(prepared, calib, norm, observer);
  const Graph q = quant::convert(prepared, cal.params(), opt);

  const train::EvalResult fp32 = train::evaluate(m.graph, d.test, norm, 500, Precision::fp32);
  const train::EvalResult int8 = train::evaluate(q, d.test, norm, 500, Precision::fp32);
  const Speed s32 = measure(m.graph, a.batch, a.iters), s8 = measure(q, a.batch, a.iters);

  json extra = m.extra;
  extra["quantization"] = {{"observer", quant::observer_name(observer)},
                           {"calibration_samples", calib.size()},
                           {"layers_kept_float", std::vector<std::string>(opt.keep_float.begin(), opt.keep_float.end())},
                           {"source", a.model},
                           {"test_accuracy_fp32", fp32.accuracy}};
  extra["metrics"]["test_accuracy"] = int8.accuracy;
  io::save_checkpoint(q, a.out, extra.dump());
  const int64_t size_int8 = io::load_checkpoint(a.out).file_size;

  note("test accuracy fp32 " + std::to_string(fp32.accuracy) + " -> int8 " + std::to_string(int8.accuracy) +
       "; batch-1 latency " + std::to_string(s32.latency_ms) + " -> " + std::to_string(s8.latency_ms) + " ms; batch-" +
       std::to_string(a.batch) + " " + std::to_string(int64_t(s32.throughput)) + " -> " +
       std::to_string(int64_t(s8.throughput)) + " samples/s; " + std::to_string(m.file_size) + " -> " +
       std::to_string(size_int8) + " bytes; saved " + a.out);
  if (a.json_out) {
    print_json({{"model", a.model},
                {"checkpoint", a.out},
                {"observer", quant::observer_name(observer)},
                {"calibration_samples", calib.size()},
                {"test_accuracy_fp32", fp32.accuracy},
                {"test_accuracy_int8", int8.accuracy},
                {"latency_ms_fp32", s32.latency_ms},
                {"latency_ms_int8", s8.latency_ms},
                {"batch", a.batch},
                {"throughput_fp32", s32.throughput},
                {"throughput_int8", s8.throughput},
                {"size_bytes_fp32", m.file_size},
                {"size_bytes_int8", size_int8},
                {"layers_kept_float", std::vector<std::string>(opt.keep_float.begin(), opt.keep_float.end())}});
  }
}

}  // namespace

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
  c->add_option("--batch", a->batch, "batch size of the throughput measurement")->capture_default_str();
  c->add_option("--iters", a->iters, "timed batch-1 calls per model")->capture_default_str();
  c->add_option("--seed", a->seed, "seed of the calibration subset")->capture_default_str();
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->callback([a] { run_quantize(*a); });
}

}  // namespace nimble::cli
