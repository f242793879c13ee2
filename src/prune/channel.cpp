#include "nimble/prune/channel.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::prune {

Criterion criterion_from_name(const std::string& name) {
  if (name == "l1") return Criterion::l1;
  if (name == "l2") return Criterion::l2;
  if (name == "bn") return Criterion::bn;
  if (name == "taylor") return Criterion::taylor;
  throw Error("unknown channel criterion '" + name + "' (l1 | l2 | bn | taylor)");
}

const char* criterion_name(Criterion c) {
  switch (c) {
    case Criterion::l1:
      return "l1";
    case Criterion::l2:
      return "l2";
    case Criterion::bn:
      return "bn";
    case Criterion::taylor:
      return "taylor";
  }
  return "?";
}

namespace {

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(int n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(int a, int b) { parent[find(a)] = find(b); }
};

bool is_depthwise(const Node& n, const Graph& g) {
  const int64_t ic = g.values()[n.inputs[0]].shape[1];
  return n.op == OpKind::conv2d && n.attr_int("groups", 1) == ic && n.attr_int("out_channels", 0) == ic && ic > 1;
}

bool fused_activation_keeps_zero(const Node& n) {
  const OpTraits* act = fused_activation(n.attr_str("activation", "none"));
  return !act || act->channels == ChannelRule::per_channel;
}

// Norm of output row `row` of a conv / linear weight tensor (O, ...).
double row_norm(const Tensor& w, int64_t row, bool l2) {
  const int64_t len = w.numel() / w.shape()[0];
  const float* p = w.data<float>() + row * len;
  double s = 0;
  for (int64_t i = 0; i < len; ++i) s += l2 ? double(p[i]) * p[i] : std::fabs(p[i]);
  return l2 ? std::sqrt(s) : s;
}

bool row_is_zero(const Tensor& w, int64_t row) { return row_norm(w, row, false) == 0.0; }

bool bias_is_zero(const Node& n, int64_t c) {
  ParamPtr b = n.param_ptr("bias");
  return !b || b->data.data<float>()[c] == 0.0f;
}

}  // namespace

ChannelGraph::ChannelGraph(const Graph& g) {
  for (const Node& n : g.nodes())
    NIMBLE_CHECK(
        op_traits(n.op).channels != ChannelRule::layer || n.inputs.size() == 1,
        "channel pruning: '" + n.name + "' has a fused residual input; prune the model, not a session's graph");
  const auto& values = g.values();
  first_member.assign(values.size(), -1);
  for (size_t v = 0; v < values.size(); ++v) {
    if (values[v].shape.rank() < 2) continue;
    first_member[v] = int(members.size());
    for (int64_t c = 0; c < values[v].shape[1]; ++c) members.emplace_back(int(v), c);
  }
  const int count = int(members.size());
  UnionFind uf(count);
  std::vector<bool> fixed(count, false);
  auto channels = [&](int v) { return values[v].shape[1]; };
  auto fix_value = [&](int v) {
    for (int64_t c = 0; c < channels(v); ++c) fixed[first_member[v] + c] = true;
  };
  auto tie = [&](int a, int b) {  // same channel count, channel c to channel c
    NIMBLE_ASSERT(channels(a) == channels(b));
    for (int64_t c = 0; c < channels(a); ++c) uf.join(first_member[a] + int(c), first_member[b] + int(c));
  };
  fix_value(g.input());
  fix_value(g.output());
  for (const Node& n : g.nodes()) {
    const ChannelRule rule = op_traits(n.op).channels;
    NIMBLE_CHECK(rule != ChannelRule::int8, "node '" + n.name + "' is int8: prune the float model, then quantize it");
    const int out = n.output, in = n.inputs[0];
    if (rule == ChannelRule::per_channel) {
      tie(out, in);
      // a batch-norm keeps zero only with zero scale and shift (checked in remove_channels)
      if (!fused_activation_keeps_zero(n)) fix_value(out);
    } else if (rule == ChannelRule::per_channel_nonzero) {
      tie(out, in);
      fix_value(out);  // e.g. sigmoid(0) = 0.5: a pruned channel would not stay zero
    } else if (rule == ChannelRule::sums_inputs) {
      for (int v : n.inputs) tie(out, v);
    } else if (rule == ChannelRule::concatenates && n.attr_int("axis", 1) == 1) {
      int64_t offset = 0;
      for (int v : n.inputs) {
        for (int64_t c = 0; c < channels(v); ++c)
          uf.join(first_member[out] + int(offset + c), first_member[v] + int(c));
        offset += channels(v);
      }
    } else if (n.op == OpKind::conv2d) {
      if (is_depthwise(n, g))
        tie(out, in);
      else if (n.attr_int("groups", 1) != 1)
        fix_value(in), fix_value(out);
      if (!fused_activation_keeps_zero(n)) fix_value(out);
    } else if (n.op == OpKind::linear) {
      if (!fused_activation_keeps_zero(n)) fix_value(out);
    } else if (rule == ChannelRule::flattens) {
      const Shape& s = values[in].shape;
      const int64_t per_channel = s.numel() / (s[0] * s[1]);
      for (int64_t f = 0; f < channels(out); ++f)
        uf.join(first_member[out] + int(f), first_member[in] + int(f / per_channel));
    } else {
      for (int v : n.inputs) fix_value(v);  // reshape, softmax, other concat axes: channels mix
      fix_value(out);
    }
  }
  // Classes, then spaces (classes sharing a value belong to one space).
  class_of.assign(count, -1);
  std::vector<int> class_of_root(count, -1);
  std::vector<bool> class_fixed;
  std::vector<std::vector<int>> class_members;
  for (int m = 0; m < count; ++m) {
    const int r = uf.find(m);
    if (class_of_root[r] < 0) {
      class_of_root[r] = int(class_members.size());
      class_members.emplace_back();
      class_fixed.push_back(false);
    }
    const int k = class_of_root[r];
    class_of[m] = k;
    class_members[k].push_back(m);
    if (fixed[m]) class_fixed[k] = true;
  }
  UnionFind vf(int(values.size()));
  for (const auto& ms : class_members)
    for (int m : ms) vf.join(members[m].first, members[ms[0]].first);
  std::vector<int> space_of_root(values.size(), -1);
  space_of_class.assign(class_members.size(), -1);
  for (size_t k = 0; k < class_members.size(); ++k) {
    const int r = vf.find(members[class_members[k][0]].first);
    if (space_of_root[r] < 0) {
      space_of_root[r] = int(spaces.size());
      spaces.emplace_back();
    }
    ChannelSpace& sp = spaces[space_of_root[r]];
    space_of_class[k] = space_of_root[r];
    sp.classes.push_back(class_members[k]);
    if (class_fixed[k]) sp.prunable = false;
  }
  for (size_t v = 0; v < values.size(); ++v)
    if (first_member[v] >= 0) {
      auto& vs = spaces[space_of_class[class_of[first_member[v]]]].values;
      if (std::find(vs.begin(), vs.end(), int(v)) == vs.end()) vs.push_back(int(v));
    }
}

ChannelPlan plan_channels(const Graph& g, const ChannelGraph& cg, double ratio, const Importance& importance,
                          int64_t multiple_of) {
  return plan_channels(g, cg, std::vector<double>(cg.spaces.size(), ratio), importance, multiple_of);
}

ChannelPlan plan_channels(const Graph& g, const ChannelGraph& cg, const std::vector<double>& space_ratios,
                          const Importance& importance, int64_t multiple_of) {
  NIMBLE_CHECK(space_ratios.size() == cg.spaces.size(), "one channel ratio per channel space is needed");
  const Criterion criterion = importance.criterion;
  for (double ratio : space_ratios)
    NIMBLE_CHECK(ratio >= 0 && ratio < 1, "the channel ratio must be in [0, 1), got " + std::to_string(ratio));
  NIMBLE_CHECK(multiple_of >= 1, "channel counts must be rounded to a positive multiple");
  ChannelPlan plan(cg.space_of_class.size(), false);
  const auto& values = g.values();
  for (size_t space = 0; space < cg.spaces.size(); ++space) {
    const ChannelSpace& sp = cg.spaces[space];
    const double ratio = space_ratios[space];
    const int64_t n = int64_t(sp.classes.size());
    int64_t keep = std::max<int64_t>(1, n - std::llround(ratio * double(n)));
    if (n >= multiple_of) keep = std::min(n, (keep + multiple_of - 1) / multiple_of * multiple_of);
    const int64_t prune = n - keep;
    if (!sp.prunable || prune <= 0) continue;
    NIMBLE_CHECK(criterion != Criterion::taylor || importance.class_scores.size() == cg.space_of_class.size(),
                 "the taylor criterion ranks channels by scores measured on data: " +
                     std::to_string(importance.class_scores.size()) + " scores for " +
                     std::to_string(cg.space_of_class.size()) + " channel classes");
    bool has_bn = false;
    for (const auto& ms : sp.classes)
      for (int m : ms)
        has_bn = has_bn || (values[cg.members[m].first].producer >= 0 &&
                            g.nodes()[values[cg.members[m].first].producer].op == OpKind::batch_norm2d);
    const Criterion crit = criterion == Criterion::bn && !has_bn ? Criterion::l1 : criterion;
    std::vector<double> score(n, 0.0);
    for (int64_t k = 0; k < n; ++k) {
      if (crit == Criterion::taylor) {  // measured per class, not read off its members' weights
        score[k] = importance.class_scores[size_t(cg.class_of[sp.classes[k][0]])];
        continue;
      }
      for (int m : sp.classes[k]) {
        const auto [v, c] = cg.members[m];
        if (values[v].producer < 0) continue;
        const Node& p = g.nodes()[values[v].producer];
        if (crit == Criterion::bn) {
          if (p.op == OpKind::batch_norm2d) score[k] += std::fabs(p.param("scale").data.data<float>()[c]);
        } else if (p.op == OpKind::conv2d || p.op == OpKind::linear) {
          score[k] += row_norm(p.param("weights").data, c, crit == Criterion::l2);
        }
      }
    }
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return score[a] < score[b]; });
    std::vector<bool> pruned(n, false);
    for (int64_t i = 0; i < prune; ++i) pruned[order[i]] = true;
    // Never empty a value (a concatenation input can own only some of the space's classes): give
    // it back its most important class.
    for (int v : sp.values) {
      int64_t best = -1;
      bool any_kept = false;
      for (int64_t k = 0; k < n && !any_kept; ++k)
        for (int m : sp.classes[k])
          if (cg.members[m].first == v) {
            if (!pruned[k])
              any_kept = true;
            else if (best < 0 || score[k] > score[best])
              best = k;
          }
      if (!any_kept && best >= 0) pruned[best] = false;
    }
    for (int64_t k = 0; k < n; ++k)
      if (pruned[k]) plan[cg.class_of[sp.classes[k][0]]] = true;
  }
  return plan;
}

Masks channel_masks(const Graph& g, const ChannelGraph& cg, const ChannelPlan& plan) {
  NIMBLE_ASSERT(plan.size() == cg.space_of_class.size());
  Masks masks;
  auto zero_row = [&](const Node& n, const std::string& key, int64_t c) {
    ParamPtr p = n.param_ptr(key);
    if (!p) return;
    Tensor& m = masks[n.name + "." + key];
    if (!m.defined()) {
      m = Tensor(p->data.shape());
      m.fill(1.0f);
    }
    const int64_t len = m.numel() / m.shape()[0];
    std::fill_n(m.data<float>() + c * len, len, 0.0f);
  };
  for (size_t m = 0; m < cg.members.size(); ++m) {
    if (!plan[cg.class_of[m]]) continue;
    const auto [v, c] = cg.members[m];
    const int producer = g.values()[v].producer;
    if (producer < 0) continue;
    const Node& p = g.nodes()[producer];
    if (p.op == OpKind::conv2d || p.op == OpKind::linear) {
      zero_row(p, "weights", c);
      zero_row(p, "bias", c);
    } else if (p.op == OpKind::batch_norm2d) {
      zero_row(p, "scale", c);
      zero_row(p, "shift", c);
    }
  }
  return masks;
}

namespace {

// Rows `rows` and (when given) columns `cols` of a tensor viewed as (O, I, rest).
Tensor take(const Tensor& t, const std::vector<int64_t>& rows, const std::vector<int64_t>* cols) {
  std::vector<int64_t> dims = t.shape().dims();
  const int64_t in = dims.size() > 1 ? dims[1] : 1;
  const int64_t rest = t.numel() / (dims[0] * in);
  dims[0] = int64_t(rows.size());
  if (cols) dims[1] = int64_t(cols->size());
  Tensor out{Shape(dims)};
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int64_t r : rows) {
    const float* row = src + r * in * rest;
    if (!cols) {
      dst = std::copy_n(row, in * rest, dst);
      continue;
    }
    for (int64_t c : *cols) dst = std::copy_n(row + c * rest, rest, dst);
  }
  return out;
}

void replace(Node& n, const std::string& key, Tensor data) {
  ParamPtr p = n.param_ptr(key);
  if (!p) return;
  auto fresh = std::make_shared<Param>();
  fresh->data = std::move(data);
  fresh->grad = Tensor(fresh->data.shape());  // like every parameter: the pruned model can train
  fresh->trainable = p->trainable;
  n.params[key] = fresh;
}

}  // namespace

Graph remove_channels(const Graph& g) {
  const ChannelGraph cg(g);
  const auto& values = g.values();
  // Which channels are exactly zero, in topological order.
  std::vector<bool> zero(cg.members.size(), false);
  auto member = [&](int v, int64_t c) { return cg.first_member[v] + int(c); };
  for (const Node& n : g.nodes()) {
    const int out = n.output;
    if (cg.first_member[out] < 0) continue;
    const int64_t oc = values[out].shape[1];
    for (int64_t c = 0; c < oc; ++c) {
      bool z = false;
      const ChannelRule rule = op_traits(n.op).channels;
      if (rule == ChannelRule::layer) {
        const bool silent = row_is_zero(n.param("weights").data, c) ||
                            (n.op == OpKind::conv2d && is_depthwise(n, g) && zero[member(n.inputs[0], c)]);
        z = silent && bias_is_zero(n, c) && fused_activation_keeps_zero(n);
      } else if (n.op == OpKind::batch_norm2d) {
        z = n.param("scale").data.data<float>()[c] == 0.0f && n.param("shift").data.data<float>()[c] == 0.0f &&
            fused_activation_keeps_zero(n);
      } else if (rule == ChannelRule::per_channel) {
        z = zero[member(n.inputs[0], c)];
      } else if (rule == ChannelRule::sums_inputs) {
        z = true;
        for (int v : n.inputs) z = z && zero[member(v, c)];
      } else if (rule == ChannelRule::concatenates && n.attr_int("axis", 1) == 1) {
        int64_t offset = 0;
        for (int v : n.inputs) {
          if (c < offset + values[v].shape[1]) {
            z = zero[member(v, c - offset)];
            break;
          }
          offset += values[v].shape[1];
        }
      } else if (rule == ChannelRule::flattens) {
        const Shape& s = values[n.inputs[0]].shape;
        z = zero[member(n.inputs[0], c / (s.numel() / (s[0] * s[1])))];
      }
      zero[member(out, c)] = z;
    }
  }
  // A class goes when it is prunable and zero wherever it appears.
  std::vector<bool> gone(cg.space_of_class.size(), true);
  for (size_t m = 0; m < cg.members.size(); ++m)
    if (!zero[m]) gone[cg.class_of[m]] = false;
  for (const ChannelSpace& sp : cg.spaces)
    if (!sp.prunable)
      for (const auto& ms : sp.classes) gone[cg.class_of[ms[0]]] = false;
  // Never empty a value: keep the class of its channel 0.
  for (size_t v = 0; v < values.size(); ++v) {
    if (cg.first_member[v] < 0) continue;
    bool any = false;
    for (int64_t c = 0; c < values[v].shape[1] && !any; ++c) any = !gone[cg.class_of[member(int(v), c)]];
    if (!any) gone[cg.class_of[member(int(v), 0)]] = false;
  }
  std::vector<std::vector<int64_t>> kept(values.size());
  for (size_t v = 0; v < values.size(); ++v)
    if (cg.first_member[v] >= 0)
      for (int64_t c = 0; c < values[v].shape[1]; ++c)
        if (!gone[cg.class_of[member(int(v), c)]]) kept[v].push_back(c);

  Graph out = g.clone();
  for (Node& n : out.nodes()) {
    const std::vector<int64_t>& ko = kept[n.output];
    const std::vector<int64_t>& ki = kept[n.inputs[0]];
    if (n.op == OpKind::conv2d) {
      const bool dw = is_depthwise(n, g);
      replace(n, "weights", take(n.param("weights").data, ko, dw ? nullptr : &ki));
      replace(n, "bias", n.param_ptr("bias") ? take(n.param("bias").data, ko, nullptr) : Tensor());
      n.attrs["out_channels"] = int64_t(ko.size());
      if (dw) n.attrs["groups"] = int64_t(ko.size());
    } else if (n.op == OpKind::linear) {
      replace(n, "weights", take(n.param("weights").data, ko, &ki));
      replace(n, "bias", n.param_ptr("bias") ? take(n.param("bias").data, ko, nullptr) : Tensor());
      n.attrs["out_features"] = int64_t(ko.size());
    } else if (n.op == OpKind::batch_norm2d) {
      for (const char* key : {"scale", "shift", "running_mean", "running_var"})
        replace(n, key, take(n.param(key).data, ko, nullptr));
    }
  }
  const std::vector<Shape> shapes = out.infer_shapes(1);  // also checks every parameter against its op
  for (size_t v = 0; v < shapes.size(); ++v) out.values()[v].shape = shapes[v];
  return out;
}

Graph prune_channels(const Graph& g, double ratio, const Importance& importance) {
  return prune_channels(g, std::vector<double>(ChannelGraph(g).spaces.size(), ratio), importance);
}

Graph prune_channels(const Graph& g, const std::vector<double>& space_ratios, const Importance& importance) {
  const ChannelGraph cg(g);
  Graph masked = g.clone();
  apply_masks(masked, channel_masks(masked, cg, plan_channels(g, cg, space_ratios, importance)));
  return remove_channels(masked);
}

}  // namespace nimble::prune
