// Rewrites: batch-norm folding, activation fusion, dropout removal (eval), batch-norm + ReLU (train and eval).
#include <cmath>

#include "nimble/core/error.hpp"
#include "nimble/graph/passes.hpp"

namespace nimble::passes {

namespace {
bool is_activation(OpKind op) {
  return op == OpKind::relu || op == OpKind::relu6 || op == OpKind::hardswish || op == OpKind::sigmoid;
}

// The node reading `value`, if it is the only reader and the value is not the graph output.
int sole_consumer(const Graph& g, const std::vector<std::vector<int>>& consumers, int value) {
  if (value == g.output() || consumers[value].size() != 1) return -1;
  return consumers[value][0];
}
}  // namespace

Graph fold_batchnorm(const Graph& in) {
  Graph g = in.clone();
  for (bool changed = true; changed;) {
    changed = false;
    auto consumers = g.consumers();
    for (size_t i = 0; i < g.nodes().size(); ++i) {
      Node& conv = g.nodes()[i];
      if (conv.op != OpKind::conv2d || conv.attr_str("activation", "none") != "none") continue;
      int bn_id = sole_consumer(g, consumers, conv.output);
      if (bn_id < 0 || g.nodes()[bn_id].op != OpKind::batch_norm2d) continue;
      const Node& bn = g.nodes()[bn_id];
      const float eps = float(bn.attr_float("eps", 1e-5));
      const float* gamma = bn.param("scale").data.data<float>();
      const float* beta = bn.param("shift").data.data<float>();
      const float* mean = bn.param("running_mean").data.data<float>();
      const float* var = bn.param("running_var").data.data<float>();
      Tensor& w = conv.params.at("weights")->data;  // (O, I/G, KH, KW)
      const int64_t oc = w.shape()[0], per_oc = w.numel() / oc;
      if (!conv.param_ptr("bias")) {
        auto bias = std::make_shared<Param>();
        bias->data = Tensor({oc});
        bias->grad = Tensor({oc});
        conv.params["bias"] = bias;
        conv.attrs["bias"] = int64_t(1);
      }
      float* b = conv.params.at("bias")->data.data<float>();
      float* wd = w.data<float>();
      for (int64_t o = 0; o < oc; ++o) {
        const float k = gamma[o] / std::sqrt(var[o] + eps);
        for (int64_t j = 0; j < per_oc; ++j) wd[o * per_oc + j] *= k;
        b[o] = (b[o] - mean[o]) * k + beta[o];
      }
      conv.params.at("weights")->touch();
      conv.params.at("bias")->touch();
      conv.attrs["activation"] = bn.attr_str("activation", "none");  // a ReLU fused into the batch-norm
      g = bypass_node(g, bn_id);
      changed = true;
      break;
    }
  }
  return g;
}

Graph fuse_activation(const Graph& in) {
  Graph g = in;
  for (bool changed = true; changed;) {
    changed = false;
    auto consumers = g.consumers();
    for (size_t i = 0; i < g.nodes().size(); ++i) {
      Node& producer = g.nodes()[i];
      if ((producer.op != OpKind::conv2d && producer.op != OpKind::linear) ||
          producer.attr_str("activation", "none") != "none")
        continue;
      int act_id = sole_consumer(g, consumers, producer.output);
      if (act_id < 0 || !is_activation(g.nodes()[act_id].op)) continue;
      producer.attrs["activation"] = std::string(op_name(g.nodes()[act_id].op));
      g = bypass_node(g, act_id);
      changed = true;
      break;
    }
  }
  return g;
}

Graph fuse_batchnorm_relu(const Graph& in) {
  Graph g = in;
  for (bool changed = true; changed;) {
    changed = false;
    auto consumers = g.consumers();
    for (size_t i = 0; i < g.nodes().size(); ++i) {
      Node& bn = g.nodes()[i];
      if (bn.op != OpKind::batch_norm2d || bn.attr_str("activation", "none") != "none") continue;
      int act_id = sole_consumer(g, consumers, bn.output);
      if (act_id < 0 || g.nodes()[act_id].op != OpKind::relu) continue;
      bn.attrs["activation"] = std::string("relu");
      g = bypass_node(g, act_id);
      changed = true;
      break;
    }
  }
  return g;
}

Graph remove_dropout(const Graph& in) {
  Graph g = in;
  for (size_t i = 0; i < g.nodes().size();) {
    if (g.nodes()[i].op == OpKind::dropout) {
      g = bypass_node(g, int(i));
    } else {
      ++i;
    }
  }
  return g;
}

Graph optimize_for_inference(const Graph& g) {
  return fuse_batchnorm_relu(fuse_activation(fold_batchnorm(remove_dropout(g))));
}

}  // namespace nimble::passes
