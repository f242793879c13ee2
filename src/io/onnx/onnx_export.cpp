// Model -> ONNX. Float graphs go through the inference passes (dropout removed, batch-norm folded)
// and map op for op. Int8 graphs become QDQ, the form ONNX Runtime's quantizer writes and runs
// with its int8 kernels: each int8 value is a QuantizeLinear -> DequantizeLinear pair with the
// value's scale and zero point; conv / linear weights are s8 initializers behind a per-channel
// DequantizeLinear (axis 0) and their bias an int32 initializer with scale s_x * s_w[o].
#include <cmath>
#include <filesystem>
#include <optional>

#include "io/atomic_file.hpp"
#include "io/onnx/onnx_import.hpp"
#include "io/onnx/onnx_tensor.hpp"
#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/graph/qparams.hpp"
#include "nimble/io/onnx.hpp"

namespace nimble::io {

namespace {

using onnx::TensorProto;

int32_t onnx_type_of(DType t) { return t == DType::u8 ? TensorProto::UINT8 : TensorProto::INT8; }

class Exporter {
 public:
  Exporter(const Model& model, onnx::ModelProto& proto, const Preprocessing* input_as)
      : g_(graph_to_export(model)), proto_(proto), input_as_(input_as), own_(model.preprocessing) {
    gp_ = proto_.mutable_graph();
    name_.assign(g_.values().size(), "");
    q_.assign(g_.values().size(), std::nullopt);
  }

  void run(const std::string& model_name) {
    proto_.set_ir_version(7);  // what opsets 13 and 14 belong to
    proto_.set_producer_name("nimble");
    proto_.set_producer_version("0.1");
    auto* opset = proto_.add_opset_import();
    opset->set_domain("");
    opset->set_version(needs_opset_14() ? 14 : kOnnxExportOpset);
    gp_->set_name(model_name);
    const int in = g_.input();
    name_[size_t(in)] = input_as_ ? adapted_input("input") : "input";
    add_value_info(gp_->add_input(), "input", g_.input_shape());
    for (const Node& n : g_.nodes()) emit(n);
    add_value_info(gp_->add_output(), name_[size_t(g_.output())], g_.output_shape());
  }

 private:
  static Graph graph_to_export(const Model& m) {
    for (const Node& n : m.graph.nodes())
      NIMBLE_CHECK(n.op != OpKind::fake_quant, "node '" + n.name +
                                                   "' is a fake-quant of quantization-aware training: convert the "
                                                   "model to int8 (nimble quantize) before exporting it");
    return m.quantized() ? m.graph : passes::optimize_for_inference(m.graph);
  }

  // x normalised as input_as_ says -> x normalised as the model's own preprocessing, per channel
  // (the node added in front of the graph):
  //   pixel / pixel_max = x * std_in + mean_in  (or x itself without a normalization), so
  //   x_own = x * (std_in / std_own) + (mean_in - mean_own) / std_own.
  // No node where the two agree.
  std::string adapted_input(const std::string& x) {
    const int64_t c = g_.input_shape()[0];
    const auto stat = [](const data::Normalization& n, bool mean, int64_t i) {
      if (n.mean.empty()) return mean ? 0.0f : 1.0f;
      return (mean ? n.mean : n.std)[size_t(n.mean.size() == 1 ? 0 : i)];
    };
    NIMBLE_CHECK(input_as_->pixel_max == own_.pixel_max && input_as_->channel_order == own_.channel_order,
                 "cannot export for the other model's input: its pixel range or channel order differs");
    std::vector<float> a(static_cast<size_t>(c)), b(static_cast<size_t>(c));
    bool identity = true;
    for (int64_t i = 0; i < c; ++i) {
      const float in_mean = stat(input_as_->normalization, true, i), in_std = stat(input_as_->normalization, false, i);
      const float mean = stat(own_.normalization, true, i), std = stat(own_.normalization, false, i);
      a[size_t(i)] = in_std / std;
      b[size_t(i)] = (in_mean - mean) / std;
      identity = identity && a[size_t(i)] == 1.0f && b[size_t(i)] == 0.0f;
    }
    if (identity) return x;
    // As a BatchNormalization (scale a, bias b, mean 0, variance 1 - eps): one node every runtime
    // and nimble's importer take, where Mul / Add by constants are not imported.
    const float eps = 1e-5f;
    const std::vector<float> zeros(size_t(c), 0.0f), ones(size_t(c), 1.0f - eps);
    onnx::NodeProto* bn = node("BatchNormalization", "input_adapter",
                               {x, initializer("input_scale", floats_tensor({c}, a.data())),
                                initializer("input_shift", floats_tensor({c}, b.data())),
                                initializer("input_mean", floats_tensor({c}, zeros.data())),
                                initializer("input_var", floats_tensor({c}, ones.data()))});
    attr(bn, "epsilon", eps);
    return bn->output(0);
  }

  bool needs_opset_14() const {
    for (const Node& n : g_.nodes())
      if (n.op == OpKind::hardswish || n.attr_str("activation", "none") == "hardswish") return true;
    return false;
  }

  static void add_value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& per_sample) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(TensorProto::FLOAT);
    auto* s = t->mutable_shape();
    s->add_dim()->set_dim_param("batch");
    for (int d = 0; d < per_sample.rank(); ++d) s->add_dim()->set_dim_value(per_sample[d]);
  }

  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; !names_.insert(name).second; ++k) name = base + "_" + std::to_string(k);
    return name;
  }

  std::string initializer(const std::string& base, const ConstTensor& t) {
    std::string name = fresh(base);
    auto* p = gp_->add_initializer();
    const_to_proto(t, *p);
    p->set_name(name);
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::string& base, const std::vector<std::string>& inputs) {
    auto* n = gp_->add_node();
    n->set_op_type(op);
    n->set_name(fresh(base + "/" + op));
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(fresh(base + "/" + op + "_out"));
    return n;
  }
  static void attr(onnx::NodeProto* n, const char* key, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto* n, const char* key, float v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto* n, const char* key, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  std::string scalar(float v) {
    const std::string key = std::to_string(v);
    auto it = scalars_.find(key);
    if (it != scalars_.end()) return it->second;
    return scalars_[key] = initializer("const_" + key, floats_tensor({}, &v));
  }
  std::string int64s(const std::string& base, std::vector<int64_t> v) {
    const int64_t n = int64_t(v.size());
    return initializer(base, ints_tensor({n}, std::move(v), TensorProto::INT64));
  }

  // An element-wise op on x (an op kind or a fused `activation` name).
  std::string unary(OpKind op, const std::string& x, const std::string& base) {
    switch (op) {
      case OpKind::relu:
        return node("Relu", base, {x})->output(0);
      case OpKind::relu6:
        return node("Clip", base, {x, scalar(0.0f), scalar(6.0f)})->output(0);
      case OpKind::sigmoid:
        return node("Sigmoid", base, {x})->output(0);
      case OpKind::tanh:
        return node("Tanh", base, {x})->output(0);
      case OpKind::hardswish:
        return node("HardSwish", base, {x})->output(0);
      case OpKind::hardsigmoid: {
        auto* n = node("HardSigmoid", base, {x});
        attr(n, "alpha", 1.0f / 6.0f);
        attr(n, "beta", 0.5f);
        return n->output(0);
      }
      case OpKind::silu:
        return node("Mul", base, {x, node("Sigmoid", base, {x})->output(0)})->output(0);
      default:
        throw Error(std::string("op ") + op_name(op) + " has no ONNX export");
    }
  }
  std::string activation(const Node& n, const std::string& x) {
    const std::string act = n.attr_str("activation", "none");
    return act == "none" ? x : unary(op_from_name(act), x, n.name);
  }

  // The int8 value v (already float in ONNX, behind its DequantizeLinear) re-quantized as `q`.
  std::string quantize_dequantize(const std::string& x, const QParams& q, const std::string& base) {
    const std::string scale = initializer(base + ".scale", floats_tensor({}, &q.scale));
    const std::string zp = initializer(base + ".zero_point", ints_tensor({}, {q.zero_point}, onnx_type_of(q.dtype)));
    const std::string quantized = node("QuantizeLinear", base, {x, scale, zp})->output(0);
    return node("DequantizeLinear", base, {quantized, scale, zp})->output(0);
  }

  // s8 weights (O, ...) with per-channel scales, dequantized on axis 0.
  std::string int8_weights(const Node& n) {
    const Tensor& w = n.param("weights").data;
    const Tensor& s = n.param("weight_scales").data;
    const int64_t o = w.shape()[0];
    std::vector<int64_t> values(static_cast<size_t>(w.numel()));
    for (int64_t i = 0; i < w.numel(); ++i) values[size_t(i)] = +w.data<int8_t>()[i];  // signed: -128 stays -128
    const std::string wq =
        initializer(n.name + ".weight_quantized", ints_tensor(w.shape().dims(), values, TensorProto::INT8));
    const std::string scale = initializer(n.name + ".weight_scale", floats_tensor({o}, s.data<float>()));
    const std::string zp = initializer(n.name + ".weight_zero_point",
                                       ints_tensor({o}, std::vector<int64_t>(size_t(o), 0), TensorProto::INT8));
    auto* dq = node("DequantizeLinear", n.name + ".weight", {wq, scale, zp});
    attr(dq, "axis", int64_t(0));
    return dq->output(0);
  }
  // The real-valued bias as int32 with scale s_x * s_w[o] (empty when the layer has none).
  std::string int8_bias(const Node& n, float src_scale) {
    ParamPtr b = n.param_ptr("bias");
    if (!b) return "";
    const Tensor& s = n.param("weight_scales").data;
    const int64_t o = b->data.numel();
    std::vector<float> scales(static_cast<size_t>(o));
    std::vector<int64_t> values(static_cast<size_t>(o));
    for (int64_t i = 0; i < o; ++i) {
      scales[size_t(i)] = src_scale * s.data<float>()[i];
      const double v = std::nearbyint(double(b->data.data<float>()[i]) / scales[size_t(i)]);
      values[size_t(i)] = int64_t(std::fmax(std::fmin(v, 2147483647.0), -2147483648.0));
    }
    const std::string bq = initializer(n.name + ".bias_quantized", ints_tensor({o}, values, TensorProto::INT32));
    const std::string scale = initializer(n.name + ".bias_scale", floats_tensor({o}, scales.data()));
    const std::string zp = initializer(n.name + ".bias_zero_point",
                                       ints_tensor({o}, std::vector<int64_t>(size_t(o), 0), TensorProto::INT32));
    auto* dq = node("DequantizeLinear", n.name + ".bias", {bq, scale, zp});
    attr(dq, "axis", int64_t(0));
    return dq->output(0);
  }

  std::string float_param(const Node& n, const char* key) {
    const Tensor& t = n.param(key).data;
    return initializer(n.name + "." + key, floats_tensor(t.shape().dims(), t.data<float>()));
  }

  void conv_attrs(onnx::NodeProto* c, const Node& n) {
    const auto p = n.attr_ints("padding", {0, 0});
    attr(c, "kernel_shape", n.attr_ints("kernel", {3, 3}));
    attr(c, "strides", n.attr_ints("stride", {1, 1}));
    attr(c, "pads", std::vector<int64_t>{p[0], p[1], p[0], p[1]});
    attr(c, "dilations", n.attr_ints("dilation", {1, 1}));
    attr(c, "group", n.attr_int("groups", 1));
  }

  void pool_attrs(onnx::NodeProto* c, const Node& n) {
    const auto k = n.attr_ints("kernel", {});
    auto p = n.attr_ints("padding", {0, 0});
    if (p.size() == 2) p = {p[0], p[1], p[0], p[1]};
    attr(c, "kernel_shape", k);
    attr(c, "strides", n.attr_ints("stride", k));
    attr(c, "pads", p);
  }

  // The layer ops in float (their int8 forms call these with dequantized weights).
  std::string conv(const Node& n, const std::string& x, const std::string& w, const std::string& b) {
    std::vector<std::string> in{x, w};
    if (!b.empty()) in.push_back(b);
    auto* c = node("Conv", n.name, in);
    conv_attrs(c, n);
    return activation(n, c->output(0));
  }
  std::string gemm(const Node& n, const std::string& x, const std::string& w, const std::string& b) {
    std::vector<std::string> in{x, w};
    if (!b.empty()) in.push_back(b);
    auto* c = node("Gemm", n.name, in);
    attr(c, "transB", int64_t(1));
    return activation(n, c->output(0));
  }

  std::string in(const Node& n, int i) const { return name_[size_t(n.inputs[size_t(i)])]; }
  std::optional<QParams> in_q(const Node& n, int i) const { return q_[size_t(n.inputs[size_t(i)])]; }

  void emit(const Node& n) {
    const std::string x = in(n, 0);
    std::string y;
    std::optional<QParams> yq;
    const Shape shape = g_.values()[size_t(n.output)].shape;
    switch (n.op) {
      case OpKind::conv2d:
        y = conv(n, x, float_param(n, "weights"), n.param_ptr("bias") ? float_param(n, "bias") : "");
        break;
      case OpKind::linear:
        y = gemm(n, x, float_param(n, "weights"), n.param_ptr("bias") ? float_param(n, "bias") : "");
        break;
      case OpKind::batch_norm2d: {
        auto* b = node("BatchNormalization", n.name,
                       {x, float_param(n, "scale"), float_param(n, "shift"), float_param(n, "running_mean"),
                        float_param(n, "running_var")});
        attr(b, "epsilon", float(n.attr_float("eps", 1e-5)));
        y = activation(n, b->output(0));
        break;
      }
      case OpKind::relu:
      case OpKind::relu6:
      case OpKind::sigmoid:
      case OpKind::tanh:
      case OpKind::hardswish:
      case OpKind::hardsigmoid:
      case OpKind::silu:
        y = unary(n.op, x, n.name);
        break;
      case OpKind::max_pool2d:
      case OpKind::avg_pool2d: {
        auto* p = node(n.op == OpKind::max_pool2d ? "MaxPool" : "AveragePool", n.name, {x});
        pool_attrs(p, n);
        if (n.op == OpKind::avg_pool2d) attr(p, "count_include_pad", n.attr_int("count_include_pad", 1));
        y = p->output(0);
        break;
      }
      case OpKind::global_avg_pool:
        y = node("GlobalAveragePool", n.name, {x})->output(0);
        break;
      case OpKind::add:
        y = activation(n, node("Add", n.name, {x, in(n, 1)})->output(0));
        break;
      case OpKind::mul:
        y = node("Mul", n.name, {x, in(n, 1)})->output(0);
        break;
      case OpKind::concat: {
        std::vector<std::string> ins;
        for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(in(n, int(i)));
        auto* c = node("Concat", n.name, ins);
        attr(c, "axis", n.attr_int("axis", 1));
        y = c->output(0);
        break;
      }
      case OpKind::flatten: {
        auto* f = node("Flatten", n.name, {x});
        attr(f, "axis", int64_t(1));
        y = f->output(0);
        break;
      }
      case OpKind::reshape:
        y = reshape(n.name, x, shape);
        break;
      case OpKind::softmax: {
        auto* s = node("Softmax", n.name, {x});
        attr(s, "axis", n.attr_int("axis", 1));
        y = s->output(0);
        break;
      }
      case OpKind::dropout:
        y = x;
        break;
      case OpKind::channel_shuffle: {
        const int64_t groups = n.attr_int("groups", 1);
        const std::string split =
            reshape(n.name + ".split", x, Shape{1, groups, shape[1] / groups, shape[2], shape[3]});
        auto* t = node("Transpose", n.name, {split});
        attr(t, "perm", std::vector<int64_t>{0, 2, 1, 3, 4});
        y = reshape(n.name + ".merge", t->output(0), shape);
        break;
      }
      case OpKind::slice:
        y = node("Slice", n.name,
                 {x, int64s(n.name + ".starts", {n.attr_int("start", 0)}),
                  int64s(n.name + ".ends", {n.attr_int("end", 0)}), int64s(n.name + ".axes", {n.attr_int("axis", 1)})})
                ->output(0);
        break;
      // ---- int8 ----
      case OpKind::quantize:
        yq = qparams(n, "", false);
        y = quantize_dequantize(x, *yq, n.name);
        break;
      case OpKind::dequantize:
        y = x;
        break;
      case OpKind::qconv2d:
      case OpKind::qlinear: {
        const QParams src = qparams(n, "src_", false);
        const std::string w = int8_weights(n), b = int8_bias(n, src.scale);
        y = n.op == OpKind::qconv2d ? conv(n, x, w, b) : gemm(n, x, w, b);
        y = requantize(n, y, yq);
        break;
      }
      case OpKind::qadd:
        y = requantize(n, activation(n, node("Add", n.name, {x, in(n, 1)})->output(0)), yq);
        break;
      case OpKind::dqlinear:  // weights int8, activations quantized per batch at run time: exported weight-only
        y = gemm(n, x, int8_weights(n), n.param_ptr("bias") ? float_param(n, "bias") : "");
        break;
      default:
        throw Error(std::string("node '") + n.name + "': op " + op_name(n.op) + " has no ONNX export");
    }
    // Int8 passes through pooling and reshapes with its scale: quantize the float result again.
    if (!yq && op_traits(n.op).int8 == Int8Rule::passes_through && in_q(n, 0)) {
      yq = in_q(n, 0);
      y = quantize_dequantize(y, *yq, n.name);
    }
    name_[size_t(n.output)] = y;
    q_[size_t(n.output)] = yq;
  }

  // An int8 op's result: quantized with dst_* when it stays int8, float otherwise.
  std::string requantize(const Node& n, const std::string& y, std::optional<QParams>& yq) {
    const QParams dst = qparams(n, "dst_", true);
    if (dst.dtype == DType::f32) return y;
    yq = dst;
    return quantize_dequantize(y, dst, n.name + ".out");
  }

  std::string reshape(const std::string& base, const std::string& x, const Shape& to) {
    std::vector<int64_t> dims = to.dims();
    dims[0] = 0;  // copy the batch
    return node("Reshape", base, {x, int64s(base + ".shape", dims)})->output(0);
  }

  const Graph g_;
  onnx::ModelProto& proto_;
  const Preprocessing* input_as_;
  const Preprocessing& own_;
  onnx::GraphProto* gp_ = nullptr;
  std::vector<std::string> name_;          // per value: its float tensor in ONNX
  std::vector<std::optional<QParams>> q_;  // per value: its quantization when int8
  std::set<std::string> names_;
  std::map<std::string, std::string> scalars_;
};

}  // namespace

void export_onnx(const Model& model, const std::string& path, const Preprocessing* input_as) {
  onnx::ModelProto proto;
  Exporter(model, proto, input_as).run(std::filesystem::path(path).stem().string());
  check_onnx_model(proto, "the exported model");
  std::string bytes;
  NIMBLE_CHECK(proto.SerializeToString(&bytes), "cannot serialise the ONNX model (over 2 GiB?)");
  try {
    write_file_atomically(path, bytes);
  } catch (const Error& e) {
    throw Error("cannot write " + path + ": " + e.what());
  }
}

}  // namespace nimble::io
