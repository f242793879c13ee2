#include "nimble/quant/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble::quant {

namespace {

// Conv2d, linear and add: replaced by their int8 op.
bool has_int8_form(OpKind op) { return op_traits(op).int8 == Int8Rule::has_int8_form; }
// Ops that run on int8 as they are when their input already is int8 (same scale out as in).
bool passes_int8_through(OpKind op) { return op_traits(op).int8 == Int8Rule::passes_through; }

// Rows [0, count) of a batch as one flat range.
void observe_rows(Observer& o, const Tensor& t, int64_t count, bool histogram) {
  const int64_t per_row = t.numel() / t.shape()[0];
  if (histogram)
    o.observe_histogram(t.data<float>(), per_row * count);
  else
    o.observe_range(t.data<float>(), per_row * count);
}

// The ranks' observers of their shares as one: after the range pass every observer gets the
// range over all ranks (-inf where a rank saw nothing), after the histogram pass the summed counts.
void combine_over_ranks(std::vector<Observer>& observers, bool histogram, dist::Communicator& comm) {
  const double none = -std::numeric_limits<double>::infinity();
  if (!histogram) {
    std::vector<double> neg_min_max;
    neg_min_max.reserve(observers.size() * 2);
    for (const Observer& o : observers) {
      neg_min_max.push_back(o.seen() ? -o.min() : none);
      neg_min_max.push_back(o.seen() ? o.max() : none);
    }
    comm.allreduce_max(neg_min_max.data(), int64_t(neg_min_max.size()));
    for (size_t v = 0; v < observers.size(); ++v)
      if (neg_min_max[2 * v + 1] != none) observers[v].merge_range(-neg_min_max[2 * v], neg_min_max[2 * v + 1]);
    return;
  }
  std::vector<double> counts(observers.size() * Observer::kBins, 0.0);
  for (size_t v = 0; v < observers.size(); ++v)
    if (!observers[v].histogram().empty())
      std::copy(observers[v].histogram().begin(), observers[v].histogram().end(), counts.begin() + v * Observer::kBins);
  comm.allreduce_sum(counts.data(), int64_t(counts.size()));
  for (size_t v = 0; v < observers.size(); ++v)
    observers[v].set_histogram({counts.begin() + v * Observer::kBins, counts.begin() + (v + 1) * Observer::kBins});
}

}  // namespace

Graph prepare(const Graph& g) { return passes::optimize_for_inference(g); }

std::vector<QParams> Calibration::params() const {
  const bool fits_tails = observer == ObserverKind::entropy || observer == ObserverKind::mse;
  std::vector<QParams> p;
  for (size_t v = 0; v < values.size(); ++v)
    p.push_back(values[v].result(fits_tails && int(v) == input ? ObserverKind::minmax : observer));
  return p;
}

Calibration calibrate(const Graph& prepared, const data::ImageSet& samples, const data::Normalization& norm,
                      ObserverKind observer, int64_t batch) {
  NIMBLE_CHECK(samples.size() > 0, "calibration needs at least one sample");
  NIMBLE_CHECK(samples.sample_shape() == prepared.input_shape(),
               "calibration samples are " + samples.sample_shape().str() + " but the model takes " +
                   prepared.input_shape().str());
  // Images that are all one value (a blank or broken data set) give every range a width of zero:
  // an int8 model calibrated on them would be wrong on real inputs, and nothing would say so.
  if (samples.images.dtype() == DType::u8) {
    const uint8_t* px = samples.images.data<uint8_t>();
    const int64_t n = samples.images.numel();
    NIMBLE_CHECK(n == 0 || std::any_of(px, px + n, [&](uint8_t v) { return v != px[0]; }),
                 "calibration: all " + std::to_string(samples.size()) + " calibration images hold the one value " +
                     std::to_string(int(px[0])) + ", so the int8 ranges cannot be measured (check the data)");
  }
  batch = std::min(batch, samples.size());
  Session session(prepared, {batch, Mode::eval, false, Precision::fp32});
  Calibration c;
  c.observer = observer;
  c.input = prepared.input();
  c.values.assign(prepared.values().size(), Observer());
  const int passes = needs_histogram(observer) ? 2 : 1;
  // Under mpirun each rank observes its share and the observers are combined after each pass
  // (exactly: ranges by min / max, histograms by summed counts). The EMA depends on the order of
  // all batches, so ema-minmax calibrates on every rank in full.
  dist::Communicator& comm = dist::world();
  const bool shared = comm.distributed() && observer != ObserverKind::ema_minmax;
  for (int pass = 0; pass < passes; ++pass) {
    data::BatchLoader loader(samples, norm, batch, /*shuffle=*/false, /*drop_last=*/false, {}, 0);
    if (shared) loader.shard(comm.rank(), comm.size());
    loader.start_epoch(0);
    data::Batch b;
    while (loader.next(b)) {
      session.forward(b.images);
      for (size_t v = 0; v < prepared.values().size(); ++v) {
        const Tensor t = int(v) == prepared.input() ? b.images : session.value(int(v));
        observe_rows(c.values[v], t, b.count, pass == 1);
      }
    }
    if (shared) combine_over_ranks(c.values, pass == 1, comm);
  }
  return c;
}

std::vector<std::string> quantizable_layers(const Graph& prepared) {
  std::vector<std::string> names;
  for (const Node& n : prepared.nodes())
    if (has_int8_form(n.op)) names.push_back(n.name);
  return names;
}

void quantize_weights(Tensor& q, Tensor& scales, const Tensor& weights) {
  const int64_t o = weights.shape()[0], per = weights.numel() / o;
  q = Tensor(weights.shape(), DType::s8);
  scales = Tensor({o});
  const float* w = weights.data<float>();  // (O, per)
  for (int64_t oc = 0; oc < o; ++oc) {
    const float s = weight_channel_scale(w + oc * per, per);
    scales.data<float>()[oc] = s;
    for (int64_t i = 0; i < per; ++i) q.data<int8_t>()[oc * per + i] = int8_t(quantize_weight(w[oc * per + i], s));
  }
}

namespace {

void check_layer_names(const Graph& g, const std::set<std::string>& names) {
  for (const std::string& name : names) {
    bool found = false;
    for (const Node& n : g.nodes()) found = found || n.name == name;
    NIMBLE_CHECK(found, "no layer named '" + name + "' to keep in float");
  }
}

// Builds the converted graph value by value: each prepared value may exist as float, as int8
// or both; the missing form is made on first use with one quantize / dequantize node.
class Converter {
 public:
  Converter(const Graph& p, const std::vector<QParams>& vp, const ConvertOptions& o)
      : p_(p), vp_(vp), opt_(o), consumers_(p.consumers()) {
    NIMBLE_CHECK(vp.size() == p.values().size(), "quantization parameters do not match the graph");
    fv_.assign(p.values().size(), -1);
    qv_.assign(p.values().size(), -1);
    fv_[size_t(p.input())] = out_.add_input(p.values()[size_t(p.input())].name, p.input_shape());
  }

  std::map<std::string, std::string> layer_of;

  Graph run() {
    std::vector<bool> absorbed(p_.nodes().size(), false);
    for (size_t i = 0; i < p_.nodes().size(); ++i) {
      if (absorbed[i]) continue;
      const Node& n = p_.nodes()[i];
      if (will_be_int8(n)) {
        int value = n.output;
        std::string act = n.attr_str("activation", "none");
        if (op_traits(n.op).fusion_site == FusionSite::add) {  // a ReLU reading only the sum runs inside the int8 add
          const int c = sole_consumer(n.output);
          if (c >= 0 && op_traits(p_.nodes()[size_t(c)].op).fuses_into(FusionSite::add) &&
              !kept(p_.nodes()[size_t(c)])) {
            absorbed[size_t(c)] = true;
            act = op_name(p_.nodes()[size_t(c)].op);
            value = p_.nodes()[size_t(c)].output;
          }
        }
        emit_int8(n, value, act);
      } else {
        emit_float(n);
      }
    }
    out_.set_output(float_value(p_.output()));
    out_.meta = p_.meta;
    out_.meta["quantized"] = "int8";
    return std::move(out_);
  }

 private:
  bool kept(const Node& n) const { return opt_.keep_float.count(n.name) > 0; }
  int sole_consumer(int value) const {
    if (value == p_.output() || consumers_[size_t(value)].size() != 1) return -1;
    return consumers_[size_t(value)][0];
  }
  bool will_be_int8(const Node& n) const {
    if (kept(n)) return false;
    if (has_int8_form(n.op)) return true;
    return passes_int8_through(n.op) && qv_[size_t(n.inputs[0])] >= 0;
  }
  // Whether some reader of `value` will run in int8 (and so wants it quantized).
  bool read_as_int8(int value) const {
    for (int c : consumers_[size_t(value)]) {
      const Node& r = p_.nodes()[size_t(c)];
      if (kept(r)) continue;
      if (has_int8_form(r.op) || passes_int8_through(r.op)) return true;
    }
    return false;
  }

  // The int8 form of value v, quantized for `reader` (the layer that pays for it) if needed.
  int int8_value(int v, const std::string& reader) {
    if (qv_[size_t(v)] >= 0) return qv_[size_t(v)];
    Attrs a;
    set_qparams(a, "", vp_[size_t(v)]);
    const std::string name = fresh(p_.values()[size_t(v)].name + ".quantize");
    qv_[size_t(v)] = out_.add_node(OpKind::quantize, name, {fv_[size_t(v)]}, a);
    layer_of[name] = reader;
    qp_[v] = vp_[size_t(v)];
    maker_[v] = reader;
    return qv_[size_t(v)];
  }
  // The float form of value v, dequantized (at the cost of the int8 layer that made v) if needed.
  int float_value(int v) {
    if (fv_[size_t(v)] >= 0) return fv_[size_t(v)];
    Attrs a;
    set_qparams(a, "", qp_.at(v));
    const std::string name = fresh(p_.values()[size_t(v)].name + ".dequantize");
    fv_[size_t(v)] = out_.add_node(OpKind::dequantize, name, {qv_[size_t(v)]}, a);
    layer_of[name] = maker_.at(v);
    return fv_[size_t(v)];
  }
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 2; !names_.insert(name).second; ++k) name = base + "." + std::to_string(k);
    return name;
  }

  void emit_float(const Node& n) {
    std::vector<int> ins;
    for (int v : n.inputs) ins.push_back(float_value(v));
    const int out = out_.add_node(n.op, fresh(n.name), ins, n.attrs);
    Node& copy = out_.nodes().back();
    for (const auto& [k, prm] : n.params)
      copy.params[k] = std::make_shared<Param>(Param{prm->data.clone(), Tensor(), prm->trainable, 0});
    fv_[size_t(n.output)] = out;
  }

  void emit_int8(const Node& n, int value, const std::string& act) {
    std::vector<int> ins;
    for (int v : n.inputs) ins.push_back(int8_value(v, n.name));
    if (passes_int8_through(n.op)) {
      const int out = out_.add_node(n.op, fresh(n.name), ins, n.attrs);
      qv_[size_t(value)] = out;
      qp_[value] = qp_.at(n.inputs[0]);
      maker_[value] = maker_.at(n.inputs[0]);
      return;
    }
    // The result stays int8 when something reads it in int8, else the op writes f32 directly.
    const bool int8_out = read_as_int8(value);
    const QParams dst = int8_out ? vp_[size_t(value)] : QParams{};
    Attrs a;
    OpKind op;
    if (n.op == OpKind::add) {
      op = OpKind::qadd;
      set_qparams(a, "src0_", qp_.at(n.inputs[0]));
      set_qparams(a, "src1_", qp_.at(n.inputs[1]));
    } else {
      NIMBLE_CHECK(n.inputs.size() == 1,
                   "quantize: '" + n.name + "' has a fused residual input; quantize the model, not a session's graph");
      op = n.op == OpKind::conv2d ? OpKind::qconv2d : OpKind::qlinear;
      a = n.attrs;
      a["bias"] = int64_t(n.param_ptr("bias") ? 1 : 0);
      set_qparams(a, "src_", qp_.at(n.inputs[0]));
    }
    a["activation"] = act;
    set_qparams(a, "dst_", dst);
    const int out = out_.add_node(op, fresh(n.name), ins, a);
    layer_of[n.name] = n.name;
    if (op != OpKind::qadd) {
      Node& q = out_.nodes().back();
      auto weights = std::make_shared<Param>(), scales = std::make_shared<Param>();
      quantize_weights(weights->data, scales->data, n.param("weights").data);
      scales->trainable = false;  // as make_quantized_params: weights and bias count as parameters
      q.params["weights"] = weights;
      q.params["weight_scales"] = scales;
      if (ParamPtr b = n.param_ptr("bias"))
        q.params["bias"] = std::make_shared<Param>(Param{b->data.clone(), Tensor(), true, 0});
    }
    if (int8_out) {
      qv_[size_t(value)] = out;
      qp_[value] = dst;
      maker_[value] = n.name;
    } else {
      fv_[size_t(value)] = out;
    }
  }

  const Graph& p_;
  const std::vector<QParams>& vp_;
  const ConvertOptions& opt_;
  std::vector<std::vector<int>> consumers_;
  Graph out_;
  std::vector<int> fv_, qv_;          // per prepared value: its float / int8 value in out_, or -1
  std::map<int, QParams> qp_;         // per prepared value with an int8 form: its quantization
  std::map<int, std::string> maker_;  // per int8 value: the layer whose cost its conversions are
  std::set<std::string> names_;
};

}  // namespace

Converted convert_layers(const Graph& prepared, const std::vector<QParams>& value_params,
                         const ConvertOptions& options) {
  check_layer_names(prepared, options.keep_float);
  Converter c(prepared, value_params, options);
  Converted r{c.run(), {}};
  r.layer_of = std::move(c.layer_of);
  r.graph.validate();
  return r;
}

Graph convert(const Graph& prepared, const std::vector<QParams>& value_params, const ConvertOptions& options) {
  return convert_layers(prepared, value_params, options).graph;
}

Graph convert_dynamic(const Graph& prepared, const std::set<std::string>& keep_float) {
  check_layer_names(prepared, keep_float);
  Graph g = prepared.clone();
  int converted = 0;
  for (Node& n : g.nodes()) {
    if (n.op != OpKind::linear) continue;
    ++converted;
    if (keep_float.count(n.name)) continue;
    auto weights = std::make_shared<Param>(), scales = std::make_shared<Param>();
    quantize_weights(weights->data, scales->data, n.param("weights").data);
    scales->trainable = false;
    n.op = OpKind::dqlinear;
    n.attrs["bias"] = int64_t(n.param_ptr("bias") ? 1 : 0);
    n.params["weights"] = weights;
    n.params["weight_scales"] = scales;
  }
  NIMBLE_CHECK(converted > 0, "dynamic quantization converts linear layers, and this model has none");
  g.meta["quantized"] = "int8-dynamic";
  g.validate();
  return g;
}

}  // namespace nimble::quant
