#include "nimble/quant/qat.hpp"

#include <algorithm>
#include <cmath>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/quant/quantize.hpp"

namespace nimble::quant {

namespace {

int sole_consumer(const Graph& g, const std::vector<std::vector<int>>& consumers, int value) {
  if (value == g.output() || consumers[size_t(value)].size() != 1) return -1;
  return consumers[size_t(value)][0];
}

// The value the int8 graph will hold for layer `node` of the training graph: its output after
// the batch-norm folded into it and the activation fused into it (what prepare() + convert() do).
int layer_output(const Graph& g, const std::vector<std::vector<int>>& consumers, const Node& node) {
  int v = node.output;
  int c = sole_consumer(g, consumers, v);
  if (node.op == OpKind::conv2d && c >= 0 && g.nodes()[size_t(c)].op == OpKind::batch_norm2d) {
    v = g.nodes()[size_t(c)].output;
    c = sole_consumer(g, consumers, v);
  }
  if (c < 0) return v;
  const bool fuses = op_traits(g.nodes()[size_t(c)].op).fuses_into(op_traits(node.op).fusion_site);
  return fuses ? g.nodes()[size_t(c)].output : v;
}

// Whether convert() will keep `value` in int8: some reader of it runs in int8 (Converter's rule).
bool read_in_int8(const Graph& g, const std::vector<std::vector<int>>& consumers, int value,
                  const std::set<std::string>& keep_float) {
  for (int c : consumers[size_t(value)]) {
    const Node& r = g.nodes()[size_t(c)];
    if (keep_float.count(r.name)) continue;
    const Int8Rule rule = op_traits(r.op).int8;
    if (rule == Int8Rule::has_int8_form || rule == Int8Rule::passes_through) return true;
  }
  return false;
}

// The quantization prepared-graph calibration gave the value named by layer `layer` (and the node
// that produces it in the training graph, when that node survived preparation, e.g. a ReLU after
// an add).
QParams calibrated(const Graph& prepared, const std::vector<QParams>& params, const std::string& layer,
                   const std::string& producer) {
  for (const Node& n : prepared.nodes())
    if (n.name == producer) return params[size_t(n.output)];
  for (const Node& n : prepared.nodes())
    if (n.name == layer) return params[size_t(n.output)];
  throw Error("quantization-aware training: layer '" + layer + "' is not in the prepared graph");
}

ParamPtr range_param(const QParams& q) {
  auto p = std::make_shared<Param>();
  p->data = Tensor({2});
  p->grad = Tensor({2});
  p->trainable = false;
  const float t = q.scale * float(qmax(q.dtype));
  p->data.data<float>()[0] = q.dtype == DType::u8 ? 0.0f : -t;
  p->data.data<float>()[1] = t;
  return p;
}

}  // namespace

Graph insert_fake_quant(const Graph& g0, const Graph& prepared, const std::vector<QParams>& params,
                        const std::set<std::string>& keep_float) {
  const Graph g = g0.clone();
  const auto consumers = g.consumers();
  // value of g -> (observed layer, its calibrated quantization)
  std::map<int, std::pair<std::string, QParams>> observe;
  bool input_read_in_int8 = false;
  for (const std::string& layer : quantizable_layers(prepared)) {
    if (keep_float.count(layer)) continue;
    for (const Node& n : g.nodes()) {
      if (n.name != layer) continue;
      for (int in : n.inputs) input_read_in_int8 = input_read_in_int8 || in == g.input();
      const int v = layer_output(g, consumers, n);
      if (!read_in_int8(g, consumers, v, keep_float)) continue;  // the int8 layer will write float
      const Node* producer =
          g.values()[size_t(v)].producer >= 0 ? &g.nodes()[size_t(g.values()[size_t(v)].producer)] : nullptr;
      observe[v] = {layer, calibrated(prepared, params, layer, producer ? producer->name : layer)};
    }
  }
  if (input_read_in_int8) observe[g.input()] = {"", params[size_t(prepared.input())]};

  Graph out;
  std::vector<int> map(g.values().size(), -1);
  auto add_fake_quant = [&](int v) {
    auto it = observe.find(v);
    if (it == observe.end()) return;
    const auto& [layer, q] = it->second;
    const std::string name = (layer.empty() ? g.values()[size_t(v)].name : layer) + ".fake_quant";
    map[size_t(v)] = out.add_node(OpKind::fake_quant, name, {map[size_t(v)]},
                                  {{"dtype", std::string(dtype_name(q.dtype))}, {"observes", layer}});
    out.nodes().back().params["range"] = range_param(q);
  };
  map[size_t(g.input())] = out.add_input(g.values()[size_t(g.input())].name, g.input_shape());
  add_fake_quant(g.input());
  std::map<int, int> fq_of;  // value of g -> the fake_quant node (in out) that quantizes it
  for (const Node& n : g.nodes()) {
    std::vector<int> ins;
    for (int v : n.inputs) ins.push_back(map[size_t(v)]);
    Attrs attrs = n.attrs;
    if (op_traits(n.op).weight_layer && !keep_float.count(n.name)) attrs["fake_quant_weights"] = int64_t(1);
    map[size_t(n.output)] = out.add_node(n.op, n.name, ins, attrs);
    out.nodes().back().params = n.params;  // the clone's own parameters
    if (observe.count(n.output)) {
      add_fake_quant(n.output);
      fq_of[n.output] = int(out.nodes().size()) - 1;
    }
    // An int8 average pool rounds its mean to its input's scale: model that too, with the
    // input's own (shared, not separately observed) range.
    const bool averages = n.op == OpKind::avg_pool2d || n.op == OpKind::global_avg_pool;
    if (averages && fq_of.count(n.inputs[0]) && !keep_float.count(n.name)) {
      const Node& src = out.nodes()[size_t(fq_of[n.inputs[0]])];
      Attrs fa = src.attrs;
      fa["frozen"] = int64_t(1);
      const ParamPtr range = src.params.at("range");
      map[size_t(n.output)] = out.add_node(OpKind::fake_quant, n.name + ".fake_quant", {map[size_t(n.output)]}, fa);
      out.nodes().back().params["range"] = range;
      fq_of[n.output] = int(out.nodes().size()) - 1;
    }
  }
  out.set_output(map[size_t(g.output())]);
  out.meta = g.meta;
  return out;
}

Graph strip_fake_quant(const Graph& g, ObservedRanges& ranges) {
  Graph out = g.clone();
  for (Node& n : out.nodes()) n.attrs.erase("fake_quant_weights");
  for (int i = int(out.nodes().size()) - 1; i >= 0; --i) {
    const Node& n = out.nodes()[size_t(i)];
    if (n.op != OpKind::fake_quant) continue;
    if (n.attr_int("frozen", 0)) {  // follows another fake_quant's range
      out = passes::bypass_node(out, i);
      continue;
    }
    // The fake_quant kernel's own rule: u8 over [0, max], s8 over +-max(|min|, |max|).
    const float* r = n.param("range").data.data<float>();
    const bool u8 = n.attr_str("dtype", "") == "u8";
    const double t = u8 ? std::max(r[1], 0.0f) : std::max(std::fabs(r[0]), std::fabs(r[1]));
    ranges[n.attr_str("observes", "")] = symmetric_qparams(u8 ? 0.0 : -t, t);
    out = passes::bypass_node(out, i);
  }
  return out;
}

std::vector<QParams> qat_params(const Graph& prepared, const ObservedRanges& ranges, std::vector<QParams> params) {
  NIMBLE_CHECK(params.size() == prepared.values().size(), "calibration does not match the graph");
  if (auto it = ranges.find(""); it != ranges.end()) params[size_t(prepared.input())] = it->second;
  const auto consumers = prepared.consumers();
  for (const Node& n : prepared.nodes()) {
    auto it = ranges.find(n.name);
    if (it == ranges.end()) continue;
    params[size_t(n.output)] = it->second;
    // An add's ReLU runs inside the int8 add: the range was observed after it.
    const int c = sole_consumer(prepared, consumers, n.output);
    if (op_traits(n.op).fusion_site == FusionSite::add && c >= 0 &&
        op_traits(prepared.nodes()[size_t(c)].op).fuses_into(FusionSite::add))
      params[size_t(prepared.nodes()[size_t(c)].output)] = it->second;
  }
  return params;
}

}  // namespace nimble::quant
