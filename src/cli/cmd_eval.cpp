// nimble eval: accuracy of a checkpoint on the test split of an IDX data set.
#include <memory>

#include "cli/common.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/core/error.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::cli {

namespace {
struct EvalArgs {
  std::string model, data = kDefaultData, precision = "auto";
  int64_t batch = 500;
  bool json_out = false;
};

void run_eval(const EvalArgs& a) {
  LoadedModel m = load_model(a.model);
  data::IdxData d = load_data(a.data);
  NIMBLE_CHECK(a.batch >= 1 && a.batch <= 65536, "--batch must be between 1 and 65536");
  // `auto` evaluates in the precision the checkpoint was trained and tested in, so that eval
  // reproduces train's test accuracy; a timing-based choice could differ from run to run.
  std::string flag = a.precision;
  std::string why;
  if (flag == "auto" && m.extra.contains("hyper") && m.extra["hyper"].contains("precision")) {
    flag = m.extra["hyper"]["precision"].get<std::string>();
    why = "auto: the precision " + a.model + " was trained and tested in";
  }
  PrecisionChoice pc = choose_precision(flag);
  if (why.empty() || pc.emulated)  // never an emulated precision for auto
    pc = choose_precision_for(why.empty() ? flag : "auto", m.graph, a.batch, Mode::eval);
  else
    pc.reason = why;
  announce_precision(pc);
  train::EvalResult r = train::evaluate(m.graph, d.test, normalization_of(m.extra), a.batch, pc.precision);
  note("test accuracy " + std::to_string(r.accuracy) + " on " + std::to_string(r.samples) + " samples (" +
       std::to_string(int64_t(r.samples / r.seconds)) + " samples/s)");
  if (a.json_out) {
    json j = {{"model", a.model}, {"test_accuracy", r.accuracy}, {"test_loss", r.loss}, {"samples", r.samples},
              {"seconds", r.seconds}};
    j.update(precision_json(pc));
    print_json(j);
  }
}
}  // namespace

void add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* c = app.add_subcommand("eval", "Evaluate a checkpoint on the test split");
  c->add_option("model", a->model, "checkpoint (.nimble)")->required();
  c->add_option("--data", a->data, "IDX data directory")->capture_default_str();
  c->add_option("--batch", a->batch, "batch size")->capture_default_str();
  add_precision_option(c, a->precision);
  c->add_flag("--json", a->json_out, "print one JSON summary object on stdout");
  c->callback([a] { run_eval(*a); });
}

}  // namespace nimble::cli
