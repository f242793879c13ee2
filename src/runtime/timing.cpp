#include "nimble/runtime/timing.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"

namespace nimble {

Tensor random_batch(const Shape& per_sample, int64_t batch, uint64_t seed, float scale) {
  std::vector<int64_t> dims = {batch};
  for (int i = 0; i < per_sample.rank(); ++i) dims.push_back(per_sample[i]);
  Tensor t{Shape(dims)};
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = scale * rng.normal();
  return t;
}

std::vector<double> time_forward(Session& s, const Tensor& x, int64_t warmup, int64_t iters) {
  return time_forward_interleaved({&s}, x, warmup, iters)[0];
}

std::vector<std::vector<double>> time_forward_interleaved(const std::vector<Session*>& sessions, const Tensor& x,
                                                          int64_t warmup, int64_t iters) {
  const size_t n = sessions.size();
  for (int64_t i = 0; i < warmup; ++i)
    for (Session* s : sessions) s->forward(x);
  std::vector<std::vector<double>> ms(n);
  for (int64_t done = 0, round = 0; done < iters; done += kCallsPerBlock, ++round) {
    const int64_t calls = std::min(kCallsPerBlock, iters - done);
    for (size_t k = 0; k < n; ++k) {
      Session& s = *sessions[(k + size_t(round)) % n];
      auto& out = ms[(k + size_t(round)) % n];
      if (n > 1) s.forward(x);  // untimed: brings back into cache what the other sessions evicted
      for (int64_t c = 0; c < calls; ++c) {
        const auto t0 = std::chrono::steady_clock::now();
        s.forward(x);
        out.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    }
  }
  for (auto& v : ms) {
    std::sort(v.begin(), v.end());
    dist::take_rank0_values(v);  // every rank decides from the same times
  }
  return ms;
}

std::vector<ModelTimes> time_models(const std::vector<std::pair<const Graph*, Precision>>& models, int64_t batch,
                                    int64_t warmup, int64_t iters) {
  NIMBLE_CHECK(!models.empty(), "internal error: no model to time");
  const Shape input = models.front().first->input_shape();
  for (const auto& [g, p] : models)
    NIMBLE_CHECK(g->input_shape() == input, "cannot time " + g->input_shape().str() + " and " + input.str() +
                                                " models together: their inputs differ");
  const int all = omp_get_max_threads();
  std::vector<ModelTimes> times(models.size());
  for (const bool batch1 : {true, false}) {
    const int64_t b = batch1 ? 1 : batch;
    const Tensor x = random_batch(input, b, 42);
    const std::vector<int> counts = batch1 && all > 1 ? std::vector<int>{all, 1} : std::vector<int>{all};
    // Per thread count, the models' sessions. Thread counts are not mixed call by call: a worker
    // that sat out a one-thread call is slower to wake for the next parallel one, which would bias
    // the comparison. Instead blocks of each count alternate, a few times, so drift hits both.
    std::vector<std::vector<Session>> sessions(counts.size());
    std::vector<std::vector<std::vector<double>>> ms(counts.size(), std::vector<std::vector<double>>(models.size()));
    for (size_t c = 0; c < counts.size(); ++c)
      for (const auto& [g, p] : models) {
        SessionOptions so{b, Mode::eval, true, p, true};
        so.threads = counts[c];
        sessions[c].emplace_back(*g, so);
      }
    const int64_t blocks = counts.size() > 1 ? 4 : 1;
    const int64_t calls = batch1 ? std::max<int64_t>(1, iters / blocks) : std::max<int64_t>(3, iters / 10);
    for (int64_t block = 0; block < blocks; ++block)
      for (size_t c = 0; c < counts.size(); ++c) {
        std::vector<Session*> ptrs;
        for (Session& s : sessions[c]) ptrs.push_back(&s);
        const int64_t w = block == 0 ? (batch1 ? warmup : std::min<int64_t>(warmup, 3)) : std::min<int64_t>(warmup, 3);
        const auto block_ms = time_forward_interleaved(ptrs, x, w, calls);
        for (size_t i = 0; i < models.size(); ++i)
          ms[c][i].insert(ms[c][i].end(), block_ms[i].begin(), block_ms[i].end());
      }
    for (size_t i = 0; i < models.size(); ++i) {
      size_t best = 0;
      for (size_t c = 0; c < counts.size(); ++c) {
        std::sort(ms[c][i].begin(), ms[c][i].end());
        if (percentile(ms[c][i], 0.5) < percentile(ms[best][i], 0.5)) best = c;
      }
      (batch1 ? times[i].batch1_ms : times[i].big_ms) = ms[best][i];
      (batch1 ? times[i].batch1_threads : times[i].big_threads) = counts[best];
    }
  }
  return times;
}

double batch1_latency_ms(const Graph& g, int64_t iters) {
  return percentile(time_models({{&g, Precision::fp32}}, 1, 5, iters)[0].batch1_ms, 0.5);
}

double percentile(const std::vector<double>& sorted, double p) {
  const size_t i = std::min(sorted.size() - 1, size_t(std::lround(p * double(sorted.size() - 1))));
  return sorted[i];
}

std::map<std::string, double> node_times(const Graph& g, int64_t batch, int iters) {
  Session s(g, {batch, Mode::eval, false, Precision::fp32, true});
  std::vector<double> ms = s.profile(random_batch(g.input_shape(), batch, 7), iters);
  dist::take_rank0_values(ms);
  std::map<std::string, double> by_name;
  for (size_t i = 0; i < ms.size(); ++i) by_name[g.nodes()[i].name] = ms[i];
  return by_name;
}

}  // namespace nimble
