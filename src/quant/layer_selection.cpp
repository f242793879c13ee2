#include "nimble/quant/layer_selection.hpp"

#include <algorithm>
#include <map>

#include "nimble/core/error.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"

namespace nimble::quant {

namespace {

// Median forward time of the whole graph in ms.
double model_ms(const Graph& g, int64_t batch) {
  Session s(g, {batch, Mode::eval, false, Precision::fp32, true});
  return percentile(time_forward(s, random_batch(g.input_shape(), batch, 7), 1, batch == 1 ? 60 : 7), 0.5);
}

// Per quantizable layer: the summed time of the int8-graph nodes that serve it.
std::map<std::string, double> layer_times(const Converted& c, const std::map<std::string, double>& node_ms) {
  std::map<std::string, double> t;
  for (const auto& [node, layer] : c.layer_of) t[layer] += node_ms.at(node);
  return t;
}

}  // namespace

Selection select_layers(const Graph& prepared, const std::vector<QParams>& value_params, const SelectionOptions& o) {
  constexpr int kIters1 = 30, kItersBig = 5;
  constexpr double kMinGain = 0.02;  // below this a whole-model difference is timing noise
  Selection sel;
  sel.keep_float = o.keep_float;
  std::map<std::string, LayerReport> report;
  for (const std::string& name : quantizable_layers(prepared)) {
    LayerReport r;
    r.name = name;
    for (const Node& n : prepared.nodes())
      if (n.name == name) r.op = op_name(n.op);
    if (o.keep_float.count(name)) r.int8 = false, r.reason = "kept in float by request";
    report[name] = r;
  }

  if (o.speed) {
    // Per layer: its kernel(s) in int8 against its kernel in float, from per-node profiles.
    const Converted all_int8 = convert_layers(prepared, value_params, {sel.keep_float});
    const auto f1 = node_times(prepared, 1, kIters1), fb = node_times(prepared, o.big_batch, kItersBig);
    const auto q1 = layer_times(all_int8, node_times(all_int8.graph, 1, kIters1));
    const auto qb = layer_times(all_int8, node_times(all_int8.graph, o.big_batch, kItersBig));
    std::vector<std::pair<double, std::string>> suspects;  // (worst int8 / float ratio, layer)
    for (auto& [name, r] : report) {
      if (!q1.count(name)) continue;
      r.float_ms_b1 = f1.at(name), r.float_ms_big = fb.at(name);
      r.int8_ms_b1 = q1.at(name), r.int8_ms_big = qb.at(name);
      const double worst =
          std::max(r.int8_ms_b1 / std::max(r.float_ms_b1, 1e-9), r.int8_ms_big / std::max(r.float_ms_big, 1e-9));
      if (worst > 1.0) suspects.emplace_back(worst, name);
    }
    // A layer's float form also moves conversions onto its neighbours, so a suspect goes back to
    // float only if the whole model then measures faster (batch 1 and the big batch, each
    // relative to the float model, summed).
    const double base1 = model_ms(prepared, 1), base_big = model_ms(prepared, o.big_batch);
    double last1 = 0, last_big = 0;  // of the configuration cost() measured last
    auto cost = [&](const std::set<std::string>& keep) {
      const Graph g = convert(prepared, value_params, {keep});
      last1 = model_ms(g, 1), last_big = model_ms(g, o.big_batch);
      return last1 / base1 + last_big / base_big;
    };
    auto try_float = [&](const std::string& name, double& current, const char* why) {
      std::set<std::string> trial = sel.keep_float;
      trial.insert(name);
      const double c = cost(trial);
      if (c >= current * (1.0 - kMinGain)) return;
      sel.keep_float = trial;
      current = c;
      report[name].int8 = false;
      report[name].reason = why;
    };
    std::sort(suspects.rbegin(), suspects.rend());
    double current = cost(sel.keep_float);
    double now1 = last1, now_big = last_big;
    for (const auto& [ratio, name] : suspects) {
      try_float(name, current, "int8 is slower here (the whole model measured faster with it in float)");
      if (sel.keep_float.count(name)) now1 = last1, now_big = last_big;
    }
    // Never slower than the float model at either batch size: while it is, the int8 layer whose
    // float form helps the whole model most goes back to float.
    auto slower_than_float = [&] { return now1 > base1 * (1 + kMinGain) || now_big > base_big * (1 + kMinGain); };
    for (bool slower = slower_than_float(); slower;) {
      std::string best;
      double best_cost = current;
      for (auto& [name, r] : report) {
        if (sel.keep_float.count(name)) continue;
        std::set<std::string> trial = sel.keep_float;
        trial.insert(name);
        const double c = cost(trial);
        if (c < best_cost) best_cost = c, best = name;
      }
      if (best.empty()) break;  // nothing left that helps: the report says it is slower
      sel.keep_float.insert(best);
      current = cost(sel.keep_float);
      now1 = last1, now_big = last_big;
      report[best].int8 = false;
      report[best].reason = "the whole int8 model was slower than float; this layer in float helps it most";
      slower = slower_than_float();
    }
    sel.float_ms_b1 = base1, sel.float_ms_big = base_big, sel.int8_ms_b1 = now1, sel.int8_ms_big = now_big;
  }

  if (o.accuracy) {
    NIMBLE_CHECK(o.max_drop_points >= 0 && o.max_drop_points <= 100,
                 "the tolerated accuracy drop must be 0 to 100 points");
    sel.float_accuracy = o.accuracy(prepared);
    auto drop_of = [&](const std::set<std::string>& keep) {
      return 100.0 * (sel.float_accuracy - o.accuracy(convert(prepared, value_params, {keep})));
    };
    double drop = drop_of(sel.keep_float);
    std::vector<std::string> int8_layers;
    for (auto& [name, r] : report)
      if (!sel.keep_float.count(name)) int8_layers.push_back(name);
    if (drop > o.max_drop_points || o.measure_sensitivity) {
      // Sensitivity: each int8 layer alone.
      for (const std::string& name : int8_layers) {
        std::set<std::string> all_but = sel.keep_float;
        for (const std::string& other : int8_layers)
          if (other != name) all_but.insert(other);
        report[name].accuracy_drop_alone = drop_of(all_but);
      }
    }
    if (drop > o.max_drop_points) {
      std::sort(int8_layers.begin(), int8_layers.end(), [&](const std::string& a, const std::string& b) {
        return report[a].accuracy_drop_alone > report[b].accuracy_drop_alone;
      });
      for (const std::string& name : int8_layers) {
        if (drop <= o.max_drop_points) break;
        sel.keep_float.insert(name);
        report[name].int8 = false;
        report[name].reason = "accuracy: costs " + std::to_string(report[name].accuracy_drop_alone) + " points alone";
        drop = drop_of(sel.keep_float);
      }
    }
    sel.int8_accuracy = sel.float_accuracy - drop / 100.0;
    sel.tolerance_met = drop <= o.max_drop_points;
  }
  for (const std::string& name : quantizable_layers(prepared)) sel.layers.push_back(report[name]);  // graph order
  return sel;
}

}  // namespace nimble::quant
