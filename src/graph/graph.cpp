#include "nimble/graph/graph.hpp"

#include <set>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  if (auto* d = std::get_if<double>(&it->second)) {
    // Outside int64's range (or NaN) the conversion is undefined: a hostile file's 1e300 is an error.
    if (!(*d >= -0x1p63 && *d < 0x1p63))
      throw Error("attribute '" + key + "' of node '" + name + "' is out of the integer range");
    return int64_t(*d);
  }
  throw Error("attribute '" + key + "' of node '" + name + "' is not an integer");
}

double Node::attr_float(const std::string& key, double fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<double>(&it->second)) return *v;
  if (auto* i = std::get_if<int64_t>(&it->second)) return double(*i);
  throw Error("attribute '" + key + "' of node '" + name + "' is not a number");
}

std::string Node::attr_str(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  throw Error("attribute '" + key + "' of node '" + name + "' is not a string");
}

std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  if (auto* i = std::get_if<int64_t>(&it->second)) return {*i, *i};
  throw Error("attribute '" + key + "' of node '" + name + "' is not a list of integers");
}

const Param& Node::param(const std::string& key) const {
  auto it = params.find(key);
  NIMBLE_ASSERT(it != params.end() && it->second, "node " + name + " has no parameter " + key);
  return *it->second;
}

ParamPtr Node::param_ptr(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? nullptr : it->second;
}

int Graph::add_input(const std::string& name, const Shape& per_sample) {
  NIMBLE_CHECK(input_ < 0, "graph already has an input");
  std::vector<int64_t> dims = {1};
  for (int i = 0; i < per_sample.rank(); ++i) dims.push_back(per_sample[i]);
  values_.push_back({name, Shape(dims), -1});
  input_ = int(values_.size()) - 1;
  return input_;
}

int Graph::add_node(OpKind op, const std::string& name, std::vector<int> inputs, Attrs attrs, Rng* rng) {
  return add_node(op, name, std::move(inputs), std::move(attrs), {}, rng);
}

int Graph::add_node(OpKind op, const std::string& name, std::vector<int> inputs, Attrs attrs,
                    std::map<std::string, ParamPtr> params) {
  return add_node(op, name, std::move(inputs), std::move(attrs), std::move(params), nullptr);
}

int Graph::add_node(OpKind op, const std::string& name, std::vector<int> inputs, Attrs attrs,
                    std::map<std::string, ParamPtr> params, Rng* rng) {
  const OpDef& def = op_def(op);
  NIMBLE_CHECK(int(inputs.size()) >= def.min_inputs && int(inputs.size()) <= def.max_inputs,
               std::string("op ") + def.name + " got a wrong number of inputs");
  Node node;
  node.name = name;
  node.op = op;
  node.attrs = std::move(attrs);
  node.inputs = std::move(inputs);
  node.params = std::move(params);
  std::vector<Shape> in;
  for (int v : node.inputs) {
    NIMBLE_CHECK(v >= 0 && v < int(values_.size()), "node '" + name + "' uses an unknown value");
    in.push_back(values_[v].shape);
  }
  Shape out = def.infer(node, in);
  if (rng && def.init_params) def.init_params(node, in, *rng);
  values_.push_back({name, out, int(nodes_.size())});
  node.output = int(values_.size()) - 1;
  nodes_.push_back(std::move(node));
  output_ = nodes_.back().output;
  return output_;
}

Shape Graph::input_shape() const {
  auto d = values_.at(input_).shape.dims();
  return Shape(std::vector<int64_t>(d.begin() + 1, d.end()));
}

Shape Graph::output_shape() const {
  auto d = values_.at(output_).shape.dims();
  return Shape(std::vector<int64_t>(d.begin() + 1, d.end()));
}

void Graph::validate() const {
  NIMBLE_CHECK(input_ >= 0 && input_ < int(values_.size()), "graph has no input");
  NIMBLE_CHECK(output_ >= 0 && output_ < int(values_.size()), "graph has no output");
  NIMBLE_CHECK(values_[input_].producer == -1, "graph input is produced by a node");
  std::set<std::string> names;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    NIMBLE_CHECK(int(node.op) < kOpCount, "node has an unknown op");
    NIMBLE_CHECK(names.insert(node.name).second, "duplicate node name '" + node.name + "'");
    const OpDef& def = op_def(node.op);
    NIMBLE_CHECK(int(node.inputs.size()) >= def.min_inputs && int(node.inputs.size()) <= def.max_inputs,
                 "node '" + node.name + "' has a wrong number of inputs");
    for (int v : node.inputs) {
      NIMBLE_CHECK(v >= 0 && v < int(values_.size()), "node '" + node.name + "' uses an unknown value");
      NIMBLE_CHECK(v == input_ || (values_[v].producer >= 0 && values_[v].producer < int(n)),
                   "node '" + node.name + "' uses a value before it is produced");
    }
    NIMBLE_CHECK(node.output >= 0 && node.output < int(values_.size()) && values_[node.output].producer == int(n),
                 "node '" + node.name + "' has an inconsistent output");
  }
  for (size_t v = 0; v < values_.size(); ++v)
    NIMBLE_CHECK(int(v) == input_ || (values_[v].producer >= 0 && values_[v].producer < int(nodes_.size()) &&
                                      nodes_[values_[v].producer].output == int(v)),
                 "value '" + values_[v].name + "' has no producer");
}

std::vector<Shape> Graph::infer_shapes(int64_t batch) const {
  std::vector<Shape> shapes(values_.size());
  Shape in = values_.at(input_).shape;
  in[0] = batch;
  shapes[input_] = in;
  for (const Node& node : nodes_) {
    std::vector<Shape> ins;
    for (int v : node.inputs) ins.push_back(shapes[v]);
    shapes[node.output] = op_def(node.op).infer(node, ins);
  }
  return shapes;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(values_.size());
  for (size_t n = 0; n < nodes_.size(); ++n)
    for (int v : nodes_[n].inputs) c[v].push_back(int(n));
  return c;
}

int64_t Graph::param_count() const {
  int64_t n = 0;
  for (const Node& node : nodes_)
    for (auto& [k, p] : node.params)
      if (p->trainable) n += p->data.numel();
  return n;
}

std::vector<int64_t> Graph::node_macs() const {
  std::vector<Shape> shapes = infer_shapes(1);
  std::vector<int64_t> out(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    const OpDef& def = op_def(node.op);
    if (!def.macs) continue;
    std::vector<Shape> ins;
    for (int v : node.inputs) ins.push_back(shapes[v]);
    out[i] = def.macs(node, ins, shapes[node.output]);
  }
  return out;
}

int64_t Graph::macs() const {
  int64_t total = 0;
  for (int64_t m : node_macs()) total += m;
  return total;
}

std::vector<std::pair<std::string, ParamPtr>> Graph::named_params() const {
  std::vector<std::pair<std::string, ParamPtr>> out;
  for (const Node& node : nodes_)
    for (auto& [k, p] : node.params) out.emplace_back(node.name + "." + k, p);
  return out;
}

Graph Graph::clone() const {
  Graph g = *this;
  for (Node& node : g.nodes_)
    for (auto& [k, p] : node.params) {
      auto copy = std::make_shared<Param>(*p);
      copy->data = p->data.clone();
      copy->grad = p->grad.defined() ? p->grad.clone() : Tensor();
      p = copy;
    }
  return g;
}

}  // namespace nimble
