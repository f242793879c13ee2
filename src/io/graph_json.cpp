// Graph <-> JSON. Reading rebuilds the graph through Graph::add_input/add_node so shapes are
// re-inferred by the ops themselves, and compares every declared parameter shape with what the
// op's init_params creates: a graph that loads is a graph the rest of nimble can run.
#include "io/graph_json.hpp"

#include <cmath>
#include <limits>
#include <new>
#include <set>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/io/checkpoint.hpp"

namespace nimble::io {
namespace detail {
namespace {

// Integer attributes and dimensions are kept within 32 bits so the ops' int64 shape arithmetic
// (products of a few of them) cannot overflow on hostile input.
constexpr int64_t kMaxAttrInt = std::numeric_limits<int32_t>::max();
constexpr int64_t kMinAttrInt = std::numeric_limits<int32_t>::min();
constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
constexpr uint64_t kMaxValueElements = uint64_t(1) << 32;  // per value, batch 1
constexpr size_t kMaxNodes = size_t(1) << 20;
constexpr size_t kMaxNameBytes = 256;

void check_value_size(const Shape& s, const std::string& where) {
  uint64_t n = 0;
  if (!checked_numel(s.dims(), n) || n > kMaxValueElements)
    fail(where + ": shape " + s.str() + " is larger than 2^32 elements per sample");
}

std::string shape_text(const Shape& s) { return s.rank() ? s.str() : "scalar"; }

AttrValue attr_from_json(const json& v, const std::string& what) {
  if (v.is_number_integer()) return as_int(v, what, kMinAttrInt, kMaxAttrInt);
  if (v.is_number_float()) return v.get<double>();
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<int64_t> xs;
    for (const json& x : v) xs.push_back(as_int(x, what, kMinAttrInt, kMaxAttrInt));
    return xs;
  }
  // JSON has no NaN or infinity; those doubles are written as {"float": "nan" | "inf" | "-inf"}.
  if (v.is_object() && v.size() == 1 && v.contains("float") && v["float"].is_string()) {
    const std::string s = v["float"].get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  fail(what +
       ": expected an integer, a number, a string, a list of integers or {\"float\": \"nan\"|\"inf\"|\"-inf\"}, got " +
       type_name(v));
}

json attr_to_json(const AttrValue& a, const std::string& what) {
  auto check = [&](int64_t x) {
    if (x < kMinAttrInt || x > kMaxAttrInt)
      fail(what + ": " + std::to_string(x) + " does not fit 32 bits, so it could not be read back");
    return x;
  };
  if (auto* i = std::get_if<int64_t>(&a)) return check(*i);
  if (auto* d = std::get_if<double>(&a)) {
    if (std::isnan(*d)) return json{{"float", "nan"}};
    if (std::isinf(*d)) return json{{"float", *d > 0 ? "inf" : "-inf"}};
    return *d;
  }
  if (auto* s = std::get_if<std::string>(&a)) return *s;
  json xs = json::array();
  for (int64_t x : std::get<std::vector<int64_t>>(a)) xs.push_back(check(x));
  return xs;
}

// Runs code of other layers (op shape inference, parameter creation, validation) and turns
// whatever it throws into a one-line Error that says where.
template <class F> auto guarded(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    fail(where + ": out of memory");
  } catch (const std::exception& e) {
    fail(where + ": " + one_line(e.what()));
  }
}

struct ParamDecl {
  DType dtype;
  Shape shape;
  bool trainable;
};

}  // namespace

[[noreturn]] void fail(const std::string& msg) { throw Error(msg); }

std::string quote_text(const std::string& s) {
  std::string t = one_line(s.size() > 64 ? s.substr(0, 64) + "..." : s);
  return "'" + t + "'";
}

const char* type_name(const json& v) { return v.type_name(); }

const json& member(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(where + ": missing \"" + key + "\"");
  return *it;
}

void expect_object(const json& v, const std::string& where) {
  if (!v.is_object()) fail(where + ": expected an object, got " + type_name(v));
}

void expect_array(const json& v, const std::string& where) {
  if (!v.is_array()) fail(where + ": expected a list, got " + type_name(v));
}

// Unknown keys are refused: they mean a typo, a newer format, or corruption.
void expect_keys(const json& obj, std::initializer_list<const char*> allowed, const std::string& where) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) fail(where + ": unknown key " + quote_text(it.key()));
  }
}

int64_t as_int(const json& v, const std::string& what, int64_t lo, int64_t hi) {
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(hi)) fail(what + ": " + std::to_string(u) + " is above " + std::to_string(hi));
    x = int64_t(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else {
    fail(what + ": expected an integer, got " + type_name(v));
  }
  if (x < lo || x > hi)
    fail(what + ": " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

std::string as_string(const json& v, const std::string& what) {
  if (!v.is_string()) fail(what + ": expected a string, got " + type_name(v));
  return v.get<std::string>();
}

std::string as_name(const json& v, const std::string& what, bool is_param_key) {
  std::string s = as_string(v, what);
  std::string problem = name_problem(s, is_param_key);
  if (!problem.empty()) fail(what + ": " + problem);
  return s;
}

bool checked_numel(const std::vector<int64_t>& dims, uint64_t& out) {
  uint64_t n = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(n, uint64_t(d), &n)) return false;
  out = n;
  return true;
}

Shape as_shape(const json& v, const std::string& what, int max_rank, int64_t min_dim) {
  expect_array(v, what);
  if (v.size() > size_t(max_rank))
    fail(what + ": rank " + std::to_string(v.size()) + " exceeds " + std::to_string(max_rank));
  std::vector<int64_t> dims;
  for (const json& d : v) dims.push_back(as_int(d, what, min_dim, kMaxDim));
  return Shape(dims);
}

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if ((unsigned char)c < 0x20 || c == 0x7f) c = ' ';
  return out;
}

std::string name_problem(const std::string& name, bool is_param_key) {
  if (name.empty() || name.size() > kMaxNameBytes) return "names must be 1 to 256 bytes long";
  for (char c : name)
    if ((unsigned char)c < 0x20 || c == 0x7f) return "names must not contain control characters";
  if (is_param_key && name.find('.') != std::string::npos)
    return "parameter name " + quote_text(name) + " contains '.'";
  return "";
}

json parse_json(std::string_view text, const std::string& what) {
  json::parser_callback_t limit_depth = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) throw Error("is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), limit_depth);
  } catch (const Error& e) {
    fail(what + " " + e.what());
  } catch (const json::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep the position and reason.
    std::string msg = e.what();
    if (size_t p = msg.find("] "); msg.rfind("[json.exception", 0) == 0 && p != std::string::npos)
      msg = msg.substr(p + 2);
    fail(what + " is not valid JSON: " + one_line(msg));
  }
}

std::string dump_json(const json& j, int indent) {
  try {
    return j.dump(indent);
  } catch (const json::exception&) {
    fail("a string (name, attribute, meta or extra) is not valid UTF-8");
  }
}

json graph_to_json_value(const Graph& g) {
  g.validate();
  // Canonical value ids: 0 for the input, i + 1 for node i's output (what add_node produces).
  std::vector<int> id(g.values().size(), -1);
  id[g.input()] = 0;
  for (size_t n = 0; n < g.nodes().size(); ++n) id[g.nodes()[n].output] = int(n) + 1;

  const Value& input = g.values()[g.input()];
  if (std::string p = name_problem(input.name, false); !p.empty()) fail("input: " + p);
  const Shape in_shape = g.input_shape();
  for (int i = 0; i < in_shape.rank(); ++i)
    if (in_shape[i] < 1 || in_shape[i] > kMaxDim)
      fail("input shape " + in_shape.str() + " has a size outside [1, 2^31)");

  json nodes = json::array();
  for (size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    std::string where = "node " + std::to_string(n);
    if (std::string p = name_problem(node.name, false); !p.empty()) fail(where + ": " + p);
    where += " (" + quote_text(node.name) + ")";
    json inputs = json::array();
    for (int v : node.inputs) inputs.push_back(id[v]);
    json attrs = json::object();
    for (const auto& [key, value] : node.attrs) {
      if (std::string p = name_problem(key, false); !p.empty()) fail(where + ": attribute: " + p);
      attrs[key] = attr_to_json(value, where + ": attribute " + quote_text(key));
    }
    json params = json::object();
    for (const auto& [key, p] : node.params) {
      if (std::string prob = name_problem(key, true); !prob.empty()) fail(where + ": " + prob);
      if (!p) fail(where + ": parameter " + quote_text(key) + " is null");
      params[key] = {
          {"dtype", dtype_name(p->data.dtype())}, {"shape", p->data.shape().dims()}, {"trainable", p->trainable}};
    }
    nodes.push_back({{"name", node.name},
                     {"op", op_name(node.op)},
                     {"inputs", std::move(inputs)},
                     {"attrs", std::move(attrs)},
                     {"params", std::move(params)}});
  }
  json meta = json::object();
  for (const auto& [k, v] : g.meta) meta[k] = v;
  return {{"input", {{"name", input.name}, {"shape", in_shape.dims()}}},
          {"nodes", std::move(nodes)},
          {"output", id[g.output()]},
          {"meta", std::move(meta)}};
}

Graph graph_from_json_value(const json& j, uint64_t max_param_bytes) {
  expect_object(j, "graph");
  expect_keys(j, {"input", "nodes", "output", "meta"}, "graph");

  const json& jin = member(j, "input", "graph");
  expect_object(jin, "input");
  expect_keys(jin, {"name", "shape"}, "input");
  const std::string in_name = as_name(member(jin, "name", "input"), "input name", false);
  // add_input prepends the batch dimension, so the per-sample rank is at most kMaxRank - 1.
  const Shape in_shape = as_shape(member(jin, "shape", "input"), "input shape", kMaxRank - 1, 1);
  check_value_size(in_shape, "input");  // the per-sample shape
  Graph g;
  g.add_input(in_name, in_shape);

  const json& jnodes = member(j, "nodes", "graph");
  expect_array(jnodes, "nodes");
  if (jnodes.size() > kMaxNodes) fail("more than " + std::to_string(kMaxNodes) + " nodes");
  uint64_t declared_bytes = 0;
  for (size_t i = 0; i < jnodes.size(); ++i) {
    const json& jn = jnodes[i];
    std::string where = "node " + std::to_string(i);
    expect_object(jn, where);
    expect_keys(jn, {"name", "op", "inputs", "attrs", "params"}, where);
    const std::string name = as_name(member(jn, "name", where), where + ": name", false);
    where += " (" + quote_text(name) + ")";

    const std::string op_text = as_string(member(jn, "op", where), where + ": op");
    OpKind op{};
    try {
      op = op_from_name(op_text);
    } catch (const Error&) {
      fail(where + ": unknown op " + quote_text(op_text));
    }
    const OpDef& def = op_def(op);

    const json& jinputs = member(jn, "inputs", where);
    expect_array(jinputs, where + ": inputs");
    std::vector<int> inputs;
    std::vector<Shape> in_shapes;
    for (const json& v : jinputs) {
      // Values 0..i exist before node i: topological order by construction.
      const int64_t id = as_int(v, where + ": input value id", 0, std::numeric_limits<int32_t>::max());
      if (id > int64_t(i))
        fail(where + ": input value " + std::to_string(id) +
             " is not produced before this node (value 0 is the graph input, value k+1 the output of node k)");
      inputs.push_back(int(id));
      in_shapes.push_back(g.values()[id].shape);
    }

    Attrs attrs;
    if (auto it = jn.find("attrs"); it != jn.end()) {
      expect_object(*it, where + ": attrs");
      for (auto a = it->begin(); a != it->end(); ++a) {
        if (std::string p = name_problem(a.key(), false); !p.empty()) fail(where + ": attribute: " + p);
        attrs[a.key()] = attr_from_json(a.value(), where + ": attribute " + quote_text(a.key()));
      }
    }

    std::map<std::string, ParamDecl> decls;
    if (auto it = jn.find("params"); it != jn.end()) {
      expect_object(*it, where + ": params");
      for (auto p = it->begin(); p != it->end(); ++p) {
        if (std::string prob = name_problem(p.key(), true); !prob.empty()) fail(where + ": " + prob);
        const std::string pw = where + ": parameter " + quote_text(p.key());
        const json& jp = p.value();
        expect_object(jp, pw);
        expect_keys(jp, {"dtype", "shape", "trainable"}, pw);
        ParamDecl d{};
        const std::string dt = as_string(member(jp, "dtype", pw), pw + ": dtype");
        try {
          d.dtype = dtype_from_name(dt);
        } catch (const Error&) {
          fail(pw + ": unknown dtype " + quote_text(dt));
        }
        d.shape = as_shape(member(jp, "shape", pw), pw + ": shape", kMaxRank, 0);
        const json& jt = member(jp, "trainable", pw);
        if (!jt.is_boolean()) fail(pw + ": trainable: expected true or false, got " + type_name(jt));
        d.trainable = jt.get<bool>();
        // Bound what will be allocated before allocating anything.
        uint64_t numel = 0, bytes = 0;
        if (!checked_numel(d.shape.dims(), numel) || __builtin_mul_overflow(numel, dtype_size(d.dtype), &bytes) ||
            __builtin_add_overflow(declared_bytes, bytes, &declared_bytes) || declared_bytes > max_param_bytes)
          fail(pw + ": parameters declare more than " + std::to_string(max_param_bytes) + " bytes in total");
        decls[p.key()] = d;
      }
    }

    const int out = guarded(where, [&] { return g.add_node(op, name, inputs, attrs, nullptr); });
    check_value_size(g.values()[out].shape, where + ": output");

    // Declared parameters first (their total is bounded above), so ops that cross-check the
    // parameters they are given in infer reject a mismatch before anything else is allocated.
    Node& node = g.nodes().back();
    guarded(where, [&] {
      for (const auto& [key, d] : decls) {
        auto p = std::make_shared<Param>();
        p->data = Tensor(d.shape, d.dtype);
        p->grad = Tensor(d.shape);  // like ops::make_param: an f32 gradient for every parameter
        p->trainable = d.trainable;
        node.params[key] = std::move(p);
      }
      def.infer(node, in_shapes);
    });
    // The parameters the op itself would create for these inputs fix the shapes; extra ones
    // (masks, quantisation scales added by passes) are allowed, missing or misshapen ones are not.
    if (def.init_params) {
      Node probe = node;
      probe.params.clear();
      Rng throwaway(0);
      guarded(where, [&] { def.init_params(probe, in_shapes, throwaway); });
      for (const auto& [key, p] : probe.params) {
        auto it = decls.find(key);
        const Shape want = p->data.shape();
        if (it == decls.end())
          fail(where + ": missing parameter " + quote_text(key) + " (" + def.name + " needs " + shape_text(want) + ")");
        if (it->second.shape != want)
          fail(where + ": parameter " + quote_text(key) + " has shape " + shape_text(it->second.shape) + " but " +
               def.name + " with input " + shape_text(in_shapes.empty() ? Shape() : in_shapes[0]) + " needs " +
               shape_text(want));
        if (it->second.dtype != p->data.dtype())
          fail(where + ": parameter " + quote_text(key) + " is " + dtype_name(it->second.dtype) + " but " + def.name +
               " needs " + dtype_name(p->data.dtype()));
      }
    }
  }

  const int64_t out = as_int(member(j, "output", "graph"), "output value id", 0, int64_t(jnodes.size()));
  g.set_output(int(out));

  if (auto it = j.find("meta"); it != j.end()) {
    expect_object(*it, "meta");
    for (auto m = it->begin(); m != it->end(); ++m)
      g.meta[m.key()] = as_string(m.value(), "meta " + quote_text(m.key()));
  }
  guarded("graph", [&] { g.validate(); });
  return g;
}

}  // namespace detail

std::string graph_to_json(const Graph& g) {
  try {
    return detail::dump_json(detail::graph_to_json_value(g), 2);
  } catch (const std::exception& e) {
    throw Error("graph JSON: " + detail::one_line(e.what()));
  }
}

Graph graph_from_json(const std::string& text) {
  try {
    return detail::graph_from_json_value(detail::parse_json(text, "the text"), detail::kMaxStandaloneParamBytes);
  } catch (const std::bad_alloc&) {
    throw Error("graph JSON: out of memory");
  } catch (const std::exception& e) {
    throw Error("graph JSON: " + detail::one_line(e.what()));
  }
}

}  // namespace nimble::io
