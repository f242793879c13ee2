#pragma once
// A small graph that uses every op added for the ONNX importer (silu, hardsigmoid, mul with a
// squeeze-excitation gate, slice, channel_shuffle, pooling with [top, left, bottom, right]
// padding) between ordinary layers, for the checkpoint, pruning and quantization tests:
//   stem conv + bn + silu -> max pool 3x3/2 pads [1, 1, 2, 2] (ceil_mode)
//   -> slice halves; right: 1x1 (16) + bn + relu -> 3x3 depthwise + bn -> 1x1 (8) + bn + relu
//   -> concat -> channel_shuffle(2) -> SE gate (gap, 1x1, relu, 1x1, hardsigmoid) -> mul
//   -> avg pool 2x2/2 pads [0, 0, 1, 1] -> global pool -> flatten -> linear(10)
// Batch-norm statistics are randomised so that folding and removal go through real numbers.
#include "nimble/graph/graph.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::testing {

inline Graph importer_ops_graph(uint64_t seed = 3) {
  using V = std::vector<int64_t>;
  Graph g;
  Rng rng(seed);
  auto conv = [&](const std::string& name, int in, int64_t out, int64_t k, int64_t groups = 1) {
    return g.add_node(OpKind::conv2d, name, {in},
                      {{"out_channels", out}, {"kernel", V{k, k}}, {"padding", V{k / 2, k / 2}}, {"groups", groups}},
                      &rng);
  };
  auto bn = [&](const std::string& name, int in) {
    const int y = g.add_node(OpKind::batch_norm2d, name, {in}, {}, &rng);
    for (auto& [key, p] : g.nodes().back().params) {
      float* d = p->data.data<float>();
      for (int64_t i = 0; i < p->data.numel(); ++i)
        d[i] = key == "running_var" ? rng.uniform(0.5f, 2.0f)
               : key == "scale"     ? rng.uniform(0.5f, 1.5f)
                                    : rng.uniform(-0.3f, 0.3f);
    }
    return y;
  };
  int x = g.add_input("image", {3, 16, 16});
  x = g.add_node(OpKind::silu, "stem.act", {bn("stem.bn", conv("stem.conv", x, 16, 3))});
  x = g.add_node(OpKind::max_pool2d, "pool", {x},
                 {{"kernel", V{3, 3}}, {"stride", V{2, 2}}, {"padding", V{1, 1, 2, 2}}});
  const int left =
      g.add_node(OpKind::slice, "left", {x}, {{"axis", int64_t(1)}, {"start", int64_t(0)}, {"end", int64_t(8)}});
  int right = g.add_node(OpKind::slice, "right", {x}, {{"start", int64_t(8)}, {"end", int64_t(16)}});
  right = g.add_node(OpKind::relu, "branch.relu1", {bn("branch.bn1", conv("branch.pw1", right, 16, 1))});
  right = bn("branch.bn2", conv("branch.dw", right, 16, 3, 16));
  right = g.add_node(OpKind::relu, "branch.relu3", {bn("branch.bn3", conv("branch.pw2", right, 8, 1))});
  x = g.add_node(OpKind::concat, "cat", {left, right});
  x = g.add_node(OpKind::channel_shuffle, "shuffle", {x}, {{"groups", int64_t(2)}});
  int gate = g.add_node(OpKind::global_avg_pool, "se.squeeze", {x});
  gate = g.add_node(OpKind::relu, "se.relu", {conv("se.reduce", gate, 4, 1)});
  gate = g.add_node(OpKind::hardsigmoid, "se.gate", {conv("se.expand", gate, 16, 1)});
  x = g.add_node(OpKind::mul, "se.scale", {x, gate});
  x = g.add_node(OpKind::avg_pool2d, "avg", {x}, {{"kernel", V{2, 2}}, {"padding", V{0, 0, 1, 1}}});
  x = g.add_node(OpKind::flatten, "flat", {g.add_node(OpKind::global_avg_pool, "gap", {x})});
  g.add_node(OpKind::linear, "head", {x}, {{"out_features", int64_t(10)}}, &rng);
  return g;
}

}  // namespace nimble::testing
