#include "nimble/workflows/optimize.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include <omp.h>

#include "io/atomic_file.hpp"
#include "io/content_hash.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/io/onnx.hpp"
#include "nimble/model.hpp"
#include "nimble/nas/pareto.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"
#include "nimble/workflows/benchmark.hpp"
#include "runtime/machine.hpp"
#include "workflows/optimize_html.hpp"
#include "workflows/optimize_stages.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

namespace fs = std::filesystem;
using workflow::json;

const std::vector<std::string>& optimize_stage_names() {
  static const std::vector<std::string> names = {"teacher", "baseline", "student", "distill",
                                                 "prune",   "quantize", "final"};
  return names;
}

void OptimizeOptions::validate() const {
  if (out.empty()) throw OptionError("out", "a work directory is required");
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) throw OptionError("out", out + " is a file, not a directory");
  if (!model.empty() && !fs::is_regular_file(model, ec)) throw Error("no such model file: " + model);
  for (const char* result : {"model.nimble", "model.onnx"})
    check_output_is_not_an_input("out", (fs::path(out) / result).string(), {{"model", model}}, force);
  workflow::check_range("max_drop", max_drop, 0, 100);
  if (max_latency_ms && !(*max_latency_ms > 0)) throw OptionError("max_latency_ms", "must be positive");
  if (max_size_mb && !(*max_size_mb > 0)) throw OptionError("max_size_mb", "must be positive");
  if (batch < 1 || batch > 4096) throw OptionError("batch", "the deployment batch must be in [1, 4096]");
  if (iters < 5 || iters > 100000) throw OptionError("iters", "latency measurements need 5 to 100000 timed runs");
  workflow::Preset::named(preset);
  if (prune_latency && !(*prune_latency >= 0 && *prune_latency < 1))
    throw OptionError("prune_latency",
                      "must be in [0, 1): a fraction of the model's latency, or 0 for no pruning "
                      "without a latency goal");
  if (student != "auto" && student != "self") workflow::ZooSpec::parse(student);
  const auto& names = optimize_stage_names();
  if (!from_stage.empty() && std::find(names.begin(), names.end(), from_stage) == names.end())
    throw OptionError("from_stage", "unknown stage '" + from_stage +
                                        "' (teacher, baseline, student, distill, prune, quantize, final)");
}

namespace {

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Marks the candidates on the (accuracy up, latency down) front.
void mark_pareto(std::vector<OptimizeCandidate>& all) {
  std::vector<std::vector<double>> points;
  points.reserve(all.size());
  for (const OptimizeCandidate& c : all) points.push_back({-c.test_accuracy, c.latency_ms_p50});
  const std::vector<int> ranks = nas::non_dominated_ranks(points);
  for (size_t i = 0; i < all.size(); ++i) all[i].pareto = ranks[i] == 0;
}

// Validation accuracy within --max-drop of the teacher's: what every decision of the run asks.
bool accurate_enough(const workflow::OptimizeRun& run, const OptimizeCandidate& c) {
  return c.val_accuracy.value_or(c.test_accuracy) >= run.floor_val_accuracy - 1e-12;
}

const OptimizeCandidate& teacher_of(const OptimizeReport& r) {
  for (const OptimizeCandidate& c : r.candidates)
    if (c.kind == "teacher") return c;
  throw Error("optimize: the teacher was not measured");
}

// Latencies closer than this are within measurement noise: neither model is the faster.
constexpr double kSameSpeed = 0.05;
// Timed calls per model at least behind the headline ratio against the teacher.
constexpr int64_t kHeadlineIters = 2000;

// Within every goal (validation accuracy against the floor, latency, size), the fastest; among
// those within kSameSpeed of it, the most accurate, then the smallest file. Null when none is.
const OptimizeCandidate* choose(const workflow::OptimizeRun& run) {
  const OptimizeOptions& o = run.o;
  std::vector<const OptimizeCandidate*> ok;
  for (const OptimizeCandidate& c : run.report.candidates) {
    if (!accurate_enough(run, c)) continue;
    if (o.max_latency_ms && c.latency_ms_p50 > *o.max_latency_ms) continue;
    if (o.max_size_mb && double(c.size_bytes) > *o.max_size_mb * 1e6) continue;
    ok.push_back(&c);
  }
  if (ok.empty()) return nullptr;
  double fastest = ok.front()->latency_ms_p50;
  for (const OptimizeCandidate* c : ok) fastest = std::min(fastest, c->latency_ms_p50);
  const OptimizeCandidate* best = nullptr;
  for (const OptimizeCandidate* c : ok) {
    if (c->latency_ms_p50 > fastest * (1 + kSameSpeed)) continue;
    const double acc = c->val_accuracy.value_or(c->test_accuracy);
    const double best_acc = best ? best->val_accuracy.value_or(best->test_accuracy) : -1;
    if (!best || acc > best_acc || (acc == best_acc && c->size_bytes < best->size_bytes)) best = c;
  }
  return best;
}

// The goals checked on the test split, as the user states them; one sentence per goal missed.
std::vector<std::string> unmet_goals(const OptimizeOptions& o, const OptimizeReport& r, const OptimizeCandidate& c) {
  std::vector<std::string> unmet;
  const OptimizeCandidate& t = teacher_of(r);
  const double drop = 100 * (t.test_accuracy - c.test_accuracy);
  if (drop > o.max_drop + 1e-9)
    unmet.push_back("accuracy: the recommended model loses " + workflow::fixed(drop, 2) +
                    " points of test accuracy against the teacher, more than --max-drop " +
                    workflow::fixed(o.max_drop, 2) + " (it was chosen on the validation split)");
  if (o.max_latency_ms && c.latency_ms_p50 > *o.max_latency_ms)
    unmet.push_back("latency: " + workflow::fixed(c.latency_ms_p50, 4) + " ms is above --max-latency-ms " +
                    workflow::fixed(*o.max_latency_ms, 4));
  if (o.max_size_mb && double(c.size_bytes) > *o.max_size_mb * 1e6)
    unmet.push_back("size: " + workflow::fixed(double(c.size_bytes) / 1e6, 3) + " MB is above --max-size-mb " +
                    workflow::fixed(*o.max_size_mb, 3));
  return unmet;
}

// Why no candidate met the goals: the closest one to each goal.
std::vector<std::string> nothing_met(const workflow::OptimizeRun& run) {
  const OptimizeOptions& o = run.o;
  std::vector<std::string> why;
  double fastest = 1e300, smallest = 1e300;
  for (const OptimizeCandidate& c : run.report.candidates) {
    if (!accurate_enough(run, c)) continue;
    fastest = std::min(fastest, c.latency_ms_p50);
    smallest = std::min(smallest, double(c.size_bytes));
  }
  if (fastest == 1e300) {
    why.emplace_back("accuracy: no model kept validation accuracy within --max-drop of the teacher's");
    return why;
  }
  if (o.max_latency_ms && fastest > *o.max_latency_ms)
    why.push_back("latency: the fastest model within the accuracy budget runs in " + workflow::fixed(fastest, 4) +
                  " ms, above --max-latency-ms " + workflow::fixed(*o.max_latency_ms, 4));
  if (o.max_size_mb && smallest > *o.max_size_mb * 1e6)
    why.push_back("size: the smallest model within the accuracy budget is " + workflow::fixed(smallest / 1e6, 3) +
                  " MB, above --max-size-mb " + workflow::fixed(*o.max_size_mb, 3));
  if (why.empty()) why.emplace_back("no single model meets the latency and size goals together");
  return why;
}

// Per layer that has weights: its time at batch 1 in the model's session, its output channels
// against the same layer of `before` (the model before pruning), its precision, and what it costs in
// accuracy alone in int8 (`sensitivity`, by name, when measured). Timed on `threads` threads, those
// of the headline latency: at 2 threads a small int8 model's layers each paid a parallel region,
// and the table summed to 2.5 times the model's one-thread latency.
std::vector<OptimizeLayer> final_layer_table(const Model& m, const Model& before, const std::string& float_precision,
                                             const std::map<std::string, double>& sensitivity, int iters, int threads) {
  std::map<std::string, int64_t> channels_before;
  for (const Node& n : before.graph.nodes())
    if (const ParamPtr w = n.param_ptr("weights")) channels_before[n.name] = w->data.shape()[0];
  // As the model runs: batch-norm folded, activations, residual adds and an int8 classifier's
  // pooling fused into the layers.
  SessionOptions so{1, Mode::eval, true};
  so.threads = threads;
  Session s(m.graph, so);
  const std::vector<double> ms = s.profile(random_batch(m.input_shape(), 1, 3), iters);
  std::map<std::string, double> time_of;
  std::set<std::string> with_residual, with_pooling;
  for (size_t i = 0; i < s.graph().nodes().size() && i < ms.size(); ++i) {
    const Node& n = s.graph().nodes()[i];
    time_of[n.name] = ms[i];
    if (n.inputs.size() == 2) with_residual.insert(n.name);
    if (n.attr_int("global_pool", 0) != 0) with_pooling.insert(n.name);
  }
  const std::vector<int64_t> macs = m.graph.node_macs();
  std::vector<OptimizeLayer> rows;
  for (size_t i = 0; i < m.graph.nodes().size(); ++i) {
    const Node& n = m.graph.nodes()[i];
    const ParamPtr w = n.param_ptr("weights");
    if (!w) continue;
    OptimizeLayer l;
    l.name = n.name;
    l.op = op_name(n.op);
    l.precision = w->data.dtype() == DType::s8 ? "int8" : float_precision;
    if (auto it = time_of.find(n.name); it != time_of.end()) l.ms = it->second;
    if (with_residual.count(n.name)) l.note = "the residual add runs inside it";
    if (with_pooling.count(n.name)) l.note = "the global average pooling runs inside it";
    l.channels_after = w->data.shape()[0];
    if (auto it = channels_before.find(n.name); it != channels_before.end()) l.channels_before = it->second;
    for (const auto& [key, p] : n.params)
      if (p->trainable) l.params += p->data.numel();
    l.macs = macs[i];
    if (auto it = sensitivity.find(n.name); it != sensitivity.end()) l.sensitivity_points = it->second;
    rows.push_back(l);
  }
  return rows;
}

// The model the recommended one was pruned from, for the channel counts: the prune stage's input
// when the recommendation descends from the kept pruned model, else the recommended model itself.
Model unpruned_model(const workflow::OptimizeRun& run, const OptimizeCandidate& rec, const Model& recommended) {
  const bool pruned = !run.unpruned_path.empty() && (rec.stage == "prune" || rec.stage == "quantize");
  return pruned ? Model::load(run.unpruned_path) : recommended;
}

}  // namespace

namespace workflow {

void final_stage(OptimizeRun& run, int /*index*/) {
  OptimizeReport& r = run.report;
  const OptimizeOptions& o = run.o;
  mark_pareto(r.candidates);
  OptimizeStage s;
  s.name = "final";
  s.status = "done";
  const auto t0 = std::chrono::steady_clock::now();
  const OptimizeCandidate* best = choose(run);
  if (!best) {
    r.unmet = nothing_met(run);
    s.status = "failed";
    s.reason = "no model meets the goals: " + r.unmet.front();
  } else {
    OptimizeCandidate& rec = r.candidates[size_t(best - r.candidates.data())];
    rec.recommended = true;
    r.recommended = rec.id;
    r.unmet = unmet_goals(o, r, rec);
    const Model m = Model::load((fs::path(o.out) / rec.path).string());
    r.model_path = (fs::path(o.out) / "model.nimble").string();
    r.onnx_path = (fs::path(o.out) / "model.onnx").string();
    m.save(r.model_path);
    // model.onnx takes what the given (or trained) teacher takes, so it can replace it as it is.
    const Preprocessing teacher_input = Model::load(run.teacher_path).preprocessing;
    io::export_onnx(m, r.onnx_path, &teacher_input);
    // The headline ratio, timed in alternation with the fp32 teacher, on more calls than the stages'
    // measurements: one ratio of a 0.03 ms and a 0.3 ms model moved by a third between runs of 100.
    BenchmarkOptions b;
    b.model = r.model_path;
    b.compare = run.teacher_path;
    b.compare_precision = Precision::fp32;
    b.iters = std::max<int64_t>(o.iters, kHeadlineIters);
    b.log = nullptr;
    const BenchmarkReport br = benchmark_model(b);
    r.speedup_vs_teacher = br.speedup_batch1;
    r.teacher_latency_ms_side_by_side = br.baseline ? br.baseline->latency_ms_p50 : 0;
    r.latency_ms_side_by_side = br.latency_ms_p50;
    r.final_layers = final_layer_table(m, unpruned_model(run, rec, m), rec.precision == "int8" ? "fp32" : rec.precision,
                                       rec.stage == "quantize" ? run.int8_sensitivity : std::map<std::string, double>{},
                                       int(std::max<int64_t>(20, o.iters / 2)), br.latency_threads);
    s.result = rec.id;
    s.reason = "recommended " + rec.label + ": the fastest model within the goals, " +
               workflow::fixed(br.speedup_batch1, 2) + "x faster than the fp32 teacher at batch 1 (timed side by side)";
  }
  r.goals_met = best && r.unmet.empty();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.stages.push_back(s);
  say(o.log, "optimize: final " + s.status + ": " + s.reason);
}

}  // namespace workflow

OptimizeReport optimize(const OptimizeOptions& o) {
  o.validate();
  // Its stages hand each other files that only rank 0 writes; not yet made to wait for them.
  NIMBLE_CHECK(!dist::world().distributed(),
               "nimble optimize does not run under mpirun yet; run its slow parts there instead (train, distill, "
               "search: docs/distributed.md)");
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw OptionError("out", "cannot create " + o.out + ": " + ec.message());
  OptimizeReport r;
  r.out = o.out;
  r.command = o.command;
  r.created = utc_now();
  const CpuDescription cpu = describe_cpu();
  r.cpu = cpu.name + " (family " + cpu.family + ", model " + cpu.model + ")";
  r.isa = cpu.isa;
  r.cores = cpu.cores;
  r.threads = omp_get_max_threads();
  r.data = o.data;
  r.max_drop = o.max_drop;
  r.max_latency_ms = o.max_latency_ms;
  r.max_size_mb = o.max_size_mb;
  r.batch = o.batch;
  r.iters = o.iters;

  workflow::OptimizeRun run(o, r);
  const auto& names = optimize_stage_names();
  if (!o.from_stage.empty())
    run.force_from = int(std::find(names.begin(), names.end(), o.from_stage) - names.begin()) + 1;
  run.data_hash = io::hash_data_source(o.data);
  {
    // Before anything trains: data a classifier cannot learn from.
    const data::DataSet d =
        workflow::read_data(o.data, o.data_format, o.skip_bad, o.cache_mb, Shape{}, data::FitMode::crop);
    if (d.train.num_classes < 2)
      throw Error(o.data + " has " + std::to_string(d.train.num_classes) + " class: there is nothing to classify");
  }

  workflow::teacher_stage(run, 1);
  const Model teacher = Model::load(run.teacher_path);
  run.data = workflow::read_data_for(teacher, o.data, o.data_format, o.skip_bad, o.cache_mb, o.log);
  run.split = workflow::training_split(teacher, run.data, o.data);
  r.data_format = data::data_format_name(run.data.format);
  r.input = teacher.input_shape().str();
  r.classes = teacher.num_classes();
  r.train_images = run.split.train.size();
  r.val_images = run.split.val.size();
  r.test_images = run.data.test.size();

  workflow::baseline_stage(run, 2);
  std::optional<workflow::ZooSpec> student;
  workflow::student_stage(run, 3, student);
  workflow::distill_stage(run, 4, student);
  workflow::prune_stage(run, 5);
  workflow::quantize_stage(run, 6);
  workflow::final_stage(run, 7);

  std::vector<double> spreads;
  for (const OptimizeCandidate& c : r.candidates)
    if (c.latency_ms_p50 > 0) spreads.push_back((c.latency_ms_p90 - c.latency_ms_p50) / c.latency_ms_p50);
  std::sort(spreads.begin(), spreads.end());
  r.median_noise = spreads.empty() ? 0 : spreads[spreads.size() / 2];
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.report_json_path = (fs::path(o.out) / "report.json").string();
  r.report_html_path = (fs::path(o.out) / "report.html").string();
  const std::string text = to_json(r);
  io::write_file_atomically(r.report_json_path, text);
  io::write_file_atomically(r.report_html_path, optimize_report_html(text));
  return r;
}

std::string to_json(const OptimizeReport& r) {
  using workflow::optional_json;
  json candidates = json::array(), stages = json::array(), layers = json::array();
  for (const OptimizeCandidate& c : r.candidates) candidates.push_back(workflow::candidate_json(c));
  for (const OptimizeStage& s : r.stages)
    stages.push_back({{"name", s.name},
                      {"status", s.status},
                      {"reused", s.reused},
                      {"reason", s.reason},
                      {"seconds", s.seconds},
                      {"result", s.result.empty() ? json() : json(s.result)},
                      {"accuracy_change_points", optional_json(s.accuracy_change_points)},
                      {"latency_change_ms", optional_json(s.latency_change_ms)}});
  for (const OptimizeLayer& l : r.final_layers)
    layers.push_back({{"name", l.name},
                      {"op", l.op},
                      {"precision", l.precision},
                      {"ms", optional_json(l.ms)},
                      {"sensitivity_points", optional_json(l.sensitivity_points)},
                      {"channels_before", optional_json(l.channels_before)},
                      {"channels_after", optional_json(l.channels_after)},
                      {"params", l.params},
                      {"macs", l.macs},
                      {"note", l.note}});
  json j = {{"nimble_version", NIMBLE_VERSION},
            {"command", r.command},
            {"created", r.created},
            {"out", r.out},
            {"machine", {{"cpu", r.cpu}, {"cores", r.cores}, {"threads", r.threads}, {"isa", r.isa}}},
            {"measurement",
             {{"method", "batch-1 latency: median (p50) and p90 of " + std::to_string(r.iters) +
                             " timed runs per model (the recommended model against the teacher: " +
                             std::to_string(std::max<int64_t>(r.iters, kHeadlineIters)) +
                             "); noise: the median over the models of (p90 - p50) / p50"},
              {"iters", r.iters},
              {"median_noise", r.median_noise}}},
            {"data",
             {{"path", r.data},
              {"format", r.data_format},
              {"classes", r.classes},
              {"train", r.train_images},
              {"val", r.val_images},
              {"test", r.test_images},
              {"input", r.input}}},
            {"goals",
             {{"max_drop_points", r.max_drop},
              {"max_latency_ms", optional_json(r.max_latency_ms)},
              {"max_size_mb", optional_json(r.max_size_mb)},
              {"batch", r.batch}}},
            {"goals_met", r.goals_met},
            {"unmet", r.unmet},
            {"candidates", candidates},
            {"recommended", r.recommended.empty() ? json() : json(r.recommended)},
            {"speedup_vs_teacher", r.speedup_vs_teacher},
            {"latency_ms_side_by_side", r.latency_ms_side_by_side},
            {"teacher_latency_ms_side_by_side", r.teacher_latency_ms_side_by_side},
            {"stages", stages},
            {"final_layers", layers},
            {"model", r.model_path.empty() ? json() : json(r.model_path)},
            {"onnx", r.onnx_path.empty() ? json() : json(r.onnx_path)},
            {"report_json", r.report_json_path},
            {"report_html", r.report_html_path},
            {"seconds", r.seconds}};
  return j.dump(1);
}

}  // namespace nimble
