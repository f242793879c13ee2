#pragma once
// What an ONNX operator's converter sees while the importer walks the graph: the node, its
// inputs as nimble values or import-time constants, its attributes, and the Graph being built.
// Converters live in onnx_ops_*.cpp, one table per family, keyed by (domain, op type, opset range).
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "io/onnx/onnx_tensor.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::io {

// What an ONNX value name stands for.
struct ImportedValue {
  enum class Kind { none, dynamic, constant, padded, quantized };
  Kind kind = Kind::none;
  int id = -1;                // dynamic, padded: the nimble value
  ConstTensor constant;       // constant
  std::vector<int64_t> pads;  // padded: zero padding [top, left, bottom, right] not yet applied (Pad)
  QParams quantization;       // quantized: a QuantizeLinear's output, waiting for its DequantizeLinear
};

class ImportContext {
 public:
  ImportContext(Graph& graph, std::map<std::string, int64_t> opsets, std::map<std::string, int> consumers);

  // The node being converted.
  void begin(const onnx::NodeProto& node);
  const onnx::NodeProto& node() const { return *node_; }
  int64_t opset() const;    // of the node's domain
  std::string who() const;  // "node 'name' (Op, opset 13)"
  // Throws the one-line error for something this node asks that nimble does not support.
  [[noreturn]] void unsupported(const std::string& what) const;

  // Inputs (an empty name is an omitted optional input).
  int input_count() const { return node_->input_size(); }
  bool has_input(int i) const { return i < node_->input_size() && !node_->input(i).empty(); }
  const ImportedValue& input(int i) const;
  bool is_constant(int i) const { return has_input(i) && input(i).kind == ImportedValue::Kind::constant; }
  const ConstTensor& constant(int i, const std::string& role) const;  // unsupported() unless constant
  int dynamic(int i, const std::string& role) const;                  // a computed value; unsupported() otherwise
  const Shape& shape(int value_id) const { return graph_->values().at(size_t(value_id)).shape; }
  int rank(int value_id) const { return shape(value_id).rank(); }
  // The nimble node producing value `id` (null for the graph input).
  const Node* producer(int value_id) const;
  // Consumers of the node's input i by ONNX name (for fusions that rewrite a producer).
  int consumers_of_input(int i) const;

  // Attributes. Each converter names the ones it understands; any other is refused.
  void allow_attrs(std::initializer_list<const char*> names) const;
  bool has_attr(const char* name) const;
  int64_t attr_int(const char* name, int64_t fallback) const;
  float attr_float(const char* name, float fallback) const;
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> fallback) const;
  std::string attr_string(const char* name, const std::string& fallback) const;
  const onnx::AttributeProto* attr(const char* name) const;

  // Outputs.
  int output_count() const { return node_->output_size(); }
  bool output_used(int k) const;  // consumed by a later node or a graph output
  void set_output(int k, ImportedValue v);
  void set_dynamic(int k, int value_id);
  void set_constant(int k, ConstTensor t);
  // Refuses the node when any output past the first `n` is used (Dropout's mask, MaxPool's indices).
  void only_first_outputs(int n, const std::string& why) const;

  // Adds a nimble node named after this ONNX node (made unique) and returns its output value.
  int add_node(OpKind op, Attrs attrs, std::vector<int> inputs, std::map<std::string, ParamPtr> params = {});
  Graph& graph() { return *graph_; }

  // The batch dim the file's input declares (0 when symbolic): a Reshape may name it literally.
  int64_t file_batch = 0;

  // The importer's own bookkeeping.
  void define(const std::string& name, ImportedValue v) { values_[name] = std::move(v); }
  const ImportedValue* find(const std::string& name) const;

 private:
  Graph* graph_;
  std::map<std::string, int64_t> opsets_;
  std::map<std::string, int> consumers_;
  std::map<std::string, ImportedValue> values_;
  std::set<std::string> node_names_;
  const onnx::NodeProto* node_ = nullptr;
};

// One converter: the ONNX operator (domain "" is ai.onnx) in an inclusive opset range.
struct OnnxConverter {
  const char* domain;
  const char* op_type;
  int64_t since, until;
  void (*convert)(ImportContext& ctx);
};

// The families' tables (onnx_ops_*.cpp); the importer searches them in this order.
const std::vector<OnnxConverter>& layer_converters();       // Conv, Gemm, MatMul, BatchNormalization
const std::vector<OnnxConverter>& pooling_converters();     // MaxPool, AveragePool, Global*, ReduceMean
const std::vector<OnnxConverter>& activation_converters();  // Relu ... Softmax, Add, Mul
const std::vector<OnnxConverter>& tensor_converters();  // Reshape, Flatten, Transpose, Concat, Split, Slice, Pad ...
const std::vector<OnnxConverter>& qdq_converters();     // QuantizeLinear, DequantizeLinear
// Converters for import-time constants (Constant, Shape, and arithmetic when every input is constant).
const std::vector<OnnxConverter>& constant_converters();

// A parameter tensor for a node (trainable unless `buffer`).
ParamPtr make_param(Tensor data, bool buffer = false);

}  // namespace nimble::io
