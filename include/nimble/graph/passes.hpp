#pragma once
// Graph -> Graph transformations. Each returns a new graph; the input is left untouched.
#include "nimble/graph/graph.hpp"

namespace nimble::passes {

// Folds every batch-norm that directly follows a convolution (and is its only consumer) into
// that convolution's weights and bias, using the running statistics. Eval-mode only.
Graph fold_batchnorm(const Graph& g);
// Moves an activation that has a oneDNN algorithm (relu, relu6, hardswish, sigmoid, silu) and is
// the only consumer of a convolution or linear output into that node's `activation` attribute.
Graph fuse_activation(const Graph& g);
// Moves a ReLU or ReLU6 that is the only consumer of a batch-norm into its `activation`
// attribute (one pass over the data less forward and backward where the kernel fuses it).
// Parameters stay shared, so it is safe for training.
Graph fuse_batchnorm_relu(const Graph& g);
// What a train Session compiles: fuse_batchnorm_relu, then a ReLU or ReLU6 that is the only
// consumer of an add moves into its `activation` attribute (ResNet's shortcuts: one pass over
// the sum less forward, and backward one masked pass instead of the ReLU's plus the add's copies).
Graph fuse_training_activations(const Graph& g);
// Removes dropout nodes (identity at inference).
Graph remove_dropout(const Graph& g);
// Dropout removal, batch-norm folding, activation fusion, then batch-norm + ReLU: the float
// inference graph that quantization and export start from.
Graph optimize_for_inference(const Graph& g);
// Moves an add whose operand is a convolution's output (its only use) into that convolution as a
// second, residual input: y = activation(conv(x) + residual), the residual summed in place by
// the convolution kernel rather than in a pass of its own (ResNet's shortcuts). Inference
// sessions only (the fused convolution has no backward); float graphs only (an int8 graph is
// returned as it is). Run fuse_activation after it to fold the ReLU that follows the add.
Graph fuse_residual_add(const Graph& g);
// The same for int8 graphs: a qadd whose operand is a qconv2d's output (its only use, no
// activation of its own) and whose result is int8 moves into that qconv2d as its residual input,
// taking the qadd's output quantization and activation. One rounding of the sum instead of two,
// and one pass over the data less. Inference sessions only.
Graph fuse_residual_qadd(const Graph& g);
// An int8 classifier head, global_avg_pool -> flatten -> qlinear (each the only reader of the one
// before), becomes that qlinear with global_pool = 1 reading the pooling's input: one kernel
// instead of three, each of which cost a small model's batch-1 call a fixed few tenths of a
// microsecond. The same values: the pooled integers are rounded as the pooling rounded them.
// Inference sessions only.
Graph fuse_global_pool_into_qlinear(const Graph& g);
// What an eval Session compiles: optimize_for_inference, then residual-add (float and int8),
// activation and int8 classifier-head fusion.
Graph optimize_for_session(const Graph& g);

// Drops every node whose output does not reach the graph output (what an importer leaves behind
// when it fuses a pattern), renumbering values; parameters stay shared.
Graph remove_unused_nodes(const Graph& g);

// Replaces uses of value `from` with `to` and drops nodes whose outputs nobody uses, then
// renumbers values; the helper the passes above share.
Graph bypass_node(const Graph& g, int node_id);

}  // namespace nimble::passes
