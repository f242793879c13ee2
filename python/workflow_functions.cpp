// nimble.train / distill / evaluate / benchmark / quantize / prune / search / optimize: keyword arguments -> the
// workflow's Options (python/keywords.hpp) -> one library call without the GIL -> the report as
// the dictionary `nimble <command> --json` prints.
#include "workflow_functions.hpp"

#include "keywords.hpp"
#include "nimble/workflows/benchmark.hpp"
#include "nimble/workflows/evaluate.hpp"
#include "nimble/workflows/optimize.hpp"
#include "nimble/workflows/prune.hpp"
#include "nimble/workflows/quantize.hpp"
#include "nimble/workflows/search.hpp"
#include "nimble/workflows/train.hpp"

namespace nimble::python {

namespace {

// quiet=True: no progress bar and no status lines (they go to stderr otherwise).
template <class Options> void add_quiet(Keywords<Options>& k) {
  k.add("quiet", [](Options& o, py::handle v) {
    bool quiet = false;
    from_python("quiet", v, quiet);
    if (!quiet) return;
    o.log = nullptr;
    if constexpr (requires { o.progress; }) o.progress = false;
  });
}

Keywords<TeacherOptions> teacher_keywords() {
  Keywords<TeacherOptions> k("teacher");
  k.field("teacher", &TeacherOptions::teacher)
      .named("teacher_form", &TeacherOptions::form, &distill::teacher_form_from_name)
      .field("temperature", &TeacherOptions::temperature)
      .field("alpha", &TeacherOptions::alpha)
      .field("hints", &TeacherOptions::hints)
      .field("hint_weight", &TeacherOptions::hint_weight)
      .field("hint_lr", &TeacherOptions::hint_lr)
      .field("cache_teacher", &TeacherOptions::cache);
  return k;
}

Keywords<TrainOptions> train_keywords(const std::string& function) {
  using O = TrainOptions;
  Keywords<O> k(function);
  k.field("model", &O::model).field("data", &O::data).field("input", &O::input).field("width", &O::width);
  k.field("data_format", &O::data_format)
      .field("skip_bad", &O::skip_bad)
      .field("cache_mb", &O::cache_mb)
      .field("fit", &O::fit);
  k.field("mean", &O::mean).field("std", &O::std);
  k.field("dropout", &O::dropout).field("depth", &O::depth).field("epochs", &O::epochs);
  k.field("crop_padding", &O::crop_padding).field("lr", &O::lr).field("label_smoothing", &O::label_smoothing);
  k.field("hflip", &O::hflip).field("batch", &O::batch).field("optimizer", &O::optimizer);
  k.field("schedule", &O::schedule).field("momentum", &O::momentum).field("weight_decay", &O::weight_decay);
  k.field("clip_grad", &O::clip_grad).field("erase", &O::erase).field("warmup_epochs", &O::warmup_epochs);
  k.field("crop_scale", &O::crop_scale).field("jitter", &O::jitter);
  k.field("nesterov", &O::nesterov).field("step_epochs", &O::step_epochs).field("val", &O::val);
  k.field("limit", &O::limit).field("seed", &O::seed).field("precision", &O::precision).field("out", &O::out);
  k.field("resume", &O::resume).field("prune", &O::prune).field("prune_ramp", &O::prune_ramp);
  k.field("qat", &O::qat).field("qat_epochs", &O::qat_epochs).field("qat_lr", &O::qat_lr);
  k.field("qat_out", &O::qat_out).field("progress", &O::progress).nested(teacher_keywords(), &O::teacher);
  k.field("force", &O::force).field("sync_batch_norm", &O::sync_batch_norm);
  add_quiet(k);
  return k;
}

Keywords<QuantizeOptions> quantize_keywords() {
  using O = QuantizeOptions;
  Keywords<O> k("quantize");
  k.field("model", &O::model).field("out", &O::out).field("data", &O::data);
  k.field("data_format", &O::data_format).field("skip_bad", &O::skip_bad).field("cache_mb", &O::cache_mb);
  k.named("observer", &O::observer, &quant::observer_from_name).field("calib", &O::calib);
  k.field("keep_float", &O::keep_float).field("max_drop", &O::max_drop).field("qat_epochs", &O::qat_epochs);
  k.field("qat_lr", &O::qat_lr).field("precision", &O::precision).field("dynamic", &O::dynamic);
  k.field("speed_gate", &O::speed_gate).field("batch", &O::batch).field("iters", &O::iters).field("seed", &O::seed);
  k.field("progress", &O::progress).nested(teacher_keywords(), &O::teacher);
  k.field("force", &O::force).field("sync_batch_norm", &O::sync_batch_norm);
  add_quiet(k);
  return k;
}

Keywords<PruneOptions> prune_keywords() {
  using O = PruneOptions;
  Keywords<O> k("prune");
  k.field("model", &O::model).field("out", &O::out).field("data", &O::data);
  k.field("data_format", &O::data_format).field("skip_bad", &O::skip_bad).field("cache_mb", &O::cache_mb);
  k.named("method", &O::method, &prune::method_from_name).field("sparsity", &O::sparsity);
  k.named("scope", &O::scope, &prune::scope_from_name).field("ratio", &O::ratio);
  k.field("target_macs", &O::target_macs).field("target_latency_ms", &O::target_latency_ms);
  k.field("uniform", &O::uniform).field("per_layer", &O::per_layer).field("plan_images", &O::plan_images);
  k.named("criterion", &O::criterion, &prune::criterion_from_name).field("n", &O::n).field("m", &O::m);
  k.field("finetune_epochs", &O::finetune_epochs).field("lr", &O::lr).field("ramp", &O::ramp);
  k.field("finetune_batch", &O::finetune_batch);
  k.field("precision", &O::precision).field("batch", &O::batch).field("iters", &O::iters).field("seed", &O::seed);
  k.field("no_teacher", &O::no_teacher).field("progress", &O::progress).nested(teacher_keywords(), &O::teacher);
  k.field("force", &O::force).field("sync_batch_norm", &O::sync_batch_norm);
  add_quiet(k);
  return k;
}

Keywords<SearchOptions> search_keywords() {
  using O = SearchOptions;
  Keywords<O> k("search");
  k.field("data", &O::data).field("data_format", &O::data_format).field("skip_bad", &O::skip_bad);
  k.field("cache_mb", &O::cache_mb).field("out", &O::out).field("squeeze_excite", &O::squeeze_excite);
  k.field("hard_swish", &O::hard_swish).field("epochs", &O::epochs).field("batch", &O::batch).field("lr", &O::lr);
  k.field("random_subnets", &O::random_subnets).field("precision", &O::precision).field("val", &O::val);
  k.field("limit", &O::limit).field("seed", &O::seed).field("deploy", &O::deploy).field("threads", &O::threads);
  k.field("latency_iters", &O::latency_iters).field("latency_calibration", &O::latency_calibration);
  k.field("latency_validation", &O::latency_validation).field("population", &O::population);
  k.field("generations", &O::generations).field("random_evaluations", &O::random_evaluations);
  k.field("recalibration_images", &O::recalibration_images).field("max_latency_ms", &O::max_latency_ms);
  k.field("min_accuracy", &O::min_accuracy).field("select", &O::select).field("finetune_epochs", &O::finetune_epochs);
  k.field("arch", &O::arch).field("progress", &O::progress);
  add_quiet(k);
  return k;
}

Keywords<OptimizeOptions> optimize_keywords() {
  using O = OptimizeOptions;
  Keywords<O> k("optimize");
  k.field("model", &O::model).field("data", &O::data).field("data_format", &O::data_format);
  k.field("skip_bad", &O::skip_bad).field("cache_mb", &O::cache_mb).field("out", &O::out);
  k.field("max_drop", &O::max_drop).field("max_latency_ms", &O::max_latency_ms);
  k.field("max_size_mb", &O::max_size_mb).field("batch", &O::batch).field("preset", &O::preset);
  k.field("student", &O::student)
      .field("prune_latency", &O::prune_latency)
      .field("from_stage", &O::from_stage)
      .field("seed", &O::seed)
      .field("iters", &O::iters);
  k.field("precision", &O::precision).field("progress", &O::progress).field("force", &O::force);
  add_quiet(k);
  return k;
}

Keywords<EvaluateOptions> evaluate_keywords() {
  using O = EvaluateOptions;
  Keywords<O> k("evaluate");
  k.field("model", &O::model).field("data", &O::data).field("batch", &O::batch).field("precision", &O::precision);
  k.field("data_format", &O::data_format).field("skip_bad", &O::skip_bad).field("cache_mb", &O::cache_mb);
  add_quiet(k);
  return k;
}

Keywords<BenchmarkOptions> benchmark_keywords() {
  using O = BenchmarkOptions;
  Keywords<O> k("benchmark");
  k.field("model", &O::model).field("zoo_model", &O::zoo_model).field("input", &O::input).field("width", &O::width);
  k.field("depth", &O::depth).field("classes", &O::classes).field("batch", &O::batch).field("iters", &O::iters);
  k.field("warmup", &O::warmup).field("precision", &O::precision).field("int8", &O::int8);
  k.field("compare", &O::compare).field("compare_precision", &O::compare_precision);
  add_quiet(k);
  return k;
}

// Applies the keywords, runs the workflow with the GIL released, returns json.loads(to_json(report)).
template <class Options, class Report> py::object run(const Keywords<Options>& keywords, Options options,
                                                      const py::kwargs& kwargs, Report (*workflow)(const Options&)) {
  keywords.apply(options, kwargs);
  std::string json;
  {
    py::gil_scoped_release release;
    json = to_json(workflow(options));
  }
  return py::module_::import("json").attr("loads")(json);
}

// "name(**kwargs) -> dict" with the summary and the accepted keywords.
template <class Options> std::string doc(const Keywords<Options>& k, const std::string& summary) {
  std::string d = summary + "\n\nKeywords (named as the fields of the C++ Options struct; help(nimble) explains):\n   ";
  for (const auto& [name, set] : k.setters()) d += " " + name;
  return d + "\n\nReturns the dictionary the command's --json prints.";
}

}  // namespace

void add_workflow_functions(py::module_& m) {
  m.def(
      "train", [](const py::kwargs& kw) { return run(train_keywords("train"), TrainOptions{}, kw, &train_model); },
      doc(train_keywords("train"), "train(**kwargs) -> dict: trains a zoo model (or a saved one) like `nimble train`.")
          .c_str());
  m.def(
      "distill",
      [](const py::kwargs& kw) {
        if (!kw.contains("teacher")) throw py::type_error("distill() missing required keyword argument 'teacher'");
        TrainOptions o;
        o.model = "mobilenet_v2";  // `nimble distill`'s default student
        return run(train_keywords("distill"), o, kw, &train_model);
      },
      doc(train_keywords("distill"),
          "distill(teacher=..., **kwargs) -> dict: trains a student (model, default mobilenet_v2) from a teacher "
          "like `nimble distill`.")
          .c_str());
  m.def(
      "evaluate", [](const py::kwargs& kw) { return run(evaluate_keywords(), EvaluateOptions{}, kw, &evaluate_model); },
      doc(evaluate_keywords(), "evaluate(model=..., **kwargs) -> dict: test accuracy like `nimble eval`.").c_str());
  m.def(
      "benchmark",
      [](const py::kwargs& kw) { return run(benchmark_keywords(), BenchmarkOptions{}, kw, &benchmark_model); },
      doc(benchmark_keywords(), "benchmark(**kwargs) -> dict: latency and throughput like `nimble bench`.").c_str());
  m.def(
      "quantize", [](const py::kwargs& kw) { return run(quantize_keywords(), QuantizeOptions{}, kw, &quantize_model); },
      doc(quantize_keywords(),
          "quantize(model=..., out=..., **kwargs) -> dict: int8 quantization like `nimble quantize`.")
          .c_str());
  m.def(
      "prune", [](const py::kwargs& kw) { return run(prune_keywords(), PruneOptions{}, kw, &prune_model); },
      doc(prune_keywords(), "prune(model=..., out=..., **kwargs) -> dict: pruning like `nimble prune`.").c_str());
  m.def(
      "search", [](const py::kwargs& kw) { return run(search_keywords(), SearchOptions{}, kw, &search); },
      doc(search_keywords(),
          "search(**kwargs) -> dict: hardware-aware architecture search like `nimble search` (stages resume from "
          "out).")
          .c_str());
  m.def(
      "optimize",
      [](const py::kwargs& kw) {
        OptimizeOptions o;
        o.command = "nimble.optimize(**" + py::repr(kw).cast<std::string>() + ")";
        return run(optimize_keywords(), o, kw, &optimize);
      },
      doc(optimize_keywords(),
          "optimize(**kwargs) -> dict: from a model (or a teacher trained from the zoo) to its fastest form within "
          "max_drop, like `nimble optimize` (stages resume from out; report.json and report.html there).")
          .c_str());
}

}  // namespace nimble::python
