#include "nimble/runtime/timing.hpp"

#include <algorithm>
#include <chrono>

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
  for (int64_t i = 0; i < warmup; ++i) s.forward(x);
  std::vector<double> ms;
  for (int64_t i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    s.forward(x);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

std::vector<std::vector<double>> time_forward_interleaved(const std::vector<Session*>& sessions, const Tensor& x,
                                                          int64_t warmup, int64_t iters) {
  const size_t n = sessions.size();
  for (int64_t i = 0; i < warmup; ++i)
    for (Session* s : sessions) s->forward(x);
  std::vector<std::vector<double>> ms(n);
  for (int64_t i = 0; i < iters; ++i)
    for (size_t k = 0; k < n; ++k) {
      const size_t which = (k + size_t(i)) % n;
      const auto t0 = std::chrono::steady_clock::now();
      sessions[which]->forward(x);
      ms[which].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  for (auto& v : ms) std::sort(v.begin(), v.end());
  return ms;
}

double percentile(const std::vector<double>& sorted, double p) {
  const size_t i = std::min(sorted.size() - 1, size_t(p * double(sorted.size() - 1) + 0.5));
  return sorted[i];
}

std::map<std::string, double> node_times(const Graph& g, int64_t batch, int iters) {
  Session s(g, {batch, Mode::eval, false, Precision::fp32, true});
  const std::vector<double> ms = s.profile(random_batch(g.input_shape(), batch, 7), iters);
  std::map<std::string, double> by_name;
  for (size_t i = 0; i < ms.size(); ++i) by_name[g.nodes()[i].name] = ms[i];
  return by_name;
}

}  // namespace nimble
