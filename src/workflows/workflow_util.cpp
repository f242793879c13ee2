#include "workflows/workflow_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "nimble/core/error.hpp"
#include "nimble/quant/layer_selection.hpp"
#include "nimble/runtime/timing.hpp"

namespace nimble {

void log_to_stderr(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string spell_fields(const std::string& text, const std::function<std::string(const std::string&)>& spell) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i), close = open == std::string::npos ? open : text.find('}', open);
    if (close == std::string::npos) break;
    out += text.substr(i, open - i) + spell(text.substr(open + 1, close - open - 1));
    i = close + 1;
  }
  return out + text.substr(std::min(i, text.size()));
}

namespace workflow {

void announce(const Log& log, const PrecisionChoice& c) {
  say(log,
      std::string(c.emulated ? "warning: " : "") + "precision " + precision_name(c.precision) + " (" + c.reason + ")");
}

void check_range(const std::string& field, double v, double lo, double hi) {
  if (!(std::isfinite(v) && v >= lo && v <= hi)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "must be between %g and %g, got %g", lo, hi, v);
    throw OptionError(field, buf);
  }
}

void check_batch(int64_t batch) { check_range("batch", double(batch), 1, 65536); }

void check_data_fits(const Model& m, const data::IdxData& d) {
  NIMBLE_CHECK(d.train.sample_shape() == m.input_shape(), "the data's samples are " + d.train.sample_shape().str() +
                                                              " but the model takes " + m.input_shape().str());
}

data::Split training_split(const Model& m, const data::ImageSet& train) {
  int64_t limit = 0;
  uint64_t seed = 0;
  // A model nimble did not train (an imported one) has no recipe: hold out a tenth, at most 5,000.
  int64_t val = std::clamp<int64_t>(train.size() / 10, train.size() > 1 ? 1 : 0, 5000);
  if (const auto& r = m.provenance.recipe) val = r->val, limit = r->limit, seed = r->seed;
  const data::ImageSet set = limit > 0 ? data::take(train, limit) : train;
  NIMBLE_CHECK(val >= 0 && val < set.size(), "the checkpoint's validation split does not fit this data set");
  return data::split_validation(set, val, seed);
}

train::TrainConfig fine_tune_config(const Model& m, int64_t epochs, double lr, uint64_t seed, bool progress) {
  const TrainRecipe r = m.provenance.recipe.value_or(TrainRecipe{});
  train::TrainConfig tc;
  tc.epochs = epochs;
  tc.batch = r.batch;
  tc.seed = seed;
  tc.progress = progress;
  tc.optimizer.weight_decay = float(r.weight_decay);
  tc.schedule.lr = float(lr);
  tc.augment.crop_padding = r.crop_padding;
  tc.augment.hflip = r.hflip;
  tc.label_smoothing = float(r.label_smoothing);
  return tc;
}

std::vector<Speed> measure_speeds(const std::vector<const Graph*>& graphs, int64_t batch, int64_t iters) {
  std::vector<std::pair<const Graph*, Precision>> models;
  models.reserve(graphs.size());
  for (const Graph* g : graphs) models.emplace_back(g, Precision::fp32);
  std::vector<Speed> speeds;
  for (const ModelTimes& t : time_models(models, batch, 10, iters))
    speeds.push_back({percentile(t.batch1_ms, 0.5), double(batch) / (percentile(t.big_ms, 0.5) / 1e3)});
  return speeds;
}

void fill_selection(QuantizeReport& r, const quant::Selection& sel) {
  r.layers_kept_float.assign(sel.keep_float.begin(), sel.keep_float.end());
  for (const quant::LayerReport& l : sel.layers)
    r.layers.push_back({l.name, l.op, l.int8, l.reason, l.float_ms_b1, l.int8_ms_b1, l.float_ms_big, l.int8_ms_big,
                        l.accuracy_drop_alone >= 0 ? std::optional<double>(l.accuracy_drop_alone) : std::nullopt});
  if (sel.float_accuracy >= 0) r.val_accuracy_fp32 = sel.float_accuracy;
  if (sel.int8_accuracy >= 0) r.val_accuracy_int8 = sel.int8_accuracy;
  r.tolerance_met = sel.tolerance_met;
  r.gate_float_ms_b1 = sel.float_ms_b1, r.gate_int8_ms_b1 = sel.int8_ms_b1;
  r.gate_float_ms_big = sel.float_ms_big, r.gate_int8_ms_big = sel.int8_ms_big;
}

void check_float(const Model& m, const std::string& path, const std::string& what) {
  NIMBLE_CHECK(!m.quantized(), path + " is int8 and cannot be " + what + ": use its float model");
}

}  // namespace workflow
}  // namespace nimble
