#include "workflows/workflow_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "nimble/core/error.hpp"
#include "nimble/quant/layer_selection.hpp"
#include "nimble/runtime/timing.hpp"

namespace nimble {

void check_output_is_not_an_input(const std::string& out_field, const std::string& out,
                                  const std::vector<std::pair<std::string, std::string>>& inputs, bool force) {
  if (force || out.empty()) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path o = fs::weakly_canonical(out, ec);
  for (const auto& [field, path] : inputs) {
    if (path.empty()) continue;
    std::error_code e1, e2;
    const bool same = fs::exists(out, e1) && fs::exists(path, e2) ? fs::equivalent(out, path, e1)
                                                                  : !ec && fs::weakly_canonical(path, e2) == o;
    if (same)
      throw OptionError(out_field, "'" + out + "' is also {" + field +
                                       "}: writing it would replace what this command reads (give {force} to "
                                       "replace it anyway)");
  }
}

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

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

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

void check_batch(int64_t batch, const std::string& field) { check_range(field, double(batch), 1, 65536); }

data::DataSet read_data(const std::string& path, const std::string& format, bool skip_bad, int64_t cache_mb,
                        const Shape& input, data::FitMode fit, ChannelOrder order) {
  check_range("cache_mb", double(cache_mb), 0, 1e9);
  data::DataOptions opt;
  opt.cache_bytes = cache_mb << 20;
  opt.format = format;
  opt.input = input;
  opt.fit = fit;
  opt.skip_bad = skip_bad;
  data::DataSet d = data::load_data(path, opt);
  if (order == ChannelOrder::bgr)
    for (data::ImageSet* s : {&d.train, &d.val, &d.test}) *s = data::swap_red_blue(*s);
  return d;
}

std::string data_summary(const std::string& path, const data::DataSet& d, data::FitMode fit) {
  std::string line = fmt::format("data: {} ({}): {} training, {}{} test images ({}), {} classes", path,
                                 data::data_format_name(d.format), d.train.size(),
                                 d.val.size() ? fmt::format("{} validation, ", d.val.size()) : "", d.test.size(),
                                 d.test_source, d.train.num_classes);
  if (d.resized > 0)
    line +=
        fmt::format("; {} images fitted to {} ({})", d.resized, d.train.sample_shape().str(), data::fit_mode_name(fit));
  if (d.skipped > 0)
    line += fmt::format("; skipped {} unreadable file(s), e.g. {}", d.skipped, d.skipped_examples.front());
  if (!d.cached) line += "; too large to keep decoded in memory (--cache-mb): decoded on the fly each epoch";
  return line;
}

data::DataSet read_data_for(const Model& m, const std::string& path, const std::string& format, bool skip_bad,
                            int64_t cache_mb, const Log& log) {
  data::DataSet d =
      read_data(path, format, skip_bad, cache_mb, m.input_shape(), m.preprocessing.fit, m.preprocessing.channel_order);
  const int64_t outputs = m.graph.output_shape().numel();
  NIMBLE_CHECK(d.train.num_classes <= outputs, fmt::format("data: {}: labels go up to {} but the model has {} outputs",
                                                           path, d.train.num_classes - 1, outputs));
  say(log, data_summary(path, d, m.preprocessing.fit));
  return d;
}

int64_t default_val_count(int64_t train_images) {
  return std::clamp<int64_t>(train_images / 10, train_images > 1 ? 1 : 0, 5000);
}

int64_t default_batch(int64_t train_images, int64_t batch) {
  while (batch > 8 && train_images < 4 * batch) batch /= 2;
  return std::max<int64_t>(1, std::min(batch, train_images));
}

data::Split training_split(const Model& m, const data::DataSet& d, const std::string& path) {
  int64_t limit = 0;
  uint64_t seed = 0;
  int64_t val = d.val.size() > 0 ? -1 : default_val_count(d.train.size());
  const auto& r = m.provenance.recipe;
  if (r && r->data == path) val = r->val, limit = r->limit, seed = r->seed;
  const data::ImageSet set = limit > 0 ? data::take(d.train, limit) : d.train;
  if (val < 0) {
    NIMBLE_CHECK(d.val.size() > 0, "the model was validated on its data's own val split, and this data has none");
    return data::Split{set, d.val};
  }
  NIMBLE_CHECK(val < set.size(), "the checkpoint's validation split does not fit this data set");
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
  tc.augment.crop_scale = float(r.crop_scale);
  tc.augment.jitter = float(r.jitter);
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
  r.gate_comparisons = sel.gate_comparisons, r.gate_rounds = sel.gate_rounds, r.gate_unstable = sel.gate_unstable;
}

void check_float(const Model& m, const std::string& path, const std::string& what) {
  NIMBLE_CHECK(!m.quantized(), path + " is int8 and cannot be " + what + ": use its float model");
}

}  // namespace workflow
}  // namespace nimble
