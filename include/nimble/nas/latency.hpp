#pragma once
// Latency measured on this CPU: every distinct block of a search space timed alone with nimble's
// own kernels (the deployment's batch, precision and thread count), summed per architecture, and
// a line fitted on whole-model measurements to account for what the blocks alone do not see
// (layout reorders at the input, dispatch between kernels). The table is cached per machine:
// its fingerprint names the CPU, the library build, the thread count and the options.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nimble/nas/space.hpp"
#include "nimble/nas/stats.hpp"

namespace nimble::nas {

// How the searched model will run: fp32, bf16 (the precision policy's bf16 kernels) or int8 (quantized
// with nimble's static quantization, every quantizable layer int8).
enum class DeployPrecision { fp32, bf16, int8 };
const char* deploy_precision_name(DeployPrecision p);
DeployPrecision parse_deploy_precision(const std::string& name);  // throws Error naming the choices

struct LatencyOptions {
  DeployPrecision precision = DeployPrecision::fp32;
  int64_t batch = 1;
  int iters = 30;   // timed runs per measurement; the median is kept
  int threads = 0;  // 0: every thread this machine's ranks have (dist::machine_threads(); one process: OpenMP's)
  void validate() const;
  int resolved_threads() const;
};

struct Timing {
  double ms = 0;     // median
  double noise = 0;  // inter-quartile range / median
};

// Median and noise of `iters` timed forward passes of `graph` as it is deployed (eval session,
// kernels chosen by timing, after warm-up); int8 quantizes it first (random calibration data).
// Under mpirun every rank calls it: rank 0 measures while the others wait, and all get its figures.
Timing measure_latency(const Graph& graph, const LatencyOptions& options);

struct LatencyTable {
  std::string fingerprint;
  LatencyOptions options;
  std::map<std::string, Timing> blocks;  // Block::key() -> its time alone (sum of its kernels)
  LineFit fit;                           // whole-model ms = fit(sum of blocks); slope 1, intercept 0 until calibrated
  int64_t calibration_models = 0;
  bool pinned = false;  // every block timed with each thread pinned to its own CPU

  double block_sum(const SearchSpace& space, const Arch& arch) const;  // throws Error for an unknown block
  double predict(const SearchSpace& space, const Arch& arch) const { return fit(block_sum(space, arch)); }
  double median_noise() const;  // over the blocks

  std::string to_json() const;
  static LatencyTable from_json(const std::string& text);  // throws Error
};

// What a cached table must match: CPU, library build, threads, options and the space.
std::string latency_fingerprint(const SearchSpace& space, const LatencyOptions& options);

// Times every distinct block of `space`; progress(done, total) after each (on rank 0, which times
// them under mpirun while the other ranks wait).
LatencyTable build_latency_table(const SearchSpace& space, const LatencyOptions& options,
                                 const std::function<void(size_t, size_t)>& progress = {});

// Fits the table's line on whole-model measurements of `archs`.
void calibrate_latency_table(LatencyTable& table, const SearchSpace& space, const std::vector<Arch>& archs,
                             const std::vector<double>& measured_ms);

// The per-user cache: $XDG_CACHE_HOME/nimble/latency (or ~/.cache/...), one file per fingerprint.
std::string latency_cache_path(const std::string& fingerprint);
// A cached table with this fingerprint, if any (a damaged file counts as none).
std::optional<LatencyTable> load_cached_latency_table(const std::string& fingerprint);
void save_latency_table(const LatencyTable& table, const std::string& path);  // atomic; creates directories

}  // namespace nimble::nas
