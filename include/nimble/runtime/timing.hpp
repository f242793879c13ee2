#pragma once
// Measuring a graph on this machine: seeded inputs and per-call forward times. Shared by the
// precision probe, the int8 speed gate and `nimble bench`.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nimble/runtime/session.hpp"

namespace nimble {

// A (batch, per_sample...) f32 tensor of scale * N(0, 1) values from `seed`.
Tensor random_batch(const Shape& per_sample, int64_t batch, uint64_t seed, float scale = 1.0f);
// Forward times in ms of `iters` calls after `warmup` calls, sorted ascending.
std::vector<double> time_forward(Session& s, const Tensor& x, int64_t warmup, int64_t iters);
// The same for several sessions measured together, in short alternating blocks so all of them see
// the same machine (this one's speed drifts by tens of percent from one second to the next): each
// round gives every session, in an order that rotates between rounds, one untimed call and then
// kCallsPerBlock timed ones. Each model is timed warm, as it runs in deployment; alternating call
// by call would time a small model in caches a big one just flushed (a 77 k-parameter int8 ResNet
// measured 40 % slower that way beside a 272 k-parameter fp32 one). Per session, sorted ascending.
constexpr int64_t kCallsPerBlock = 8;
std::vector<std::vector<double>> time_forward_interleaved(const std::vector<Session*>& sessions, const Tensor& x,
                                                          int64_t warmup, int64_t iters);
// Models compiled for inference (kernels chosen by timing), each in its precision, timed in
// alternation: `iters` batch-1 calls after `warmup`, then max(3, iters / 10) calls at `batch`
// after min(warmup, 3). All take the same input shape. Per model, in order, sorted ms. At batch 1
// each model runs with all threads and with one, in the same alternation, and keeps the faster
// (by median): a small model can lose more to a parallel region's cost than it gains.
struct ModelTimes {
  std::vector<double> batch1_ms, big_ms;
  int batch1_threads = 0, big_threads = 0;
};
std::vector<ModelTimes> time_models(const std::vector<std::pair<const Graph*, Precision>>& models, int64_t batch,
                                    int64_t warmup, int64_t iters);
// The p-quantile (0..1) of sorted times.
double percentile(const std::vector<double>& sorted, double p);
// Median batch-1 latency (ms) of `g` in fp32 over `iters` calls, with the faster thread count, as
// time_models measures it: what pruning targets and what `nimble bench` reports.
double batch1_latency_ms(const Graph& g, int64_t iters);
// Per-node kernel times (median ms over `iters` passes) of `g` compiled as it is (fp32, no
// inference passes) at `batch`, by node name: what each layer costs.
std::map<std::string, double> node_times(const Graph& g, int64_t batch, int iters);

}  // namespace nimble
