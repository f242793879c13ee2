// nimble bench: batch-1 latency percentiles and large-batch throughput of a checkpoint or a zoo
// model, alone or against a baseline timed in alternation (nimble::benchmark_model).
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/workflows/benchmark.hpp"

namespace nimble::cli {

namespace {

void print_report(const BenchmarkReport& r) {
  std::printf("%s  input %s  precision %s\n", r.model.c_str(), r.input.str().c_str(),
              precision_name(r.precision.precision));
  std::printf("  batch-1 latency   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (%d thread%s)\n", r.latency_ms_p50,
              r.latency_ms_p90, r.latency_ms_p99, r.latency_threads, r.latency_threads == 1 ? "" : "s");
  std::printf("  batch-%lld throughput  %.0f samples/s  (%.1f GFLOP/s achieved)\n", (long long)r.batch,
              r.throughput_samples_per_s, r.gflops_per_s);
  std::printf("  params %lld  MACs/sample %lld  size %lld bytes\n", (long long)r.params, (long long)r.macs,
              (long long)r.size_bytes);
  if (const auto& b = r.baseline)
    std::printf(
        "  vs %s (%s, timed in alternation): batch-1 %.2fx faster (%.3f ms, %d thread%s), batch-%lld %.2fx the "
        "throughput\n",
        b->model.c_str(), precision_name(b->precision), r.speedup_batch1, b->latency_ms_p50, b->latency_threads,
        b->latency_threads == 1 ? "" : "s", (long long)r.batch, r.speedup_big_batch);
}

void add_zoo_options(CLI::App* c, BenchmarkOptions& o) {
  c->add_option("--model", o.zoo_model, "zoo model when no checkpoint is given")->capture_default_str();
  c->add_option_function<std::string>("--input",
                                      parse_field("input", [&o](const std::string& s) { o.input = Shape::parse(s); }),
                                      "zoo model input CxHxW")
      ->default_str("1x28x28");
  c->add_option("--width", o.width, "zoo model width multiplier")->capture_default_str();
  c->add_option("--depth", o.depth,
                "resnet depth: 6n+2 (CIFAR layout; default 20 below 64 px) or 18 / 34 (ImageNet "
                "layout; default 18 from 64 px on)");
  c->add_option("--classes", o.classes, "zoo model classes")->capture_default_str();
}

void add_comparison_options(CLI::App* c, BenchmarkOptions& o) {
  c->add_flag("--int8", o.int8,
              "quantize to int8 first, calibrated on random images: the speed an int8 model of this architecture "
              "would have here");
  c->add_option("--compare", o.compare,
                "a second checkpoint (the model before pruning or quantizing, say) timed in alternation with this "
                "one, with the speed-ups; --int8 compares against the float model by default")
      ->check(CLI::ExistingFile);
  c->add_option_function<std::string>(
      "--compare-precision",
      parse_field("compare_precision", [&o](const std::string& s) { o.compare_precision = precision_from_name(s); }),
      "the precision of the compared model (default: --precision); alone, the same model in that precision, "
      "e.g. --precision bf16 --compare-precision fp32");
}

}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchmarkOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand("bench", "Measure latency and throughput of a checkpoint or a zoo model");
  c->add_option("checkpoint", o->model, "checkpoint (.nimble); without it a zoo model is benchmarked");
  add_zoo_options(c, *o);
  c->add_option("--batch", o->batch, "batch size for the throughput run")->capture_default_str();
  add_precision_option(c, o->precision);
  c->add_option("--iters", o->iters, "timed batch-1 calls")->capture_default_str();
  c->add_option("--warmup", o->warmup, "untimed warm-up calls")->capture_default_str();
  add_comparison_options(c, *o);
  add_output_options(c, *out, false);
  c->callback([o, out] {
    const BenchmarkReport r = benchmark_model(*o);
    if (!r.layer_report.empty() && !out->json) note(r.layer_report);
    if (out->json)
      print_json(to_json(r));
    else
      print_report(r);
  });
}

}  // namespace nimble::cli
