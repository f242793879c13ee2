#include "io/onnx/onnx_import_context.hpp"

#include <algorithm>

#include "nimble/core/error.hpp"

namespace nimble::io {

ImportContext::ImportContext(Graph& graph, std::map<std::string, int64_t> opsets, std::map<std::string, int> consumers)
    : graph_(&graph), opsets_(std::move(opsets)), consumers_(std::move(consumers)) {}

void ImportContext::begin(const onnx::NodeProto& node) { node_ = &node; }

int64_t ImportContext::opset() const {
  const std::string& d = node_->domain();
  auto it = opsets_.find(d == "ai.onnx" ? "" : d);
  return it == opsets_.end() ? 0 : it->second;
}

std::string ImportContext::who() const {
  std::string name = node_->name().empty() ? (node_->output_size() ? node_->output(0) : "") : node_->name();
  std::string op = node_->domain().empty() ? node_->op_type() : node_->domain() + "." + node_->op_type();
  return "node '" + name + "' (" + op + ", opset " + std::to_string(opset()) + ")";
}

void ImportContext::unsupported(const std::string& what) const { throw Error(who() + ": " + what); }

const ImportedValue* ImportContext::find(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

const ImportedValue& ImportContext::input(int i) const {
  NIMBLE_ASSERT(has_input(i), "input(" + std::to_string(i) + ") of " + who() + " is absent");
  const ImportedValue* v = find(node_->input(i));
  if (!v) unsupported("input '" + node_->input(i) + "' is not defined before this node");
  return *v;
}

const ConstTensor& ImportContext::constant(int i, const std::string& role) const {
  if (!has_input(i)) unsupported(role + " (input " + std::to_string(i) + ") is missing");
  const ImportedValue& v = input(i);
  if (v.kind != ImportedValue::Kind::constant)
    unsupported(role + " '" + node_->input(i) + "' is computed at run time; nimble needs it constant (an initializer)");
  return v.constant;
}

int ImportContext::dynamic(int i, const std::string& role) const {
  if (!has_input(i)) unsupported(role + " (input " + std::to_string(i) + ") is missing");
  const ImportedValue& v = input(i);
  switch (v.kind) {
    case ImportedValue::Kind::dynamic:
      return v.id;
    case ImportedValue::Kind::constant:
      unsupported(role + " '" + node_->input(i) + "' is a constant " + v.constant.describe() +
                  "; nimble supports this operator on computed tensors only");
    case ImportedValue::Kind::padded:
      unsupported(role + " '" + node_->input(i) +
                  "' comes from a Pad, which nimble supports only directly before Conv or AveragePool");
    case ImportedValue::Kind::quantized:
      unsupported(role + " '" + node_->input(i) +
                  "' is the int8 output of a QuantizeLinear; nimble reads one only when a DequantizeLinear follows");
    case ImportedValue::Kind::none:
      break;
  }
  unsupported(role + " '" + node_->input(i) + "' has no value");
}

const Node* ImportContext::producer(int value_id) const {
  const int p = graph_->values().at(size_t(value_id)).producer;
  return p < 0 ? nullptr : &graph_->nodes().at(size_t(p));
}

int ImportContext::consumers_of_input(int i) const {
  auto it = consumers_.find(node_->input(i));
  return it == consumers_.end() ? 0 : it->second;
}

const onnx::AttributeProto* ImportContext::attr(const char* name) const {
  for (const auto& a : node_->attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

void ImportContext::allow_attrs(std::initializer_list<const char*> names) const {
  for (const auto& a : node_->attribute())
    if (std::none_of(names.begin(), names.end(), [&](const char* n) { return a.name() == n; })) {
      std::string known;
      for (const char* n : names) known += std::string(known.empty() ? "" : ", ") + n;
      unsupported("attribute '" + a.name() + "' is not supported" +
                  (known.empty() ? std::string(" (this operator takes none)") : " (supported: " + known + ")"));
    }
}

bool ImportContext::has_attr(const char* name) const { return attr(name) != nullptr; }

int64_t ImportContext::attr_int(const char* name, int64_t fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::INT) unsupported(std::string("attribute '") + name + "' must be an int");
  return a->i();
}

float ImportContext::attr_float(const char* name, float fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::FLOAT) unsupported(std::string("attribute '") + name + "' must be a float");
  return a->f();
}

std::vector<int64_t> ImportContext::attr_ints(const char* name, std::vector<int64_t> fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::INTS) unsupported(std::string("attribute '") + name + "' must be ints");
  return {a->ints().begin(), a->ints().end()};
}

std::string ImportContext::attr_string(const char* name, const std::string& fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::STRING) unsupported(std::string("attribute '") + name + "' must be a string");
  return a->s();
}

bool ImportContext::output_used(int k) const {
  if (k >= node_->output_size() || node_->output(k).empty()) return false;
  auto it = consumers_.find(node_->output(k));
  return it != consumers_.end() && it->second > 0;
}

void ImportContext::set_output(int k, ImportedValue v) {
  NIMBLE_ASSERT(k < node_->output_size(), who() + " has no output " + std::to_string(k));
  if (!node_->output(k).empty()) values_[node_->output(k)] = std::move(v);
}

void ImportContext::set_dynamic(int k, int value_id) {
  ImportedValue v;
  v.kind = ImportedValue::Kind::dynamic;
  v.id = value_id;
  set_output(k, std::move(v));
}

void ImportContext::set_constant(int k, ConstTensor t) {
  ImportedValue v;
  v.kind = ImportedValue::Kind::constant;
  v.constant = std::move(t);
  set_output(k, std::move(v));
}

void ImportContext::only_first_outputs(int n, const std::string& why) const {
  for (int k = n; k < node_->output_size(); ++k)
    if (output_used(k)) unsupported("output " + std::to_string(k) + " ('" + node_->output(k) + "') is used: " + why);
}

int ImportContext::add_node(OpKind op, Attrs attrs, std::vector<int> inputs, std::map<std::string, ParamPtr> params) {
  std::string base = node_->name().empty() ? node_->output(0) : node_->name();
  if (base.empty()) base = node_->op_type();
  std::string name = base;
  for (int k = 1; !node_names_.insert(name).second; ++k) name = base + "#" + std::to_string(k);
  try {
    return graph_->add_node(op, name, std::move(inputs), std::move(attrs), std::move(params));
  } catch (const Error& e) {
    unsupported(e.what());
  }
}

ParamPtr make_param(Tensor data, bool buffer) {
  auto p = std::make_shared<Param>();
  p->data = std::move(data);
  p->grad = Tensor(p->data.shape());
  p->trainable = !buffer;
  return p;
}

}  // namespace nimble::io
