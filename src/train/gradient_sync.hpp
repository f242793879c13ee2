#pragma once
// Data-parallel gradient summing (internal to the trainer). The trainable parameters are packed
// into buckets of about 25 MB in reverse graph order, fixed once (PyTorch DDP's buckets, Horovod's
// tensor fusion): backward reaches the last layers first, so the first bucket is ready first and
// is summed on the communication thread while backward computes the rest. finish() waits for every
// bucket and leaves each gradient as the sum over the ranks (the trainer scales each rank's loss
// gradient by 1/N first, so the sum is the whole batch's mean gradient).
#include <cstdint>
#include <future>
#include <map>
#include <vector>

#include "nimble/dist/communicator.hpp"
#include "nimble/graph/graph.hpp"

namespace nimble::train {

class GradientSync {
 public:
  // `graph`: the session's compiled graph (node indices as its backward observer reports them).
  GradientSync(const Graph& graph, dist::Communicator& comm, int64_t bucket_bytes = int64_t(25) << 20);
  // Node `node`'s backward has written its parameters' gradients.
  void node_done(size_t node);
  // Waits for every bucket (starting any a backward pass did not complete) and writes the sums.
  void finish();
  int ranks() const { return comm_.size(); }
  size_t buckets() const { return buckets_.size(); }
  // Buckets already summing (or summed) before finish(): those backward started.
  size_t started() const {
    size_t n = 0;
    for (const Bucket& b : buckets_) n += b.started ? 1 : 0;
    return n;
  }
  // Sums `values` over the same ranks.
  void sum(std::vector<double>& values) { comm_.allreduce_sum(values.data(), int64_t(values.size())); }

 private:
  struct Bucket {
    std::vector<Param*> params;
    std::vector<float> data;
    int pending = 0, users = 0;  // parameter uses still to come in this backward pass; all uses
    std::future<void> summing;
    bool started = false;
  };
  void start(Bucket& b);

  dist::Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::vector<std::vector<size_t>> node_buckets_;  // per node: one entry per parameter use
};

// Multiplies a loss gradient by `factor` (a rank's 1/N share of the batch's mean, a loss scale);
// nothing at 1.
void scale_gradient(Tensor& t, float factor);

// Sums `values` over the ranks in place (a no-op on one rank).
void sum_over_ranks(dist::Communicator& comm, std::vector<double>& values);
// Replaces every float buffer (batch-norm running statistics, fake quantization's observed ranges)
// with its mean over the ranks: each rank saw its own slice of every batch, and the model any rank
// saves must describe all of them.
void average_buffers(const Graph& graph, dist::Communicator& comm);

}  // namespace nimble::train
