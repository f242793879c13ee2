#pragma once
// The op registry: what each op file provides. No oneDNN here; the compile hook's types are
// declared by the runtime's internal headers.
#include <memory>
#include <vector>

#include "nimble/graph/graph.hpp"

namespace nimble {

namespace runtime { struct Kernel; struct KernelBuilder; }

struct OpDef {
  const char* name;
  int min_inputs, max_inputs;
  // Output shape from input shapes (batch first); throws Error on mismatch.
  Shape (*infer)(const Node& node, const std::vector<Shape>& in);
  // Creates the node's parameters (may be null for parameter-free ops).
  void (*init_params)(Node& node, const std::vector<Shape>& in, Rng& rng);
  // Multiply-accumulates for the given shapes (null: counts as 0).
  int64_t (*macs)(const Node& node, const std::vector<Shape>& in, const Shape& out);
  // Plain-loop fp32 NCHW reference: the test oracle.
  Tensor (*reference)(const Node& node, const std::vector<Tensor>& in, bool training);
  // Builds the runtime kernel (oneDNN primitives) for this node.
  std::unique_ptr<runtime::Kernel> (*compile)(runtime::KernelBuilder& b);
  // Whether the kernel accepts u8/s8 inputs (int8 ops, pooling, reshapes). The Session refuses
  // to feed int8 into any other op: a plain reorder would drop the scale silently.
  bool takes_int8 = false;
};

const OpDef& op_def(OpKind op);

}  // namespace nimble
