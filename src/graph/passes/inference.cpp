// Rewrites: batch-norm folding, activation fusion, residual-add fusion (float and int8), dropout
// removal (eval), batch-norm + ReLU (train and eval), add + ReLU (train), the int8 classifier head.
#include <cmath>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::passes {

namespace {
// The node reading `value`, if it is the only reader and the value is not the graph output.
int sole_consumer(const Graph& g, const std::vector<std::vector<int>>& consumers, int value) {
  if (value == g.output() || consumers[value].size() != 1) return -1;
  return consumers[value][0];
}

bool has_activation(const Node& n) { return n.attr_str("activation", "none") != "none"; }

// Until none is left: finds a node accepted by `producer` whose output's only reader is accepted
// by `consumer`, lets `absorb(producer, consumer)` take the consumer's work into the producer,
// and removes the consumer.
template <class Producer, class Consumer, class Absorb>
Graph absorb_sole_consumers(Graph g, Producer producer, Consumer consumer, Absorb absorb) {
  for (bool changed = true; changed;) {
    changed = false;
    auto consumers = g.consumers();
    for (size_t i = 0; i < g.nodes().size() && !changed; ++i) {
      Node& p = g.nodes()[i];
      if (!producer(p)) continue;
      const int c = sole_consumer(g, consumers, p.output);
      if (c < 0 || !consumer(g.nodes()[c])) continue;
      absorb(p, g.nodes()[c]);
      g = bypass_node(g, c);
      changed = true;
    }
  }
  return g;
}

// An activation reading the output of a producer of kind `site` moves into it as its post-op.
Graph fuse_activations_into(const Graph& in, FusionSite site) {
  return absorb_sole_consumers(
      in, [site](const Node& n) { return op_traits(n.op).fusion_site == site && !has_activation(n); },
      [site](const Node& n) { return op_traits(n.op).fuses_into(site); },
      [](Node& producer, const Node& act) { producer.attrs["activation"] = std::string(op_name(act.op)); });
}

}  // namespace

Graph fold_batchnorm(const Graph& in) {
  return absorb_sole_consumers(
      in.clone(), [](const Node& n) { return n.op == OpKind::conv2d && !has_activation(n); },
      [](const Node& n) { return n.op == OpKind::batch_norm2d; },
      [](Node& conv, const Node& bn) {
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
      });
}

Graph fuse_activation(const Graph& in) { return fuse_activations_into(in, FusionSite::matmul); }

Graph fuse_batchnorm_relu(const Graph& in) { return fuse_activations_into(in, FusionSite::batch_norm); }

Graph fuse_training_activations(const Graph& in) {
  return fuse_activations_into(fuse_batchnorm_relu(in), FusionSite::add);
}

Graph remove_dropout(const Graph& in) {
  Graph g = in;
  for (size_t i = 0; i < g.nodes().size();) {
    if (op_traits(g.nodes()[i].op).removed_at_inference) {
      g = bypass_node(g, int(i));
    } else {
      ++i;
    }
  }
  return g;
}

namespace {
// Of the operands of the two-input add node `add` that a convolution accepted by
// `fusable(convolution, add)` produced for this add alone, the later one, and the slot of the other operand (the
// residual): that operand is then computed before the convolution runs (ResNet's downsample comes after conv2). {-1,
// -1} when there is none.
template <class Fusable> std::pair<int, int> residual_site(const Graph& g,
                                                           const std::vector<std::vector<int>>& consumers, int add,
                                                           Fusable fusable) {
  const Node& a = g.nodes()[size_t(add)];
  int conv = -1, residual_slot = -1;
  for (int k = 0; k < 2; ++k) {
    const int producer = g.values()[size_t(a.inputs[size_t(k)])].producer;
    if (producer < 0 || sole_consumer(g, consumers, a.inputs[size_t(k)]) != add) continue;
    const Node& p = g.nodes()[size_t(producer)];
    if (!fusable(p, a) || p.inputs.size() != 1 || has_activation(p)) continue;
    if (producer > conv && g.values()[size_t(a.inputs[size_t(1 - k)])].producer < producer) {
      conv = producer;
      residual_slot = 1 - k;
    }
  }
  return {conv, residual_slot};
}

// Until none is left: an add of kind `add_op` with a residual_site gives the convolution its
// residual as a second input, `absorb(conv, add, residual_slot)` moves the rest of its work, and
// the add is removed.
template <class Fusable, class Absorb> Graph fuse_residuals(Graph g, OpKind add_op, Fusable fusable, Absorb absorb) {
  for (bool changed = true; changed;) {
    changed = false;
    const auto consumers = g.consumers();
    for (size_t i = 0; i < g.nodes().size() && !changed; ++i) {
      const Node& add = g.nodes()[i];
      if (add.op != add_op || add.inputs.size() != 2) continue;
      const auto [conv, residual_slot] = residual_site(g, consumers, int(i), fusable);
      if (conv < 0) continue;
      Node& c = g.nodes()[size_t(conv)];
      c.inputs.push_back(add.inputs[size_t(residual_slot)]);
      absorb(c, add, residual_slot);
      g.nodes()[i].inputs = {c.output};
      g = bypass_node(g, int(i));
      changed = true;
    }
  }
  return g;
}
}  // namespace

Graph fuse_residual_add(const Graph& in) {
  for (const Node& n : in.nodes())
    if (op_traits(n.op).int8 == Int8Rule::int8_op) return in;  // an int8 residual carries a scale the sum would drop
  return fuse_residuals(
      in, OpKind::add, [](const Node& p, const Node&) { return p.op == OpKind::conv2d; },
      [](Node&, const Node&, int) {});
}

Graph fuse_residual_qadd(const Graph& in) {
  return fuse_residuals(
      in, OpKind::qadd,
      // The sum is written where the residual was put: only an int8 result can hold it.
      [](const Node& p, const Node& add) {
        return p.op == OpKind::qconv2d && qparams(add, "dst_", true).dtype != DType::f32;
      },
      [](Node& conv, const Node& add, int residual_slot) {
        const std::string r = "src" + std::to_string(residual_slot) + "_";
        set_qparams(conv.attrs, "residual_", qparams(add, r, false));
        set_qparams(conv.attrs, "dst_", qparams(add, "dst_", true));
        conv.attrs["activation"] = add.attr_str("activation", "none");
      });
}

Graph fuse_global_pool_into_qlinear(const Graph& in) {
  Graph g = in;
  for (bool changed = true; changed;) {
    changed = false;
    const auto consumers = g.consumers();
    for (size_t i = 0; i < g.nodes().size() && !changed; ++i) {
      const Node& fc = g.nodes()[i];
      if (fc.op != OpKind::qlinear || fc.attr_int("global_pool", 0) != 0) continue;
      const int flat = g.values()[size_t(fc.inputs[0])].producer;
      if (flat < 0 || g.nodes()[size_t(flat)].op != OpKind::flatten || sole_consumer(g, consumers, fc.inputs[0]) < 0)
        continue;
      const Node& f = g.nodes()[size_t(flat)];
      const int pool = g.values()[size_t(f.inputs[0])].producer;
      if (pool < 0 || g.nodes()[size_t(pool)].op != OpKind::global_avg_pool ||
          sole_consumer(g, consumers, f.inputs[0]) < 0)
        continue;
      g.nodes()[i].attrs["global_pool"] = int64_t(1);
      g = bypass_node(bypass_node(g, flat), pool);  // pool < flat: its id is unchanged by the first
      changed = true;
    }
  }
  return g;
}

Graph optimize_for_inference(const Graph& g) {
  return fuse_batchnorm_relu(fuse_activation(fold_batchnorm(remove_dropout(g))));
}

Graph optimize_for_session(const Graph& g) {
  return fuse_global_pool_into_qlinear(
      fuse_residual_qadd(fuse_activation(fuse_residual_add(optimize_for_inference(g)))));
}

}  // namespace nimble::passes
