#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nimble/graph/graph.hpp"
#include "nimble/runtime/precision.hpp"

namespace nimble {

class Model;

enum class Mode { eval, train };

struct SessionOptions {
  int64_t batch = 1;
  Mode mode = Mode::eval;
  // Eval: fold batch-norm into convolutions and fuse activations before compiling. Train: fuse
  // batch-norm + ReLU (parameters stay shared with the caller's graph).
  bool optimize = true;
  // Applied per op by the precision policy (runtime/precision.hpp). Parameters stay fp32 masters.
  Precision precision = Precision::fp32;
  // Eval: time oneDNN's candidate implementations of each convolution and linear layer and keep
  // the fastest (kernels/fastest_implementation.hpp). Costs compile time; for sessions that run
  // many times and whose speed is reported or decided on (bench, the int8 speed gate, the
  // before/after latencies of quantize, prune and distill).
  bool choose_kernels_by_timing = false;
  // OpenMP threads the session compiles and runs with (0: OpenMP's count when it compiles). oneDNN
  // splits a kernel's work when it is created, so the count is fixed for the session's life. One
  // thread can be faster for a small model at batch 1: a parallel region costs microseconds.
  int threads = 0;
  // Train: batch-norm normalises by the statistics of the whole batch across the ranks of an
  // mpirun launch (synchronised batch-norm) instead of this rank's slice; a collective per layer.
  // It runs in the hand-written kernels, in channels-last (an input in another layout is
  // converted), also on one process, where there is nothing to synchronise.
  bool sync_batch_norm = false;
};

// A Graph compiled once for a batch size and mode into cached oneDNN primitives with negotiated
// (blocked) layouts; activations stay in those layouts between layers and are reordered only at
// the graph boundary. In train mode the Session shares the Graph's parameters: backward() writes
// their gradients and an optimizer that changes them calls Param::touch().
//
// Thread safety: a Session holds its own buffers and is used by one thread at a time; run one
// Session per thread. The Graph or Model it was made from may be shared (read only) by many.
class Session {
 public:
  Session(const Graph& graph, SessionOptions options = {});
  // For inference on raw images: compiles `model`'s graph and keeps its preprocessing for run().
  Session(const Model& model, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // input: (batch, ...) f32 in plain NCHW; the output is f32 whatever the precision. Returns the
  // output in plain layout: a view of a buffer the next call overwrites.
  const Tensor& forward(const Tensor& input);
  // Any number of images, in chunks of the session's batch (the last one padded): uint8 pixels
  // (N, C, H, W), channels-last (N, H, W, C) or (N, H, W) for one channel, with the model's
  // preprocessing applied; or f32 (N, C, H, W) already preprocessed. Returns (N, outputs...) f32:
  // a new tensor the caller owns. Eval-mode sessions only.
  Tensor run(const Tensor& images);
  // diff_output: gradient of the loss with respect to forward()'s output (plain, same shape).
  void backward(const Tensor& diff_output);
  // The same with gradients that also arrive at intermediate values of graph() (plain f32 of the
  // value's shape), e.g. from a feature-distillation loss on a hidden layer.
  void backward(const Tensor& diff_output, const std::vector<std::pair<int, Tensor>>& value_grads);

  // Train: random ops (dropout) draw from here on as if `passes` forward passes had run since the
  // session was compiled. A resumed training run sets the passes it had taken, so its masks are
  // the ones the uninterrupted run draws.
  void set_forward_passes(int64_t passes);

  // Called after each node's backward with the node's index in graph(), when the gradients of its
  // parameters are written (data-parallel training starts summing them while backward goes on).
  void set_backward_observer(std::function<void(size_t node)> observer);

  // Per node of graph(): the median time of its forward kernel in ms over `iters` forward passes
  // (after one warm-up), each kernel timed on its own. For deciding per layer what pays.
  std::vector<double> profile(const Tensor& input, int iters);
  // The same times unreduced: per node, one per pass in pass order.
  std::vector<std::vector<double>> profile_samples(const Tensor& input, int iters);
  // Value `id` of graph() as computed by the last forward(), as a plain f32 tensor (a copy): for
  // calibration and inspection. Throws Error for int8 values (their scale lives in the graph).
  // In an optimized eval session a residual fused into a convolution (passes::fuse_residual_add)
  // may share that convolution's output buffer: read values of a session with optimize = false.
  Tensor value(int id);
  const Graph& graph() const;  // the compiled graph (after eval-mode fusion)
  int64_t batch() const;
  Mode mode() const;
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimble
