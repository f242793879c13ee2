// nimble bench: batch-1 latency percentiles and large-batch throughput of a checkpoint or a zoo
// model, with parameters, MACs, size and achieved GFLOP/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::cli {

namespace {
struct BenchArgs {
  std::string model_path, model = "cnn", input = "1x28x28", precision = "auto";
  double width = 1.0;
  int64_t depth = 0, classes = 10, batch = 256, iters = 100, warmup = 10;
  bool json_out = false, int8 = false;
};


void run_bench(const BenchArgs& a) {
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  NIMBLE_CHECK(a.iters >= 1 && a.iters <= 1000000 && a.warmup >= 0, "--iters must be >= 1 and --warmup >= 0");
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
  if (a.int8) {
    NIMBLE_CHECK(!g.meta.count("quantized"), name + " is already int8; drop --int8");
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
  const int64_t macs = g.macs(), params = g.param_count();
  const PrecisionChoice pc = resolve_precision(a.precision, g, a.batch, Mode::eval);
  Session one(g, {1, Mode::eval, true, pc.precision});
  std::vector<double> lat = time_forward(one, random_batch(g.input_shape(), 1, 42), a.warmup, a.iters);
  Session big(g, {a.batch, Mode::eval, true, pc.precision});
  const int64_t big_iters = std::max<int64_t>(3, a.iters / 10);
  std::vector<double> big_ms = time_forward(big, random_batch(g.input_shape(), a.batch, 42), std::min<int64_t>(a.warmup, 3), big_iters);
  const double throughput = a.batch / (percentile(big_ms, 0.5) / 1e3);
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
  if (a.json_out) {
    print_json(j);
  } else {
    std::printf("%s  input %s  precision %s\n", name.c_str(), g.input_shape().str().c_str(), precision_name(pc.precision));
    std::printf("  batch-1 latency   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", percentile(lat, 0.5),
                percentile(lat, 0.9), percentile(lat, 0.99));
    std::printf("  batch-%lld throughput  %.0f samples/s  (%.1f GFLOP/s achieved)\n", (long long)a.batch, throughput, gflops);
    std::printf("  params %lld  MACs/sample %lld  size %lld bytes\n", (long long)params, (long long)macs, (long long)size_bytes);
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
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->callback([a] { run_bench(*a); });
}

}  // namespace nimble::cli
