#include "train/gradient_sync.hpp"

#include <algorithm>
#include <cstring>

namespace nimble::train {

GradientSync::GradientSync(const Graph& graph, dist::Communicator& comm, int64_t bucket_bytes) : comm_(comm) {
  const auto& nodes = graph.nodes();
  std::map<const Param*, int> uses;
  int64_t total_bytes = 0;
  for (const Node& n : nodes)
    for (const auto& [key, p] : n.params)
      if (p->trainable && uses[p.get()]++ == 0) total_bytes += p->data.numel() * int64_t(sizeof(float));
  // At least four buckets where the model allows, so that summing overlaps backward even for the
  // small models this tool makes (a 25 MB bucket would hold all of most of them).
  bucket_bytes = std::clamp<int64_t>(total_bytes / 4, int64_t(256) << 10, bucket_bytes);
  std::map<const Param*, size_t> bucket_of;
  int64_t filled = 0;
  node_buckets_.resize(nodes.size());
  for (size_t i = nodes.size(); i-- > 0;)
    for (const auto& [key, p] : nodes[i].params) {
      if (!p->trainable) continue;
      auto [it, first] = bucket_of.emplace(p.get(), 0);
      if (first) {
        if (buckets_.empty() || filled >= bucket_bytes) {
          buckets_.emplace_back();
          filled = 0;
        }
        it->second = buckets_.size() - 1;
        Bucket& b = buckets_.back();
        b.params.push_back(p.get());
        b.users += uses[p.get()];
        b.pending = b.users;
        filled += p->data.numel() * int64_t(sizeof(float));
      }
      node_buckets_[i].push_back(it->second);
    }
  for (Bucket& b : buckets_) {
    int64_t n = 0;
    for (const Param* p : b.params) n += p->data.numel();
    b.data.resize(size_t(n));
  }
}

void GradientSync::node_done(size_t node) {
  if (node >= node_buckets_.size()) return;
  for (size_t k : node_buckets_[node]) {
    Bucket& b = buckets_[k];
    if (--b.pending == 0) start(b);
  }
}

void GradientSync::start(Bucket& b) {
  float* dst = b.data.data();
  for (const Param* p : b.params) {
    const int64_t n = p->data.numel();
    if (p->grad.numel() == n)
      std::memcpy(dst, p->grad.raw(), size_t(n) * sizeof(float));
    else
      std::fill(dst, dst + n, 0.0f);  // no gradient yet: contributes nothing
    dst += n;
  }
  b.summing = comm_.allreduce_sum_async(b.data.data(), int64_t(b.data.size()));
  b.started = true;
}

void GradientSync::finish() {
  // In bucket order: every rank starts the buckets a backward pass left (if any) in the same order.
  for (Bucket& b : buckets_)
    if (!b.started) start(b);
  for (Bucket& b : buckets_) {
    b.summing.get();
    const float* src = b.data.data();
    for (Param* p : b.params) {
      const int64_t n = p->data.numel();
      if (p->grad.numel() == n) std::memcpy(p->grad.raw(), src, size_t(n) * sizeof(float));
      src += n;
    }
    b.started = false;
    b.pending = b.users;
  }
}

void scale_gradient(Tensor& t, float factor) {
  if (factor == 1.0f) return;
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] *= factor;
}

void sum_over_ranks(dist::Communicator& comm, std::vector<double>& values) {
  if (comm.distributed()) comm.allreduce_sum(values.data(), int64_t(values.size()));
}

void average_buffers(const Graph& graph, dist::Communicator& comm) {
  if (!comm.distributed()) return;
  std::vector<Param*> stats;
  for (const Node& n : graph.nodes())
    for (const auto& [key, p] : n.params)
      if (!p->trainable && p->data.dtype() == DType::f32) stats.push_back(p.get());
  int64_t total = 0;
  for (const Param* p : stats) total += p->data.numel();
  if (total == 0) return;
  std::vector<float> all(static_cast<size_t>(total));
  float* dst = all.data();
  for (const Param* p : stats) dst = std::copy_n(p->data.data<float>(), p->data.numel(), dst);
  comm.allreduce_sum(all.data(), total);
  const float inv = 1.0f / float(comm.size());
  const float* src = all.data();
  for (Param* p : stats) {
    float* d = p->data.data<float>();
    for (int64_t i = 0; i < p->data.numel(); ++i) d[i] = src[i] * inv;
    src += p->data.numel();
    p->touch();
  }
}

}  // namespace nimble::train
