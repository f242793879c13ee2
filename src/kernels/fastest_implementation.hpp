#pragma once
// oneDNN lists several implementations for most primitives and takes the first by a static
// heuristic, which is not always the fastest: on the Sapphire Rapids Xeon an int8 1x1 convolution
// with 16 input channels at 112x112 ran faster on its VNNI kernel than on the AMX one oneDNN
// prefers (bench/probes/conv_implementations.cpp; docs/results.md, Int8 kernels). For inference
// primitives, which run many times with fixed shapes, we time the candidates once and keep the
// fastest.
// Internal: included by op kernels only.
#include "kernels/dnnl_glue.hpp"

namespace nimble::kernels {

// Replaces `pd` by the fastest of oneDNN's implementations of it that consume and produce the
// same src and dst layouts as `pd` (so nothing around the primitive changes; the weights layout
// may differ, it is reordered once). `args` are the execution arguments the primitive takes.
// Results are cached per process by shapes, layouts, data types and post-ops, so a graph that is
// compiled again (quantize's per-layer trials) pays the timing once. Reference, gemm-based and
// older-ISA kernels are not candidates. NIMBLE_KERNEL_CHOICE=first keeps oneDNN's own choice
// (and the first of fastest_of's candidates), =last the last one.
// oneDNN's implementation list points into the op descriptor `pd` was made from: call this while
// that descriptor is alive (a temporary descriptor leaves the list cut short or dangling).
void use_fastest_implementation(dnnl::primitive_desc& pd, const std::vector<int>& args);

// Of several primitives that compute the same thing (a convolution's backward-weights and a
// matmul over the same tensors, say), the index of the fastest here; cached the same way.
struct Candidate {
  dnnl::primitive_desc_base pd;  // an op's primitive_desc, or a reorder's
  std::vector<int> args;
  // Primitives that run before pd whenever it runs (layout conversions it needs), timed with it.
  std::vector<Candidate> before = {};
};
size_t fastest_of(const std::vector<Candidate>& candidates);

}  // namespace nimble::kernels
