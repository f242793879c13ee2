#pragma once
// The interface between the Session and an op's kernel: what compiling a node sees (KernelBuilder),
// what running it gets (KernelArgs), and the Kernel itself. Internal: includes oneDNN.
#include <memory>
#include <vector>

#include "kernels/dnnl_glue.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble::kernels {

struct KernelBuilder {
  const Node& node;
  Mode mode;
  const dnnl::engine& engine;
  std::vector<kernels::md> src_desc;  // layouts of the inputs as their producers made them
  std::vector<Shape> src_shape;
  Shape dst_shape;
  std::vector<bool> need_diff_src;  // per input: whether backward must produce its gradient
  DType compute = DType::f32;       // what conv/linear compute in (the precision policy's choice)
  kernels::md dst_desc;             // set by the op: the layout it produces
  bool choose_by_timing = false;    // SessionOptions::choose_kernels_by_timing
  bool sync_batch_norm = false;     // SessionOptions::sync_batch_norm
  // Set by the op: the input its output may share a buffer with (it adds into that input in place;
  // the session shares it when nothing reads the input afterwards). -1: none.
  int dst_may_share_input = -1;
  bool training() const { return mode == Mode::train; }
};

struct KernelArgs {
  std::vector<dnnl::memory> src;       // forward inputs, in src_desc layouts
  dnnl::memory dst;                    // forward output, in dst_desc
  dnnl::memory diff_dst;               // backward: gradient of dst, in dst_desc
  std::vector<dnnl::memory> diff_src;  // backward: overwritten with gradients, in src_desc layouts
};

struct Kernel {
  virtual ~Kernel() = default;
  virtual void forward(dnnl::stream& s, KernelArgs& a) = 0;
  virtual void backward(dnnl::stream& s, KernelArgs& a) = 0;
  // Random kernels (dropout) draw from here on as if `passes` forward passes had run since they
  // were compiled (Session::set_forward_passes).
  virtual void set_forward_passes(int64_t /*passes*/) {}
};

// Builds the kernel of b.node (oneDNN primitives or a hand-written loop) and sets b.dst_desc.
using CompileFn = std::unique_ptr<Kernel> (*)(KernelBuilder& b);

// Wraps an op that has no kernel for `storage`: its inputs are widened to fp32, it computes in
// fp32, and its output (and in backward the input gradients) are rounded back to `storage`.
std::unique_ptr<Kernel> compile_emulated(KernelBuilder& b, DType storage, CompileFn compile);

// Ops without a backward in a given configuration use this to fail loudly.
[[noreturn]] void no_backward(const Node& node);

}  // namespace nimble::kernels
