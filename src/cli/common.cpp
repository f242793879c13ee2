#include "cli/common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/quant/layer_selection.hpp"
#include "nimble/runtime/precision_probe.hpp"

namespace nimble::cli {

namespace {
CLI::Validator number_at_least(double lo, bool strict, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "'" + text + "' is not a number";
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        if (!(strict ? v > lo : v >= lo)) return "must be " + what + ", got " + text;
        return "";
      },
      what);
}
}  // namespace

CLI::Validator positive_number() { return number_at_least(0, true, "positive"); }
CLI::Validator non_negative_number() { return number_at_least(0, false, "non-negative"); }

void add_precision_option(CLI::App* c, std::string& value) {
  c->add_option("--precision", value,
                "auto | fp32 | bf16 | fp16 (auto: bf16 where this CPU runs it natively and a timed step of "
                "this model is faster in it, else fp32)")
      ->capture_default_str();
}

void announce_precision(const PrecisionChoice& c) {
  note(std::string(c.emulated ? "warning: " : "") + "precision " + precision_name(c.precision) + " (" + c.reason + ")");
}

PrecisionChoice resolve_precision(const std::string& flag) {
  PrecisionChoice c = choose_precision(flag);
  announce_precision(c);
  return c;
}

PrecisionChoice resolve_precision(const std::string& flag, const Graph& g, int64_t batch, Mode mode) {
  PrecisionChoice c = choose_precision_for(flag, g, batch, mode);
  announce_precision(c);
  return c;
}

json precision_json(const PrecisionChoice& c) {
  return {{"precision", precision_name(c.precision)}, {"precision_emulated", c.emulated}, {"precision_reason", c.reason}};
}

void print_json(const json& j) { std::cout << j.dump() << std::endl; }

void note(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

LoadedModel load_model(const std::string& path) {
  io::Checkpoint ck = io::load_checkpoint(path);
  LoadedModel m{std::move(ck.graph), json::object(), ck.file_size, std::move(ck.state)};
  try {
    m.extra = json::parse(ck.extra_json);
  } catch (const json::exception&) {
    throw Error("checkpoint " + path + ": its metadata is not valid JSON");
  }
  return m;
}

data::Normalization normalization_of(const json& extra) {
  data::Normalization n;
  try {
    if (extra.contains("normalization")) {
      n.mean = extra["normalization"].at("mean").get<std::vector<float>>();
      n.std = extra["normalization"].at("std").get<std::vector<float>>();
    }
  } catch (const json::exception&) {
    throw Error("checkpoint metadata has a malformed 'normalization' entry");
  }
  for (float s : n.std) NIMBLE_CHECK(s > 0, "checkpoint metadata has a non-positive normalisation std");
  NIMBLE_CHECK(n.mean.size() == n.std.size(), "checkpoint metadata: normalisation mean and std differ in length");
  return n;
}

json normalization_json(const data::Normalization& n) { return {{"mean", n.mean}, {"std", n.std}}; }

data::IdxData load_data(const std::string& dir) { return data::load_idx_dir(dir); }

void print_layer_report(const quant::Selection& sel) {
  note("layer                          op        precision  b1 ms float/int8   big ms float/int8   drop alone  why float");
  for (const quant::LayerReport& r : sel.layers) {
    char line[512];
    std::snprintf(line, sizeof line, "%-30s %-9s %-10s %7.4f / %-7.4f   %7.3f / %-7.3f   %9s  %s", r.name.c_str(),
                  r.op.c_str(), r.int8 ? "int8" : "float", r.float_ms_b1, r.int8_ms_b1, r.float_ms_big, r.int8_ms_big,
                  r.accuracy_drop_alone >= 0 ? std::to_string(r.accuracy_drop_alone).substr(0, 6).c_str() : "-",
                  r.reason.c_str());
    note(line);
  }
}

std::vector<Speed> measure_speeds(const std::vector<const Graph*>& graphs, int64_t batch, int64_t iters) {
  std::vector<std::pair<const Graph*, Precision>> models;
  for (const Graph* g : graphs) models.emplace_back(g, Precision::fp32);
  std::vector<Speed> speeds;
  for (const ModelTimes& t : time_models(models, batch, 10, iters))
    speeds.push_back({percentile(t.batch1_ms, 0.5), batch / (percentile(t.big_ms, 0.5) / 1e3)});
  return speeds;
}

data::Split training_split(const json& extra, const data::ImageSet& train) {
  int64_t val = 5000, limit = 0;
  uint64_t seed = 0;
  if (extra.contains("hyper")) {
    const json& h = extra["hyper"];
    val = h.value("val", val), limit = h.value("limit", limit), seed = h.value("seed", seed);
  }
  const data::ImageSet set = limit > 0 ? data::take(train, limit) : train;
  NIMBLE_CHECK(val >= 0 && val < set.size(), "the checkpoint's validation split does not fit this data set");
  return data::split_validation(set, val, seed);
}

train::TrainConfig fine_tune_config(const json& extra, int64_t epochs, double lr, uint64_t seed, bool progress) {
  train::TrainConfig tc;
  const json h = extra.value("hyper", json::object());
  tc.epochs = epochs;
  tc.batch = h.value("batch", int64_t(128));
  tc.seed = seed;
  tc.progress = progress;
  tc.optimizer.weight_decay = float(h.value("weight_decay", 5e-4));
  tc.schedule.lr = float(lr);
  tc.augment.crop_padding = h.value("crop_padding", int64_t(0));
  tc.augment.hflip = h.value("hflip", false);
  tc.label_smoothing = float(h.value("label_smoothing", 0.0));
  return tc;
}

int64_t model_file_size(const LoadedModel& m, const std::string& scratch_prefix) {
  if (m.state.empty()) return m.file_size;
  const std::string tmp = scratch_prefix + ".size.tmp";
  json extra = m.extra;
  extra.erase("train_state");
  io::save_checkpoint(m.graph, tmp, extra.dump());
  const int64_t size = int64_t(std::filesystem::file_size(tmp));
  std::filesystem::remove(tmp);
  return size;
}

}  // namespace nimble::cli
