#pragma once
// Structured (channel) pruning, dependency-aware.
//
// Channels that must disappear together are found by union-find over (value, channel) pairs:
// per-channel ops (batch-norm, activations, pooling, dropout) tie their output channel to their
// input channel, residual adds tie all inputs, depthwise convolutions tie output to input,
// concatenation ties each input to its slice of the output, flatten ties a channel to its
// features. One equivalence class is one prunable "channel"; the classes over the same values
// form a "space" (for instance all residual channels of a ResNet stage). Classes touching the
// graph input or output, or ops that mix channels in other ways (reshape, softmax, grouped
// convolutions that are not depthwise), are fixed.
//
// Pruning a class zeroes every producer in it (conv / linear output rows and bias, batch-norm
// scale and shift), so every value in the class is exactly zero; `remove_channels` then drops
// every such all-zero class, which changes no output.
#include <string>
#include <utility>
#include <vector>

#include "nimble/prune/masks.hpp"

namespace nimble::prune {

// taylor: scores measured on data (prune/taylor.hpp); the others read the weights.
enum class Criterion { l1, l2, bn, taylor };
Criterion criterion_from_name(const std::string& name);  // "l1" | "l2" | "bn" | "taylor"; throws Error otherwise
const char* criterion_name(Criterion c);

// What orders a space's channels, least important first: a criterion on the weights, or for
// `taylor` one measured score per class of the graph's ChannelGraph (prune::taylor_scores).
struct Importance {
  // Implicit: wherever an importance is asked for, a criterion on the weights is one.
  Importance(Criterion c = Criterion::l1) : criterion(c) {}  // NOLINT(google-explicit-constructor)
  Importance(Criterion c, std::vector<double> scores) : criterion(c), class_scores(std::move(scores)) {}
  Criterion criterion;
  std::vector<double> class_scores;
};

struct ChannelSpace {
  std::vector<int> values;                // value ids whose channel dimension lies in this space
  std::vector<std::vector<int>> classes;  // per class: its member ids (see ChannelGraph)
  bool prunable = true;                   // no class touches a fixed channel
};

// The channel structure of a float graph. Throws Error for int8 graphs (prune before quantizing).
struct ChannelGraph {
  explicit ChannelGraph(const Graph& g);
  std::vector<ChannelSpace> spaces;
  // Member id -> (value id, channel index along dimension 1).
  std::vector<std::pair<int, int64_t>> members;
  // Per value: the member id of its channel 0 (channels are consecutive), -1 when not tracked.
  std::vector<int> first_member;
  // Per member: its class, and per class: its space.
  std::vector<int> class_of;
  std::vector<int> space_of_class;
};

// A plan: per class of a ChannelGraph, whether it is pruned.
using ChannelPlan = std::vector<bool>;

// Prunes round(ratio * n) of the n classes of every prunable space (never all of them), the
// least important first; with `multiple_of` > 1 a space of at least that many channels keeps a
// multiple of it (oneDNN's blocked kernels run 8 or 16 channels at a time: 14 channels can be
// slower than 16). Importance of a class: the summed L1 / L2 norm of the conv and linear
// output rows that produce it, for `bn` the summed |scale| of its batch-norms (spaces without a
// batch-norm fall back to L1), for `taylor` its measured score. Throws Error unless 0 <= ratio < 1,
// and for `taylor` without one score per class.
ChannelPlan plan_channels(const Graph& g, const ChannelGraph& cg, double ratio, const Importance& importance,
                          int64_t multiple_of = 8);
// The same with a ratio per space of `cg` (space_ratios[i] for cg.spaces[i]), as a per-layer
// planner chooses them.
ChannelPlan plan_channels(const Graph& g, const ChannelGraph& cg, const std::vector<double>& space_ratios,
                          const Importance& importance, int64_t multiple_of = 8);

// Masks that zero every producer of the pruned classes.
Masks channel_masks(const Graph& g, const ChannelGraph& cg, const ChannelPlan& plan);

// The pass: a dense graph without the channels that are exactly zero everywhere they appear —
// after channel_masks, precisely the pruned classes. Convolutions, batch-norms and linear
// layers shrink; the result computes what `g` computes (up to fp32 summation order).
Graph remove_channels(const Graph& g);

// Convenience: plan, mask a copy of `g`, remove. The returned graph's MACs are what a ratio costs.
Graph prune_channels(const Graph& g, double ratio, const Importance& importance);
Graph prune_channels(const Graph& g, const std::vector<double>& space_ratios, const Importance& importance);

}  // namespace nimble::prune
