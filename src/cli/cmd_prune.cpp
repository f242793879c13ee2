// nimble prune: unstructured (magnitude, N:M) or structured (channel) pruning of a checkpoint,
// optionally with gradual fine-tuning; channel pruning ends in a physically smaller dense model.
// Reports parameters, MACs, sparsity, time per layer and in total, accuracy and file size, before
// and after.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/prune/gradual.hpp"
#include "nimble/runtime/precision_probe.hpp"

namespace nimble::cli {

namespace {

struct PruneArgs {
  std::string model, out, data = kDefaultData, method = "magnitude", scope = "global", criterion = "l1", nm = "2:4";
  std::string precision = "auto";
  double sparsity = 0.5, ratio = 0.5, target_macs = 0, target_latency_ms = 0, lr = 0.01, ramp = 0.5;
  int64_t finetune_epochs = 0, batch = 256, iters = 50;
  uint64_t seed = 0;
  bool json_out = false;
  TeacherArgs teacher;  // distillation during fine-tuning
};

std::pair<int, int> parse_nm(const std::string& text) {
  int n = 0, m = 0;
  char tail = 0;
  NIMBLE_CHECK(std::sscanf(text.c_str(), "%d:%d%c", &n, &m, &tail) == 2,
               "--nm expects N:M such as 2:4, got '" + text + "'");
  NIMBLE_CHECK(n >= 1 && m >= n && m <= 64, "--nm " + text + ": need 0 < N <= M <= 64");
  return {n, m};
}

// The smallest channel ratio in [0, 0.95] whose pruned model satisfies `fits` (which must
// become easier as the ratio grows), by bisection; throws Error when even 0.95 does not fit.
double smallest_fitting_ratio(const std::function<bool(double)>& fits, const std::string& what) {
  double lo = 0.0, hi = 0.95;
  if (fits(lo)) return lo;
  NIMBLE_CHECK(fits(hi), what + " is out of reach: even pruning 95% of the channels does not meet it");
  for (int i = 0; i < 12; ++i) {
    const double mid = 0.5 * (lo + hi);
    (fits(mid) ? hi : lo) = mid;
  }
  return hi;
}

struct LayerRow {
  std::string name, op;
  int64_t params_before = 0, params_after = 0, macs_before = 0, macs_after = 0;
  double sparsity = 0, ms_before = -1, ms_after = -1;
};

int64_t node_params(const Node& n) {
  int64_t count = 0;
  for (auto& [key, p] : n.params)
    if (p->trainable) count += p->data.numel();
  return count;
}

// Per conv / linear layer of `before`, matched by name in `after`.
std::vector<LayerRow> layer_rows(const Graph& before, const Graph& after, int iters) {
  const std::vector<int64_t> mb = before.node_macs(), ma = after.node_macs();
  // Layer times as the inference Session runs them (batch-norm folded into its convolution).
  const auto tb = node_times(passes::optimize_for_inference(before), 1, iters);
  const auto ta = node_times(passes::optimize_for_inference(after), 1, iters);
  std::map<std::string, size_t> after_index;
  for (size_t j = 0; j < after.nodes().size(); ++j) after_index[after.nodes()[j].name] = j;
  std::vector<LayerRow> rows;
  for (size_t i = 0; i < before.nodes().size(); ++i) {
    const Node& n = before.nodes()[i];
    if (n.op != OpKind::conv2d && n.op != OpKind::linear) continue;
    LayerRow r;
    r.name = n.name;
    r.op = op_name(n.op);
    r.params_before = node_params(n);
    r.macs_before = mb[i];
    if (tb.count(n.name)) r.ms_before = tb.at(n.name);
    if (auto it = after_index.find(n.name); it != after_index.end()) {
      const Node& m = after.nodes()[it->second];
      r.params_after = node_params(m);
      r.macs_after = ma[it->second];
      r.sparsity = prune::weight_sparsity(m).fraction();
      if (ta.count(n.name)) r.ms_after = ta.at(n.name);
    }
    rows.push_back(r);
  }
  return rows;
}

void print_layers(const std::vector<LayerRow>& rows) {
  std::fprintf(stderr, "%-28s %-7s %11s %11s %12s %12s %8s %9s %9s\n", "layer", "op", "params", "params'", "MACs",
               "MACs'", "sparsity", "b1 ms", "b1 ms'");
  for (const LayerRow& r : rows)
    std::fprintf(stderr, "%-28s %-7s %11lld %11lld %12lld %12lld %7.1f%% %9.4f %9.4f\n", r.name.c_str(), r.op.c_str(),
                 (long long)r.params_before, (long long)r.params_after, (long long)r.macs_before,
                 (long long)r.macs_after, 100 * r.sparsity, r.ms_before, r.ms_after);
}

// Largest |a - b| over the outputs of two graphs on the same inputs (eval mode, fp32).
double max_output_difference(const Graph& a, const Graph& b, const Tensor& x) {
  Session sa(a, {x.shape()[0], Mode::eval, true, Precision::fp32});
  Session sb(b, {x.shape()[0], Mode::eval, true, Precision::fp32});
  const Tensor ya = sa.forward(x).clone(), yb = sb.forward(x);
  double worst = 0;
  for (int64_t i = 0; i < ya.numel(); ++i)
    worst = std::max(worst, double(std::fabs(ya.data<float>()[i] - yb.data<float>()[i])));
  return worst;
}

void run_prune(const PruneArgs& a, const CLI::App& c) {
  NIMBLE_CHECK(!a.out.empty(), "--out is required (the pruned model is written there)");
  const prune::Method method = prune::method_from_name(a.method);
  auto only_for = [&](const char* flag, prune::Method m) {
    NIMBLE_CHECK(c.count(flag) == 0 || method == m,
                 std::string(flag) + " applies to --method " + prune::method_name(m) + ", not " + a.method);
  };
  only_for("--sparsity", prune::Method::magnitude);
  only_for("--scope", prune::Method::magnitude);
  only_for("--ratio", prune::Method::channel);
  only_for("--criterion", prune::Method::channel);
  only_for("--target-macs", prune::Method::channel);
  only_for("--target-latency-ms", prune::Method::channel);
  only_for("--nm", prune::Method::nm);
  const int targets = int(c.count("--ratio") > 0) + int(c.count("--target-macs") > 0) + int(c.count("--target-latency-ms") > 0);
  NIMBLE_CHECK(targets <= 1, "give one of --ratio, --target-macs, --target-latency-ms");
  NIMBLE_CHECK(a.finetune_epochs >= 0 && a.finetune_epochs <= 1000, "--finetune-epochs must be between 0 and 1000");
  NIMBLE_CHECK(a.lr > 0 && std::isfinite(a.lr), "--lr must be positive");
  NIMBLE_CHECK(a.ramp >= 0 && a.ramp <= 1, "--ramp must be in [0, 1]");
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  NIMBLE_CHECK(a.iters >= 1 && a.iters <= 100000, "--iters must be between 1 and 100000");
  // Distillation flags act during fine-tuning, and need a teacher (`--teacher none` alone is fine).
  const bool no_teacher = a.teacher.teacher == "none";
  for (const std::string flag : {"--teacher", "--temperature", "--alpha", "--hint", "--hint-weight", "--hint-lr",
                                 "--cache-teacher", "--teacher-precision"}) {
    if (c.count(flag) == 0 || (flag == "--teacher" && no_teacher)) continue;
    NIMBLE_CHECK(a.finetune_epochs > 0, flag + " acts during fine-tuning: give --finetune-epochs");
    NIMBLE_CHECK(!no_teacher, flag + " has no teacher to use with --teacher none");
  }

  prune::PruneConfig cfg;
  cfg.method = method;
  if (method == prune::Method::magnitude) {
    NIMBLE_CHECK(a.sparsity >= 0 && a.sparsity < 1, "--sparsity must be in [0, 1)");
    cfg.amount = a.sparsity;
    cfg.scope = prune::scope_from_name(a.scope);
  } else if (method == prune::Method::channel) {
    NIMBLE_CHECK(a.ratio >= 0 && a.ratio < 1, "--ratio must be in [0, 1)");
    NIMBLE_CHECK(c.count("--target-macs") == 0 || a.target_macs >= 1, "--target-macs must be at least 1");
    NIMBLE_CHECK(c.count("--target-latency-ms") == 0 || a.target_latency_ms > 0, "--target-latency-ms must be positive");
    cfg.amount = a.ratio;
    cfg.criterion = prune::criterion_from_name(a.criterion);
  } else {
    std::tie(cfg.n, cfg.m) = parse_nm(a.nm);
    cfg.amount = 1.0 - double(cfg.n) / cfg.m;
  }
  if (a.finetune_epochs > 0) choose_precision(a.precision);  // validate the name before any work

  LoadedModel m = load_model(a.model);
  NIMBLE_CHECK(!m.graph.meta.count("quantized"), a.model + " is int8: prune the float model, then quantize it");
  prune::ChannelGraph(m.graph);  // rejects graphs pruning cannot handle before any work
  NIMBLE_CHECK(!prune::prunable_weights(m.graph).empty(), a.model + " has no conv2d or linear layer to prune");
  const data::Normalization norm = normalization_of(m.extra);
  data::IdxData d = load_data(a.data);
  NIMBLE_CHECK(d.train.sample_shape() == m.graph.input_shape(), "the data's samples are " + d.train.sample_shape().str() +
                                                                    " but the model takes " + m.graph.input_shape().str());
  const data::Split split = training_split(m.extra, d.train);

  if (method == prune::Method::channel && c.count("--target-macs")) {
    cfg.amount = smallest_fitting_ratio(
        [&](double r) { return double(prune::prune_channels(m.graph, r, cfg.criterion).macs()) <= a.target_macs; },
        "--target-macs " + std::to_string(int64_t(a.target_macs)));
    note("--target-macs: pruning " + std::to_string(cfg.amount) + " of the channels of every prunable space");
  } else if (method == prune::Method::channel && c.count("--target-latency-ms")) {
    cfg.amount = smallest_fitting_ratio(
        [&](double r) {
          Graph p = prune::prune_channels(m.graph, r, cfg.criterion);
          Session s(p, {1, Mode::eval, true, Precision::fp32});
          return percentile(time_forward(s, random_batch(p.input_shape(), 1, 42), 5, 30), 0.5) <= a.target_latency_ms;
        },
        "--target-latency-ms " + std::to_string(a.target_latency_ms));
    note("--target-latency-ms: pruning " + std::to_string(cfg.amount) + " of the channels of every prunable space");
  }

  note("nimble prune: " + a.model + ", " + cfg.describe() +
       (a.finetune_epochs > 0 ? ", " + std::to_string(a.finetune_epochs) + " epochs of gradual fine-tuning" : ", one shot"));
  const train::EvalResult before_acc = train::evaluate(m.graph, d.test, norm, 500, Precision::fp32);
  const int64_t before_size = model_file_size(m, a.out);

  Graph masked = m.graph.clone();
  std::optional<PrecisionChoice> ft_precision;
  train::TrainResult ft;
  std::shared_ptr<distill::Distillation> distillation;
  json distill_report;
  // By default the unpruned model teaches its pruned self while it fine-tunes: that cut resnet's
  // channel-pruning drop from 1.06 to 0.35 points (README, pruning) for 6-9 % of the time.
  TeacherArgs teacher = a.teacher;
  if (teacher.teacher.empty()) teacher.teacher = a.model;
  if (no_teacher || a.finetune_epochs == 0) teacher.teacher.clear();
  if (a.finetune_epochs > 0) {
    train::TrainConfig tc = fine_tune_config(m.extra, a.finetune_epochs, a.lr, a.seed, !a.json_out);
    ft_precision = choose_precision_for(a.precision, masked, tc.batch, Mode::train);
    announce_precision(*ft_precision);
    tc.precision = ft_precision->precision;
    train::Trainer trainer(masked, tc);
    trainer.add_hook(std::make_shared<prune::GradualPruning>(cfg, a.ramp));
    distillation = make_distillation(teacher, masked, norm, split, d.test, tc.batch, tc.augment.any(), distill_report);
    if (distillation) trainer.add_hook(distillation);
    ft = trainer.fit(split.train, split.val, norm);
    if (distillation) finish_distillation_report(*distillation, distill_report);
  } else {
    prune::apply_masks(masked, prune::compute_masks(masked, cfg, cfg.amount));
  }
  Graph pruned = method == prune::Method::channel ? prune::remove_channels(masked) : masked.clone();
  // The removal pass must not change what the model computes: checked on real test images.
  double removal_diff = 0;
  if (method == prune::Method::channel) {
    data::BatchLoader loader(d.test, norm, 64, false, false, {}, 0);
    loader.start_epoch(0);
    data::Batch b;
    loader.next(b);
    removal_diff = max_output_difference(masked, pruned, b.images);
    NIMBLE_CHECK(removal_diff < 1e-3, "internal error: removing the pruned channels changed the outputs by " +
                                          std::to_string(removal_diff));
  }
  const train::EvalResult after_acc = train::evaluate(pruned, d.test, norm, 500, Precision::fp32);
  const std::vector<Speed> speeds = measure_speeds({&m.graph, &pruned}, a.batch, a.iters);
  const Speed &before_speed = speeds[0], &after_speed = speeds[1];

  json extra = m.extra;
  extra.erase("train_state");
  const prune::Sparsity sp_before = prune::weight_sparsity(m.graph), sp_after = prune::weight_sparsity(pruned);
  extra["pruning"] = {{"method", prune::method_name(method)},
                      {"config", cfg.describe()},
                      {"amount", cfg.amount},
                      {"finetune_epochs", a.finetune_epochs},
                      {"teacher", teacher.teacher.empty() ? json() : json(teacher.teacher)},
                      {"source", a.model},
                      {"test_accuracy_before", before_acc.accuracy},
                      {"weight_sparsity", sp_after.fraction()}};
  extra["metrics"]["test_accuracy"] = after_acc.accuracy;
  io::save_checkpoint(pruned, a.out, extra.dump());
  const int64_t after_size = io::load_checkpoint(a.out).file_size;  // read back: the file loads

  const std::vector<LayerRow> rows = layer_rows(m.graph, pruned, 20);
  if (!a.json_out) print_layers(rows);
  char line[512];
  std::snprintf(line, sizeof line,
                "params %lld -> %lld, MACs %lld -> %lld (%.2fx), weight sparsity %.1f%% -> %.1f%%, file %lld -> %lld bytes "
                "(%.2fx smaller)",
                (long long)m.graph.param_count(), (long long)pruned.param_count(), (long long)m.graph.macs(),
                (long long)pruned.macs(), double(m.graph.macs()) / double(std::max<int64_t>(pruned.macs(), 1)),
                100 * sp_before.fraction(), 100 * sp_after.fraction(), (long long)before_size, (long long)after_size,
                double(before_size) / double(after_size));
  note(line);
  std::snprintf(line, sizeof line,
                "test accuracy %.4f -> %.4f; batch-1 latency %.4f -> %.4f ms (%.2fx); batch-%lld %.0f -> %.0f samples/s; "
                "saved %s",
                before_acc.accuracy, after_acc.accuracy, before_speed.latency_ms, after_speed.latency_ms,
                before_speed.latency_ms / after_speed.latency_ms, (long long)a.batch, before_speed.throughput,
                after_speed.throughput, a.out.c_str());
  note(line);
  if (method != prune::Method::channel)
    note("note: unstructured and N:M sparsity shrink the file but not the time: oneDNN runs the zeros densely");
  if (a.json_out) {
    json layers = json::array();
    for (const LayerRow& r : rows)
      layers.push_back({{"name", r.name}, {"op", r.op}, {"params_before", r.params_before},
                        {"params_after", r.params_after}, {"macs_before", r.macs_before}, {"macs_after", r.macs_after},
                        {"sparsity", r.sparsity}, {"latency_ms_before", r.ms_before >= 0 ? json(r.ms_before) : json()},
                        {"latency_ms_after", r.ms_after >= 0 ? json(r.ms_after) : json()}});
    json j = {{"model", a.model},
              {"checkpoint", a.out},
              {"method", prune::method_name(method)},
              {"config", cfg.describe()},
              {"amount", cfg.amount},
              {"finetune_epochs", a.finetune_epochs},
              {"test_accuracy_before", before_acc.accuracy},
              {"test_accuracy_after", after_acc.accuracy},
              {"params_before", m.graph.param_count()},
              {"params_after", pruned.param_count()},
              {"macs_before", m.graph.macs()},
              {"macs_after", pruned.macs()},
              {"weight_sparsity_before", sp_before.fraction()},
              {"weight_sparsity_after", sp_after.fraction()},
              {"latency_ms_before", before_speed.latency_ms},
              {"latency_ms_after", after_speed.latency_ms},
              {"batch", a.batch},
              {"throughput_before", before_speed.throughput},
              {"throughput_after", after_speed.throughput},
              {"size_bytes_before", before_size},
              {"size_bytes_after", after_size},
              {"layers", layers}};
    if (method == prune::Method::channel) j["removal_max_abs_diff"] = removal_diff;
    if (distillation) j["distillation"] = distill_report;
    if (ft_precision) {
      j["finetune"] = precision_json(*ft_precision);
      j["finetune"]["best_epoch"] = ft.best_epoch;
      j["finetune"]["val_accuracy"] = ft.best_val_accuracy;
    }
    print_json(j);
  }
}

}  // namespace

void add_prune(CLI::App& app) {
  auto a = std::make_shared<PruneArgs>();
  CLI::App* c = app.add_subcommand("prune", "Prune a checkpoint: magnitude / N:M sparsity or whole channels, with fine-tuning");
  c->add_option("model", a->model, "fp32 checkpoint (.nimble)")->required();
  c->add_option("--out", a->out, "where to write the pruned checkpoint")->required();
  c->add_option("--method", a->method, "magnitude | channel | nm")->capture_default_str();
  c->add_option("--sparsity", a->sparsity, "magnitude: fraction of conv / linear weights set to zero")->capture_default_str();
  c->add_option("--scope", a->scope,
                "magnitude: global (one threshold over all layers) | layer (one rate for every layer; layers whose "
                "filters have <= 9 weights stay dense)")
      ->capture_default_str();
  c->add_option("--ratio", a->ratio, "channel: fraction of the channels of every prunable space to remove")
      ->capture_default_str();
  c->add_option("--criterion", a->criterion, "channel: l1 | l2 (filter norms) | bn (batch-norm scale)")->capture_default_str();
  c->add_option("--target-macs", a->target_macs, "channel: remove the fewest channels that bring MACs/sample to this");
  c->add_option("--target-latency-ms", a->target_latency_ms,
                "channel: remove the fewest channels that bring the measured batch-1 latency to this");
  c->add_option("--nm", a->nm, "nm: keep N of every M consecutive input-channel weights")->capture_default_str();
  c->add_option("--finetune-epochs", a->finetune_epochs,
                "fine-tune this many epochs while sparsity rises on the cubic schedule (0: prune in one shot)")
      ->capture_default_str();
  c->add_option("--lr", a->lr, "fine-tuning peak learning rate (cosine)")->capture_default_str();
  c->add_option("--ramp", a->ramp, "fraction of the fine-tuning steps over which sparsity rises to the target")
      ->capture_default_str();
  add_precision_option(c, a->precision);
  c->add_option("--data", a->data, "IDX data directory (fine-tuning on its training split, accuracy on its test split)")
      ->capture_default_str();
  c->add_option("--batch", a->batch, "batch size of the throughput measurement")->capture_default_str();
  c->add_option("--iters", a->iters, "timed batch-1 calls per model")->capture_default_str();
  c->add_option("--seed", a->seed, "fine-tuning seed")->capture_default_str();
  add_teacher_options(c, a->teacher, false);
  c->get_option("--teacher")
      ->description("distil from this model while fine-tuning (default: the unpruned model itself; none: no distillation)");
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->callback([a, c] { run_prune(*a, *c); });
}

}  // namespace nimble::cli
