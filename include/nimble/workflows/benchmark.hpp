#pragma once
// Latency and throughput of a model on this machine, alone or against a baseline timed in
// alternation with it (the machine's speed drifts between seconds; ratios measured side by side
// do not).
#include <optional>
#include <string>

#include "nimble/core/shape.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"

namespace nimble {

struct BenchmarkOptions {
  std::string model;  // a .nimble file; empty: the zoo model below
  std::string zoo_model = "cnn";
  Shape input{1, 28, 28};
  double width = 1.0;
  int64_t depth = 0, classes = 10;
  int64_t batch = 256, iters = 100, warmup = 10;
  Precision precision = Precision::automatic;
  // Quantize to int8 first (calibrated on random images: speed only), compared with the float model.
  bool int8 = false;
  std::string compare;  // a second .nimble timed in alternation
  // The baseline's precision; alone: this model in that precision as the baseline.
  std::optional<Precision> compare_precision;
  Log log = log_to_stderr;
  void validate() const;
};

struct BenchmarkBaseline {
  std::string model;
  Precision precision = Precision::fp32;
  double latency_ms_p50 = 0, throughput_samples_per_s = 0;
  int64_t macs = 0, size_bytes = 0;
  int latency_threads = 0;
};

struct BenchmarkReport {
  double peak_memory_mib = 0;  // the process's peak resident memory when the run ended
  std::string model;
  Shape input;
  double latency_ms_p50 = 0, latency_ms_p90 = 0, latency_ms_p99 = 0;
  int latency_threads = 0;  // the faster at batch 1 of all threads and one (runtime/timing.hpp)
  int64_t batch = 0;
  double throughput_samples_per_s = 0, gflops_per_s = 0;
  int64_t params = 0, macs = 0, size_bytes = 0;
  bool int8 = false;
  PrecisionChoice precision;
  std::optional<BenchmarkBaseline> baseline;
  double speedup_batch1 = 0, speedup_big_batch = 0;  // with a baseline
  std::string layer_report;                          // --int8: the per-layer table of the quantization
};

BenchmarkReport benchmark_model(const BenchmarkOptions& options);
std::string to_json(const BenchmarkReport& report);  // `nimble bench --json`

}  // namespace nimble
