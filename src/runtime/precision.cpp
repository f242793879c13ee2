#include "nimble/runtime/precision.hpp"

#include <dnnl.hpp>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::automatic:
      return "auto";
    case Precision::fp32:
      return "fp32";
    case Precision::bf16:
      return "bf16";
    case Precision::fp16:
      return "fp16";
  }
  return "?";
}

Precision precision_from_name(const std::string& name) {
  for (Precision p : {Precision::automatic, Precision::fp32, Precision::bf16, Precision::fp16})
    if (name == precision_name(p)) return p;
  throw Error("unknown precision '" + name + "' (expected auto, fp32, bf16 or fp16)");
}

DType low_dtype(Precision p) {
  switch (p) {
    case Precision::automatic:
    case Precision::fp32:
      return DType::f32;
    case Precision::bf16:
      return DType::bf16;
    case Precision::fp16:
      return DType::f16;
  }
  return DType::f32;
}

PrecisionSupport precision_support(Precision p) {
  // The ISA oneDNN dispatches to (honours ONEDNN_MAX_CPU_ISA, so a run can pretend to be an
  // older CPU). The ISA values are bit sets: avx512_core_bf16 contains avx512_core, amx contains both.
  const unsigned isa = unsigned(dnnl::get_effective_cpu_isa());
  const unsigned bf16_isa = unsigned(dnnl::cpu_isa::avx512_core_bf16);
  const unsigned amx_isa = unsigned(dnnl::cpu_isa::avx512_core_amx);
  switch (p) {
    case Precision::automatic:
    case Precision::fp32:
      return {true, "fp32 kernels"};
    case Precision::bf16:
      if ((isa & amx_isa) == amx_isa) return {true, "AMX-BF16 tiles (oneDNN avx512_core_amx)"};
      if ((isa & bf16_isa) == bf16_isa) return {true, "AVX512-BF16 (oneDNN avx512_core_bf16)"};
      return {false, "this CPU has no AVX512-BF16/AMX, so oneDNN emulates bf16 with fp32 instructions"};
    case Precision::fp16:
      // oneDNN 2.6 has fp16 only in reorders on CPUs, even where AVX512-FP16 exists.
      return {false, "oneDNN 2.6 has no CPU fp16 kernels: values are stored in fp16 and computed in fp32"};
  }
  return {};
}

PrecisionChoice choose_precision(Precision requested) {
  PrecisionChoice c;
  if (requested == Precision::automatic) {
    PrecisionSupport bf16 = precision_support(Precision::bf16);
    if (bf16.native) {
      c.precision = Precision::bf16;
      c.reason = "auto: this CPU trains natively in bf16 on " + bf16.detail;
    } else {
      c.precision = Precision::fp32;
      c.reason = "auto: " + bf16.detail + ", so fp32 is fastest here";
    }
    return c;
  }
  c.precision = requested;
  PrecisionSupport s = precision_support(c.precision);
  c.emulated = !s.native;
  c.reason = std::string("requested; ") + (s.native ? "native: " : "emulated: ") + s.detail;
  if (c.emulated && c.precision == Precision::bf16) c.reason += "; likely slower than fp32";
  return c;
}

OpPrecisionRule op_precision_rule(Precision p, const Node& node, const std::vector<Shape>& in) {
  const LowPrecision low = op_traits(node.op).low_precision;
  if (p == Precision::fp32 || low == LowPrecision::needs_fp32) return OpPrecisionRule::fp32;
  if (!precision_support(p).native) return OpPrecisionRule::emulated;
  switch (low) {
    case LowPrecision::computes_low:
      // conv2d, linear. A conv2d over one input channel trains slower on oneDNN 2.6's bf16 kernel than on its fp32
      // one, on Sapphire Rapids (no AMX kernel for it) and Zen 4 alike (bench/probes/stem_conv_training.cpp;
      // docs/results.md, Kernels and probes), and oneDNN cannot write bf16 from an fp32
      // convolution; the layer computes in fp32 on our own kernel and stores in low precision
      // (kernels/ops/conv2d_single_channel_kernel.hpp).
      // batch_norm2d: statistics stay fp32; the hand-written training kernel writes its output in
      // low precision even from an fp32 input (after a one-channel stem), so what follows does too.
      return OpPrecisionRule::low;
    case LowPrecision::fp32_kernel:
      return OpPrecisionRule::emulated;  // e.g. fake_quant's hand-written fp32 kernel
    default:
      return OpPrecisionRule::follow;
  }
}

std::vector<PolicyRow> precision_policy_table(Precision p) {
  const std::string low = precision_name(p);
  if (p == Precision::fp32)
    return {{"all ops", "fp32", "fp32", "the reference precision"}, {"optimizer, master weights", "fp32", "fp32", ""}};
  if (!precision_support(p).native)
    return {{"all ops but softmax", "fp32 (emulated)", low,
             "no native " + low + " kernels here: inputs widened to fp32, outputs rounded to " + low},
            {"softmax", "fp32", "fp32", "exp/sum need fp32 range"},
            {"loss, loss scaling, optimizer", "fp32", "fp32", "master weights and their update stay fp32"},
            {"weights", "fp32", "fp32 master", "used in fp32 by the emulated kernels"}};
  return {
      {"conv2d, linear", low, low, "matrix work on " + precision_support(p).detail + "; fp32 bias; fp32 accumulation"},
      {"conv2d with 1 input channel", "fp32", low,
       "oneDNN 2.6's " + low + " kernel for it trains slower than its fp32 one and it has no fp32 convolution with a " +
           low + " output: a hand-written AVX-512 kernel computes in fp32 and stores " + low +
           " (where it does not apply, oneDNN's fp32 kernel stores fp32)"},
      {"relu, relu6, hardswish, sigmoid, tanh, silu, hardsigmoid, pools, add, mul, concat, slice, channel_shuffle, "
       "flatten, reshape, dropout",
       "input's dtype", "input's dtype", "memory-bound: low precision halves the traffic"},
      {"global_avg_pool", "input's dtype (fp32 accumulation)", "input's dtype", "oneDNN accumulates in fp32"},
      {"batch_norm2d", low + " data, fp32 statistics", low,
       "mean/variance, scale/shift and running stats in fp32; in training (hand-written kernel, nhwc or "
       "nChw16c on AVX-512) an fp32 input leaves as " +
           low},
      {"fake_quant", "fp32", low, "hand-written kernel; widened and rounded back"},
      {"softmax", "fp32", "fp32", "exp/sum need fp32 range"},
      {"weight gradients", "fp32", "fp32", "oneDNN accumulates them in fp32 from " + low + " activations"},
      {"loss, optimizer update, master weights", "fp32", "fp32",
       low + " weight copies refreshed once per optimizer step"},
  };
}

}  // namespace nimble
