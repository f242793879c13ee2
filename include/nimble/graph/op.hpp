#pragma once
// The op registry: what each op file under src/graph/ops/ declares — its semantics (shape
// inference, parameters, MACs, reference kernel) and its traits, which passes query instead of
// keeping lists of op names. How an op runs lives in src/kernels/. No oneDNN here.
#include <vector>

#include "nimble/graph/graph.hpp"

namespace nimble {

// oneDNN's element-wise algorithms (oneDNN 2.6's eltwise_*), in our own words so that the graph
// needs no oneDNN; kernels/dnnl_glue.cpp maps them. `none`: oneDNN has no such function, and
// the generic element-wise kernel loops over the op's scalar functions.
enum class EltwiseAlgorithm : unsigned char {
  none,
  relu,
  tanh,
  elu,
  square,
  abs,
  sqrt,
  swish,
  linear,
  soft_relu,
  logsigmoid,
  mish,
  logistic,
  exp,
  gelu_tanh,
  gelu_erf,
  log,
  clip,
  clip_v2,
  pow,
  round,
  hardswish,
};

// Where an activation can run as the post-op of the node before it (its `activation` attribute).
enum class FusionSite : unsigned char {
  none,
  matmul,      // conv2d, linear: a oneDNN post-op (passes::fuse_activation)
  batch_norm,  // a clamp inside the batch-norm kernels (passes::fuse_batchnorm_relu)
  add,         // add: inside its training kernel (passes::fuse_training_activations) and inside the
               // int8 add that quant::convert makes of it
};
// How channel pruning (prune/channel.cpp) treats the op's channels (dim 1).
enum class ChannelRule : unsigned char {
  unset,
  mixes,                // output channels mix input channels (reshape, softmax): none can be removed
  per_channel,          // output channel c from input channel c alone, and a zero channel stays zero
  per_channel_nonzero,  // output channel c from input channel c alone, but f(0) != 0 (sigmoid)
  sums_inputs,          // output channel c is the sum of the inputs' channels c (add)
  concatenates,         // the inputs' channels one after another along the concat axis
  layer,                // weights (O, ...): its output channels are weight rows, pruned with them
  flattens,             // (N, C, ...) -> (N, C * ...): each channel becomes a run of features
  int8,                 // an int8 op: prune the float model, then quantize
};

// What quant::convert (quant/quantize.cpp) does with the op.
enum class Int8Rule : unsigned char {
  unset,
  float_only,      // runs in float: an int8 input is dequantized first
  has_int8_form,   // replaced by its int8 op (conv2d -> qconv2d, linear -> qlinear, add -> qadd)
  passes_through,  // runs on int8 as it is, same scale out as in (pooling, reshapes)
  int8_op,         // an op of the converted graph itself
};

// What the op computes in when the session runs in bf16 or fp16 (runtime/precision.cpp turns it
// into the session's rule; in fp32 everything is fp32).
enum class LowPrecision : unsigned char {
  unset,
  follows_input,  // computes in the dtype its input arrives in (memory-bound ops)
  computes_low,   // converts its inputs to the low dtype, computes and stores in it
  needs_fp32,     // always fp32 (softmax's exp/sum range; dqlinear quantizes its fp32 input)
  fp32_kernel,    // has an fp32 kernel only: run emulated (widened, rounded back)
  int8,           // an int8 op: it carries its own scales, no precision applies
};

// (Flat fields only: GCC 12 warns about class-type members left out of a designated initializer.)
struct OpTraits {
  // An element-wise op (y = f(x) per element) declares f and f'(x) given y = f(x); the kernel
  // registry runs it on the generic element-wise kernel and its reference is f over every element.
  float (*scalar)(float x) = nullptr;
  float (*scalar_grad)(float x, float y) = nullptr;
  // The same function in oneDNN, if it has it, and its parameters (oneDNN's meaning).
  EltwiseAlgorithm onednn_eltwise = EltwiseAlgorithm::none;
  float onednn_alpha = 0.0f, onednn_beta = 0.0f;
  // For activations: the sites they can be fused into. For producers: the kind of site they are.
  bool fuses_into_matmul = false, fuses_into_batch_norm = false, fuses_into_add = false;
  FusionSite fusion_site = FusionSite::none;
  // Weights (O, ...), one row per output channel: what magnitude pruning masks, quantization
  // quantizes per channel and fake-quantizes in training (conv2d, linear).
  bool weight_layer = false;
  ChannelRule channels = ChannelRule::unset;
  Int8Rule int8 = Int8Rule::unset;
  // Whether the kernel accepts u8/s8 inputs (int8 ops, pooling, reshapes). The Session refuses
  // to feed int8 into any other op: a plain reorder would drop the scale silently.
  bool takes_int8 = false;
  LowPrecision low_precision = LowPrecision::unset;
  bool removed_at_inference = false;  // identity in eval (dropout): passes::remove_dropout drops it

  bool elementwise() const { return scalar != nullptr; }
  bool fuses_into(FusionSite site) const {
    return (site == FusionSite::matmul && fuses_into_matmul) ||
           (site == FusionSite::batch_norm && fuses_into_batch_norm) || (site == FusionSite::add && fuses_into_add);
  }
};

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
  OpTraits traits;
};

const OpDef& op_def(OpKind op);
inline const OpTraits& op_traits(OpKind op) { return op_def(op).traits; }

// The element-wise op named by a node's `activation` attribute (null for "none": the identity);
// throws Error for a name that is no element-wise op.
const OpTraits* fused_activation(const std::string& name);
float apply_activation(const std::string& name, float x);

}  // namespace nimble
