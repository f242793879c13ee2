// nimble bench: batch-1 latency percentiles and large-batch throughput of a checkpoint or a zoo
// model, with parameters, MACs, size and achieved GFLOP/s.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::cli {

namespace {
struct BenchArgs {
  std::string model_path, compare_path, compare_precision, model = "cnn", input = "1x28x28", precision = "auto";
  double width = 1.0;
  int64_t depth = 0, classes = 10, batch = 256, iters = 100, warmup = 10;
  bool json_out = false, int8 = false;
};


void run_bench(const BenchArgs& a) {
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  NIMBLE_CHECK(a.iters >= 1 && a.iters <= 1000000 && a.warmup >= 0, "--iters must be >= 1 and --warmup >= 0");
  if (!a.compare_precision.empty()) choose_precision(a.compare_precision);  // a bad flag fails before any work
  Graph g;
  int64_t size_bytes = 0;
  std::string name;
  if (!a.model_path.empty()) {
    LoadedModel m = load_model(a.model_path);
    g = std::move(m.graph);
    size_bytes = m.file_size;
    name = a.model_path;
  } else {
    zoo::ModelConfig c;
    c.name = a.model;
    c.input = Shape::parse(a.input);
    c.classes = a.classes;
    c.width = a.width;
    c.depth = a.depth;
    g = zoo::build(c);
    for (auto& [n, p] : g.named_params()) size_bytes += int64_t(p->data.nbytes());
    name = a.model;
  }
  std::unique_ptr<Graph> float_graph;
  int64_t float_bytes = size_bytes;
  if (a.int8) {
    NIMBLE_CHECK(!g.meta.count("quantized"), name + " is already int8; drop --int8");
    float_graph = std::make_unique<Graph>(g.clone());
    // Speed only: calibrated on random images, so the weights' accuracy means nothing here.
    note("--int8: quantizing " + name + " calibrated on 64 random images (for speed only; use nimble quantize for a real model)");
    const Shape s = g.input_shape();
    data::ImageSet calib;
    calib.images = Tensor({64, s[0], s[1], s[2]}, DType::u8);
    Rng rng(1);
    for (int64_t i = 0; i < calib.images.numel(); ++i) calib.images.data<uint8_t>()[i] = uint8_t(rng.uniform(0.0f, 255.99f));
    calib.labels.assign(64, 0);
    calib.num_classes = 1;
    quant::QuantizeOptions qo;
    qo.selection.big_batch = a.batch;
    quant::QuantizedModel qm = quant::quantize(g, calib, data::compute_normalization(calib), qo);
    if (!a.json_out) print_layer_report(qm.selection);
    g = std::move(qm.graph);
    size_bytes = 0;  // not saved: the bytes of its parameters
    for (auto& [n, p] : g.named_params()) size_bytes += int64_t(p->data.nbytes());
  }
  std::unique_ptr<Graph> baseline;  // timed together with g: --compare, or the float model under --int8
  std::string baseline_name;
  int64_t baseline_bytes = 0;
  if (!a.compare_path.empty()) {
    LoadedModel b = load_model(a.compare_path);
    NIMBLE_CHECK(b.graph.input_shape() == g.input_shape(), "--compare " + a.compare_path + " takes " +
                                                                b.graph.input_shape().str() + " inputs, " + name +
                                                                " takes " + g.input_shape().str());
    baseline = std::make_unique<Graph>(std::move(b.graph));
    baseline_name = a.compare_path, baseline_bytes = b.file_size;
  } else if (float_graph) {
    baseline = std::move(float_graph);
    baseline_name = name + " (float)", baseline_bytes = float_bytes;
  } else if (!a.compare_precision.empty()) {
    baseline = std::make_unique<Graph>(g.clone());
    baseline_name = name, baseline_bytes = size_bytes;
  }
  const int64_t macs = g.macs(), params = g.param_count();
  const PrecisionChoice pc = resolve_precision(a.precision, g, a.batch, Mode::eval);
  std::optional<PrecisionChoice> baseline_pc;
  if (baseline)
    baseline_pc = resolve_precision(a.compare_precision.empty() ? a.precision : a.compare_precision, *baseline, a.batch,
                                    Mode::eval);
  // With a baseline both models run in alternation, so their ratio is not skewed by this
  // machine's drift between seconds.
  std::vector<std::pair<const Graph*, Precision>> models{{&g, pc.precision}};
  if (baseline) models.emplace_back(baseline.get(), baseline_pc->precision);
  const std::vector<ModelTimes> times = time_models(models, a.batch, a.warmup, a.iters);
  const std::vector<double>& lat = times[0].batch1_ms;
  const double throughput = a.batch / (percentile(times[0].big_ms, 0.5) / 1e3);
  const double gflops = 2.0 * double(macs) * throughput / 1e9;

  json j = {{"model", name},
            {"input", g.input_shape().str()},
            {"latency_ms_p50", percentile(lat, 0.5)},
            {"latency_ms_p90", percentile(lat, 0.9)},
            {"latency_ms_p99", percentile(lat, 0.99)},
            {"batch", a.batch},
            {"throughput_samples_per_s", throughput},
            {"params", params},
            {"macs", macs},
            {"size_bytes", size_bytes},
            {"gflops_per_s", gflops},
            {"int8", a.int8 || g.meta.count("quantized") > 0}};
  j.update(precision_json(pc));
  double speedup1 = 0, speedup_big = 0, b_lat = 0;
  if (baseline) {
    b_lat = percentile(times[1].batch1_ms, 0.5);
    const double b_tp = a.batch / (percentile(times[1].big_ms, 0.5) / 1e3);
    speedup1 = b_lat / percentile(lat, 0.5), speedup_big = throughput / b_tp;
    j["baseline"] = {{"model", baseline_name},           {"precision", precision_name(baseline_pc->precision)},
                     {"latency_ms_p50", b_lat},           {"throughput_samples_per_s", b_tp},
                     {"macs", baseline->macs()},          {"size_bytes", baseline_bytes}};
    j["speedup_batch1"] = speedup1;
    j["speedup_big_batch"] = speedup_big;
  }
  if (a.json_out) {
    print_json(j);
  } else {
    std::printf("%s  input %s  precision %s\n", name.c_str(), g.input_shape().str().c_str(), precision_name(pc.precision));
    std::printf("  batch-1 latency   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", percentile(lat, 0.5),
                percentile(lat, 0.9), percentile(lat, 0.99));
    std::printf("  batch-%lld throughput  %.0f samples/s  (%.1f GFLOP/s achieved)\n", (long long)a.batch, throughput, gflops);
    std::printf("  params %lld  MACs/sample %lld  size %lld bytes\n", (long long)params, (long long)macs, (long long)size_bytes);
    if (baseline)
      std::printf("  vs %s (%s, timed in alternation): batch-1 %.2fx faster (%.3f ms), batch-%lld %.2fx the throughput\n",
                  baseline_name.c_str(), precision_name(baseline_pc->precision), speedup1, b_lat,
                  (long long)a.batch, speedup_big);
  }
}
}  // namespace

void add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* c = app.add_subcommand("bench", "Measure latency and throughput of a checkpoint or a zoo model");
  c->add_option("checkpoint", a->model_path, "checkpoint (.nimble); without it a zoo model is benchmarked");
  c->add_option("--model", a->model, "zoo model when no checkpoint is given")->capture_default_str();
  c->add_option("--input", a->input, "zoo model input CxHxW")->capture_default_str();
  c->add_option("--width", a->width, "zoo model width multiplier")->capture_default_str();
  c->add_option("--depth", a->depth, "resnet depth: 6n+2 (CIFAR layout; default 20 below 64 px) or 18 / 34 (ImageNet "
                                     "layout; default 18 from 64 px on)");
  c->add_option("--classes", a->classes, "zoo model classes")->capture_default_str();
  c->add_option("--batch", a->batch, "batch size for the throughput run")->capture_default_str();
  add_precision_option(c, a->precision);
  c->add_option("--iters", a->iters, "timed batch-1 calls")->capture_default_str();
  c->add_option("--warmup", a->warmup, "untimed warm-up calls")->capture_default_str();
  c->add_flag("--int8", a->int8,
              "quantize to int8 first, calibrated on random images: the speed an int8 model of this architecture "
              "would have here");
  c->add_option("--compare", a->compare_path,
                 "a second checkpoint (the model before pruning or quantizing, say) timed in alternation with this "
                 "one, with the speed-ups; --int8 compares against the float model by default")
      ->check(CLI::ExistingFile);
  c->add_option("--compare-precision", a->compare_precision,
                "the precision of the compared model (default: --precision); alone, the same model in that precision, "
                "e.g. --precision bf16 --compare-precision fp32");
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->callback([a] { run_bench(*a); });
}

}  // namespace nimble::cli
