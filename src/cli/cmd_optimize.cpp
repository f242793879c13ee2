// nimble optimize: from a model (or a teacher trained from the zoo) to its fastest form within the
// accuracy budget, one recommended model and a report (nimble::optimize).
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/workflows/optimize.hpp"

namespace nimble::cli {

namespace {

void add_goal_options(CLI::App* c, OptimizeOptions& o) {
  c->add_option("--max-drop", o.max_drop, "points of test accuracy the result may lose against the teacher")
      ->capture_default_str();
  c->add_option_function<double>(
      "--max-latency-ms", [&o](double v) { o.max_latency_ms = v; }, "latency budget at the deployment batch");
  c->add_option_function<double>(
      "--max-size-mb", [&o](double v) { o.max_size_mb = v; }, "size budget of the model file, MB");
  c->add_option("--batch", o.batch, "the deployment batch: latency is measured at it")->capture_default_str();
}

}  // namespace

void add_optimize(CLI::App& app) {
  auto o = std::make_shared<OptimizeOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand(
      "optimize", "From a model to its fastest form within an accuracy budget: distil, prune, quantize, report");
  c->add_option("model", o->model, "the model to optimize (.nimble or .onnx); none: train a teacher from the zoo");
  c->add_option("--out", o->out, "work directory: model.nimble, model.onnx, report.json, report.html, stages/")
      ->capture_default_str();
  add_data_options(c, o->data, o->data_format, o->skip_bad, o->cache_mb,
                   "training, validation and test splits of every stage");
  add_goal_options(c, *o);
  c->add_option("--preset", o->preset, "default | quick (a few minutes)")->capture_default_str();
  c->add_option("--student", o->student,
                "auto (the preset's, scaled to --max-latency-ms), self (the model itself) or NAME[:WIDTH[:DEPTH]]")
      ->capture_default_str();
  c->add_option_function<double>(
      "--prune-latency", [o](double v) { o->prune_latency = v; },
      "without --max-latency-ms, prune to this fraction of the model's batch-1 latency (0: prune only to reach "
      "--max-latency-ms; default: the preset's, 0 for default, 0.8 for quick)");
  c->add_option("--from", o->from_stage,
                "compute again from this stage: teacher, baseline, student, distill, prune, quantize, final");
  add_precision_option(c, o->precision);
  c->add_option("--iters", o->iters,
                "timed runs per latency measurement (the final ratio against the teacher: at least 2000)")
      ->capture_default_str();
  c->add_option("--seed", o->seed, "seed of every training run")->capture_default_str();
  add_force_flag(c, o->force);
  add_output_options(c, *out, true);
  c->callback([o, out] {
    // A long run keeps its progress on stderr with --json (stdout holds only the JSON object).
    o->progress = !out->quiet;
    o->command = command_line();
    const OptimizeReport r = optimize(*o);
    if (out->json) print_json(to_json(r));
    note("report: " + r.report_json_path + (r.report_html_path.empty() ? "" : " and " + r.report_html_path));
    if (!r.goals_met) {
      std::string why;
      for (const std::string& u : r.unmet) why += (why.empty() ? "" : "; ") + u;
      throw Error("goals not met: " + why);
    }
    note("recommended: " + r.model_path + " (" + r.onnx_path + ")");
  });
}

}  // namespace nimble::cli
