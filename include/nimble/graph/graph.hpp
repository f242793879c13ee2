#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "nimble/core/rng.hpp"
#include "nimble/core/tensor.hpp"
#include "nimble/graph/op_list.hpp"

namespace nimble {

const char* op_name(OpKind op);
OpKind op_from_name(const std::string& name);  // throws Error on unknown names

// A named tensor of a node: fp32 master data in plain layout (OIHW, (O, I)), its gradient,
// and a version bumped whenever data changes so the runtime knows to re-reorder it.
struct Param {
  Tensor data;
  Tensor grad;
  bool trainable = true;  // false for buffers such as batch-norm running statistics
  uint64_t version = 0;
  void touch() { ++version; }
};
using ParamPtr = std::shared_ptr<Param>;

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;
using Attrs = std::map<std::string, AttrValue>;

struct Node {
  std::string name;
  OpKind op = OpKind::relu;
  Attrs attrs;
  std::vector<int> inputs;  // value ids
  int output = -1;          // value id
  std::map<std::string, ParamPtr> params;

  int64_t attr_int(const std::string& key, int64_t fallback) const;
  double attr_float(const std::string& key, double fallback) const;
  std::string attr_str(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback) const;
  const Param& param(const std::string& key) const;  // asserts presence
  ParamPtr param_ptr(const std::string& key) const;  // null when absent
};

struct Value {
  std::string name;
  Shape shape;        // with batch 1 in front; the Session re-infers for its batch
  int producer = -1;  // node id, -1 for the graph input
};

// A model: a DAG of nodes over values, stored in topological order (a node's inputs are
// produced by earlier nodes or are the graph input).
class Graph {
 public:
  int add_input(const std::string& name, const Shape& per_sample);
  // Appends a node, infers its output shape and, with `rng`, initialises its parameters.
  int add_node(OpKind op, const std::string& name, std::vector<int> inputs, Attrs attrs = {}, Rng* rng = nullptr);
  // Appends a node with parameters it already has (an imported model's weights); shape inference
  // checks them against the inputs.
  int add_node(OpKind op, const std::string& name, std::vector<int> inputs, Attrs attrs,
               std::map<std::string, ParamPtr> params);
  void set_output(int value) { output_ = value; }

  int input() const { return input_; }
  int output() const { return output_; }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  std::vector<Value>& values() { return values_; }
  Shape input_shape() const;   // per sample, e.g. 1x28x28
  Shape output_shape() const;  // per sample, e.g. 10

  // Shapes of every value for a given batch; throws Error when the graph cannot take it.
  std::vector<Shape> infer_shapes(int64_t batch) const;
  // Checks structure: ids in range, topological order, one output; throws Error.
  void validate() const;
  std::vector<std::vector<int>> consumers() const;  // per value: consuming node ids

  int64_t param_count() const;                                         // trainable parameters
  int64_t macs() const;                                                // multiply-accumulates for one sample
  std::vector<int64_t> node_macs() const;                              // the same per node
  std::vector<std::pair<std::string, ParamPtr>> named_params() const;  // "node.key"
  Graph clone() const;                                                 // deep copy (parameters too)

  std::map<std::string, std::string> meta;  // free-form: model name, normalisation, ...

 private:
  int add_node(OpKind op, const std::string& name, std::vector<int> inputs, Attrs attrs,
               std::map<std::string, ParamPtr> params, Rng* rng);
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  int input_ = -1;
  int output_ = -1;
};

}  // namespace nimble
