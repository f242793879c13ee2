#pragma once
// Mixed precision: which precisions this CPU runs natively, which one `auto` picks, and the
// policy that says, per op, what it computes in and what it stores. The policy lives here and
// nowhere else; the Session applies it when it compiles a graph.
#include <string>
#include <utility>
#include <vector>

#include "nimble/core/dtype.hpp"
#include "nimble/core/shape.hpp"

namespace nimble {

struct Node;

// `automatic` is a request, never what runs: choose_precision turns it into one of the others.
enum class Precision { automatic, fp32, bf16, fp16 };

const char* precision_name(Precision p);                 // "auto", "fp32", "bf16", "fp16"
Precision precision_from_name(const std::string& name);  // the inverse; throws Error on other names
DType low_dtype(Precision p);                            // f32, bf16 or f16

// Whether oneDNN on this CPU has real kernels for a precision, and what it runs on.
struct PrecisionSupport {
  bool native = false;
  std::string detail;  // e.g. "AMX-BF16 (avx512_core_amx)" or why it is emulated
};
PrecisionSupport precision_support(Precision p);

// The precision a run uses, and a one-line reason printed with every run.
struct PrecisionChoice {
  Precision precision = Precision::fp32;
  bool emulated = false;  // computed via fp32: correct, but likely slower than fp32
  std::string reason;
  // `auto` decided by timing: each candidate's step times (ms, one per alternating round) and
  // whether the decision was stable (decide_by_measurement). Empty when nothing was timed.
  std::vector<std::pair<std::string, std::vector<double>>> timings;
  bool stable = true;
  double others_cpu_share = -1;  // of the machine's CPU time while timing, other processes' (-1: unknown)
};
// automatic picks the fastest precision this CPU runs natively for training and never an emulated
// one; the others are taken as requested, flagged when emulated.
PrecisionChoice choose_precision(Precision requested);

// How one op runs under a precision.
enum class OpPrecisionRule {
  fp32,      // computes and stores fp32 (converts low-precision inputs)
  low,       // converts its inputs to the low dtype, computes and stores in it (conv, linear)
  follow,    // computes in whatever dtype its input arrives in (elementwise, pooling, batch-norm)
  emulated,  // no kernel for the low dtype: inputs widened to fp32, computed in fp32, output
             // stored back in the low dtype
};
OpPrecisionRule op_precision_rule(Precision p, const Node& node, const std::vector<Shape>& input_shapes);

// One row of `nimble info --precision-policy`.
struct PolicyRow {
  std::string ops, computes, stores, why;
};
std::vector<PolicyRow> precision_policy_table(Precision p);

}  // namespace nimble
