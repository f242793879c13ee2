// ONNX -> Model: reads the file as untrusted input (size-capped protobuf parse, then the ONNX
// checker), turns initializers and Constant nodes into import-time constants, and converts each
// node with the converter its (domain, op type, opset) selects. Values computable at import time
// (shape arithmetic) are folded; the rest become nimble nodes. Unused nodes are dropped at the end.
#include "io/onnx/onnx_import.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include "nimble/core/error.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/io/onnx.hpp"
#include "onnx/checker.h"

namespace nimble::io {

namespace {

// Protobuf's own limit for one message; larger files cannot be ONNX without external data.
constexpr int64_t kMaxOnnxBytes = int64_t(2) << 30;

const OnnxConverter* find_converter(const std::string& domain, const std::string& op, int64_t opset) {
  for (const auto* table : {&layer_converters(), &pooling_converters(), &activation_converters(), &tensor_converters(),
                            &qdq_converters(), &constant_converters()})
    for (const OnnxConverter& c : *table)
      if (domain == c.domain && op == c.op_type && opset >= c.since && opset <= c.until) return &c;
  return nullptr;
}

// "Add, AveragePool, ..." for the error on an unknown operator.
std::string supported_operators() {
  std::set<std::string> names;
  for (const auto* table : {&layer_converters(), &pooling_converters(), &activation_converters(), &tensor_converters(),
                            &qdq_converters(), &constant_converters()})
    for (const OnnxConverter& c : *table) names.insert(c.op_type);
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::map<std::string, int64_t> opsets_of(const onnx::ModelProto& m, const std::string& file) {
  std::map<std::string, int64_t> opsets;
  for (const auto& o : m.opset_import()) opsets[o.domain() == "ai.onnx" ? "" : o.domain()] = o.version();
  auto it = opsets.find("");
  NIMBLE_CHECK(it != opsets.end(), file + ": the model imports no ai.onnx opset");
  NIMBLE_CHECK(it->second >= kOnnxMinOpset && it->second <= kOnnxMaxOpset,
               file + ": opset " + std::to_string(it->second) + " is outside the " + std::to_string(kOnnxMinOpset) +
                   " to " + std::to_string(kOnnxMaxOpset) + " nimble imports");
  return opsets;
}

// The per-sample input shape from the graph input's type (dim 0 is the batch), with `given`
// filling symbolic dims and checked against fixed ones.
Shape input_shape_of(const onnx::ValueInfoProto& in, const std::optional<Shape>& given, const std::string& file) {
  const std::string who = file + ": input '" + in.name() + "'";
  NIMBLE_CHECK(in.type().has_tensor_type(), who + " is not a tensor");
  const auto& tt = in.type().tensor_type();
  NIMBLE_CHECK(tt.elem_type() == onnx::TensorProto::FLOAT,
               who + " has element type " + std::to_string(tt.elem_type()) + "; nimble models take float input");
  NIMBLE_CHECK(tt.has_shape(), who + " has no shape; give it with --input CxHxW");
  const auto& dims = tt.shape().dim();
  NIMBLE_CHECK(dims.size() >= 2 && dims.size() <= kMaxRank,
               who + " has rank " + std::to_string(dims.size()) + "; nimble needs (batch, ...) of rank 2 to 5");
  if (given)
    NIMBLE_CHECK(given->rank() == dims.size() - 1,
                 who + " has " + std::to_string(dims.size() - 1) + " per-sample dims, --input gives " + given->str());
  std::vector<int64_t> per_sample;
  for (int d = 1; d < dims.size(); ++d) {
    const bool fixed = dims[d].has_dim_value() && dims[d].dim_value() > 0;
    if (given && fixed && (*given)[d - 1] != dims[d].dim_value())
      throw Error(who + " has shape dim " + std::to_string(d) + " = " + std::to_string(dims[d].dim_value()) +
                  ", --input gives " + given->str());
    NIMBLE_CHECK(fixed || given, who + " has a symbolic dim " + std::to_string(d) + " ('" + dims[d].dim_param() +
                                     "'); give the input shape with --input CxHxW");
    per_sample.push_back(fixed ? dims[d].dim_value() : (*given)[d - 1]);
  }
  return Shape(per_sample);
}

}  // namespace

onnx::ModelProto read_onnx_file(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  NIMBLE_CHECK(!ec, path + ": cannot read: " + ec.message());
  NIMBLE_CHECK(int64_t(size) < kMaxOnnxBytes, path + ": " + std::to_string(size) + " bytes is above protobuf's 2 GiB");
  std::ifstream f(path, std::ios::binary);
  NIMBLE_CHECK(f, path + ": cannot open");
  std::string bytes(size_t(size), '\0');
  f.read(bytes.data(), std::streamsize(size));
  NIMBLE_CHECK(f.gcount() == std::streamsize(size), path + ": short read");
  return parse_onnx_bytes(bytes, path);
}

onnx::ModelProto parse_onnx_bytes(const std::string& bytes, const std::string& what) {
  onnx::ModelProto m;
  NIMBLE_CHECK(!bytes.empty() && m.ParseFromString(bytes), what + ": not an ONNX model (the protobuf does not parse)");
  NIMBLE_CHECK(m.has_graph() && m.ir_version() > 0, what + ": not an ONNX model (no graph or IR version)");
  return m;
}

void check_onnx_model(const onnx::ModelProto& m, const std::string& what) {
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    // The checker's messages run over lines ("==> Context: ..."); keep the first line.
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw Error(what + ": fails the ONNX checker: " + msg);
  }
}

Model import_onnx_proto(const onnx::ModelProto& m, const OnnxImportOptions& options, const std::string& file) {
  const auto& g = m.graph();
  const auto opsets = opsets_of(m, file);
  std::map<std::string, int> consumers;
  for (const auto& n : g.node())
    for (const auto& i : n.input()) ++consumers[i];
  for (const auto& o : g.output()) ++consumers[o.name()];

  Graph graph;
  ImportContext ctx(graph, opsets, consumers);
  for (const auto& init : g.initializer()) {
    ImportedValue v;
    v.kind = ImportedValue::Kind::constant;
    v.constant = const_from_proto(init, file + ": initializer '" + init.name() + "'");
    ctx.define(init.name(), std::move(v));
  }
  // Old exporters list initializers among the inputs too; the real input is the one without.
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& in : g.input()) {
    if (ctx.find(in.name())) continue;
    NIMBLE_CHECK(!input, file + ": the model has more than one input ('" + input->name() + "', '" + in.name() +
                             "'); nimble imports single-input classifiers");
    input = &in;
  }
  NIMBLE_CHECK(input, file + ": the model has no input that is not an initializer");
  ImportedValue x;
  x.kind = ImportedValue::Kind::dynamic;
  x.id = graph.add_input(input->name(), input_shape_of(*input, options.input, file));
  ctx.define(input->name(), x);
  const auto& batch_dim = input->type().tensor_type().shape().dim(0);
  ctx.file_batch = batch_dim.has_dim_value() ? batch_dim.dim_value() : 0;

  for (const auto& node : g.node()) {
    ctx.begin(node);
    const std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
    const OnnxConverter* c = find_converter(domain, node.op_type(), ctx.opset());
    if (!c) {
      const bool known =
          find_converter(domain, node.op_type(), kOnnxMaxOpset) || find_converter(domain, node.op_type(), 1);
      ctx.unsupported(known ? "this opset of the operator is not supported"
                            : "operator not supported; nimble imports: " + supported_operators());
    }
    bool all_constant = node.input_size() > 0;
    for (int i = 0; i < node.input_size(); ++i)
      all_constant = all_constant && (node.input(i).empty() || ctx.is_constant(i));
    // Every input known at import time: fold the node if it is shape arithmetic nimble evaluates.
    if (all_constant)
      for (const OnnxConverter& k : constant_converters())
        if (domain == k.domain && node.op_type() == k.op_type && ctx.opset() >= k.since && ctx.opset() <= k.until)
          c = &k;
    c->convert(ctx);
  }

  NIMBLE_CHECK(g.output_size() == 1, file + ": the model has " + std::to_string(g.output_size()) +
                                         " outputs; nimble imports single-output classifiers");
  const ImportedValue* out = ctx.find(g.output(0).name());
  NIMBLE_CHECK(out && out->kind == ImportedValue::Kind::dynamic,
               file + ": output '" + g.output(0).name() + "' is not computed from the input");
  NIMBLE_CHECK(out->id != graph.input(), file + ": the output is the input itself; there is nothing to run");
  graph.set_output(out->id);
  graph = passes::remove_unused_nodes(graph);
  graph.validate();
  graph.meta["model"] = std::filesystem::path(file).stem().string();
  graph.meta["imported_from"] = std::filesystem::path(file).filename().string();
  Model model(std::move(graph), options.preprocessing);
  model.class_names = options.class_names;
  if (!model.class_names.empty())
    NIMBLE_CHECK(int64_t(model.class_names.size()) == model.num_classes(),
                 file + ": " + std::to_string(model.class_names.size()) + " class names for a model with " +
                     std::to_string(model.num_classes()) + " outputs");
  const auto& norm = model.preprocessing.normalization;
  NIMBLE_CHECK(norm.mean.empty() || int64_t(norm.mean.size()) == model.input_shape()[0],
               file + ": --mean/--std give " + std::to_string(norm.mean.size()) + " channels, the model takes " +
                   std::to_string(model.input_shape()[0]));
  return model;
}

Model import_onnx(const std::string& path, const OnnxImportOptions& options) {
  const onnx::ModelProto m = read_onnx_file(path);
  check_onnx_model(m, path);
  return import_onnx_proto(m, options, path);
}

bool is_onnx_path(const std::string& path) { return std::filesystem::path(path).extension() == ".onnx"; }

}  // namespace nimble::io
