#include "nimble/workflows/evaluate.hpp"

#include "nimble/model.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "workflows/report_json.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

void EvaluateOptions::validate() const {
  if (model.empty()) throw OptionError("model", "a model file is required");
  workflow::check_batch(batch);
}

EvaluateReport evaluate_model(const EvaluateOptions& o) {
  o.validate();
  const Model m = Model::load(o.model);
  const data::DataSet d = workflow::read_data_for(m, o.data, o.data_format, o.skip_bad, o.cache_mb, o.log);
  // automatic evaluates in the precision the model was trained and tested in, so that evaluation
  // reproduces training's test accuracy; a timing-based choice could differ from run to run.
  PrecisionChoice pc;
  const std::optional<Precision> trained = m.trained_precision();
  if (o.precision == Precision::automatic && trained && !choose_precision(*trained).emulated) {
    pc = choose_precision(*trained);
    pc.reason = "auto: the precision " + o.model + " was trained and tested in";
  } else {
    pc = choose_precision_for(o.precision, m.graph, o.batch, Mode::eval);
  }
  workflow::announce(o.log, pc);
  const train::EvalResult r = train::evaluate(m.graph, d.test, m.preprocessing.normalization, o.batch, pc.precision);
  workflow::say(o.log, "test accuracy " + std::to_string(r.accuracy) + " on " + std::to_string(r.samples) +
                           " samples (" + std::to_string(int64_t(double(r.samples) / r.seconds)) + " samples/s)");
  return {o.model, r.accuracy, r.loss, r.samples, r.seconds, pc};
}

std::string to_json(const EvaluateReport& r) {
  workflow::json j = {{"model", r.model},
                      {"test_accuracy", r.test_accuracy},
                      {"test_loss", r.test_loss},
                      {"samples", r.samples},
                      {"seconds", r.seconds}};
  j.update(workflow::precision_json(r.precision));
  return j.dump();
}

}  // namespace nimble
