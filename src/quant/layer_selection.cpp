#include "nimble/quant/layer_selection.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/runtime/choose_by_measurement.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"

namespace nimble::quant {

namespace {

// One configuration of the int8 model, timed as often as asked: its batch-1 and big-batch forward
// times relative to the float model's, summed; the least of each is kept.
class ConfigCost {
 public:
  ConfigCost(Graph g, int64_t big_batch, double float_b1, double float_big)
      : graph_(std::move(g)),
        s1_(graph_, {1, Mode::eval, false, Precision::fp32, true}),
        sbig_(graph_, {big_batch, Mode::eval, false, Precision::fp32, true}),
        x1_(random_batch(graph_.input_shape(), 1, 7)),
        xbig_(random_batch(graph_.input_shape(), big_batch, 7)),
        float_b1_(float_b1),
        float_big_(float_big) {}
  double measure() {
    const double b1 = percentile(time_forward(s1_, x1_, 1, 20), 0.5);
    const double big = percentile(time_forward(sbig_, xbig_, 1, 3), 0.5);
    least1_ = std::min(least1_, b1), least_big_ = std::min(least_big_, big);
    return b1 / float_b1_ + big / float_big_;
  }
  double least1() const { return least1_; }
  double least_big() const { return least_big_; }

 private:
  Graph graph_;
  Session s1_, sbig_;
  Tensor x1_, xbig_;
  double float_b1_, float_big_;
  double least1_ = 1e30, least_big_ = 1e30;
};

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
    std::vector<double> shared;  // rank 0's figures on every rank, so every rank takes the same path
    for (auto& [name, r] : report)
      if (q1.count(name)) shared.insert(shared.end(), {f1.at(name), fb.at(name), q1.at(name), qb.at(name)});
    // The float model's least times over three measurements: what the int8 model's least times
    // are held against.
    ConfigCost floating(prepared.clone(), o.big_batch, 1, 1);
    for (int i = 0; i < 3; ++i) floating.measure();
    shared.insert(shared.end(), {floating.least1(), floating.least_big()});
    dist::take_rank0_values(shared);
    size_t at = 0;
    std::vector<std::pair<double, std::string>> suspects;  // (worst int8 / float ratio, layer)
    for (auto& [name, r] : report) {
      if (!q1.count(name)) continue;
      r.float_ms_b1 = shared[at], r.float_ms_big = shared[at + 1];
      r.int8_ms_b1 = shared[at + 2], r.int8_ms_big = shared[at + 3];
      at += 4;
      const double worst =
          std::max(r.int8_ms_b1 / std::max(r.float_ms_b1, 1e-9), r.int8_ms_big / std::max(r.float_ms_big, 1e-9));
      if (worst > 1.0) suspects.emplace_back(worst, name);
    }
    sel.float_ms_b1 = shared[at], sel.float_ms_big = shared[at + 1];
    // A layer's float form also moves conversions onto its neighbours, so a suspect goes back to
    // float only if the whole model then measures faster: the configuration in force and the trial
    // timed in alternation until the comparison is stable (decide_by_measurement), so that a busy
    // moment cannot flip it.
    auto config = [&](const std::set<std::string>& keep) {
      return std::make_shared<ConfigCost>(convert(prepared, value_params, {keep}), o.big_batch, sel.float_ms_b1,
                                          sel.float_ms_big);
    };
    std::shared_ptr<ConfigCost> current = config(sel.keep_float);
    auto try_float = [&](const std::string& name, const std::string& why) {
      std::set<std::string> keep = sel.keep_float;
      keep.insert(name);
      std::shared_ptr<ConfigCost> trial = config(keep);
      std::vector<MeasuredCandidate> pair = {{"in force", [&] { return current->measure(); }, ""},
                                             {name + " in float", [&] { return trial->measure(); }, ""}};
      const MeasuredDecision d = decide_by_measurement(pair, kMinGain);
      sel.gate_comparisons += 1;
      sel.gate_rounds += d.rounds;
      if (!d.stable) sel.gate_unstable.push_back(name);
      if (d.chosen != 1) return false;
      sel.keep_float = keep;
      current = trial;
      report[name].int8 = false;
      report[name].reason = why;
      return true;
    };
    std::sort(suspects.rbegin(), suspects.rend());
    for (const auto& [ratio, name] : suspects)
      try_float(name, "int8 is slower here (the whole model measured faster with it in float)");
    // Never slower than the float model at either batch size: while it is, the int8 layer whose
    // float form helps the whole model most (one measurement each, rank 0's pick) is tried.
    auto slower_than_float = [&] {
      std::vector<double> least = {current->least1(), current->least_big()};
      dist::take_rank0_values(least);
      return least[0] > sel.float_ms_b1 * (1 + kMinGain) || least[1] > sel.float_ms_big * (1 + kMinGain);
    };
    while (slower_than_float()) {
      std::vector<std::string> names;
      for (auto& [name, r] : report)
        if (!sel.keep_float.count(name)) names.push_back(name);
      std::vector<double> pick = {-1};
      double best_cost = current->measure();
      for (size_t i = 0; i < names.size(); ++i) {
        std::set<std::string> keep = sel.keep_float;
        keep.insert(names[i]);
        if (const double c = config(keep)->measure(); c < best_cost) best_cost = c, pick[0] = double(i);
      }
      dist::take_rank0_values(pick);
      if (pick[0] < 0 || !try_float(names[size_t(pick[0])],
                                    "the whole int8 model was slower than float; this layer in float helps it most"))
        break;  // nothing left that helps: the report says it is slower
    }
    std::vector<double> least = {current->least1(), current->least_big()};
    dist::take_rank0_values(least);
    sel.int8_ms_b1 = least[0], sel.int8_ms_big = least[1];
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
