// nimble eval: accuracy of a checkpoint on the test split (nimble::evaluate_model).
#include <memory>

#include "cli/common.hpp"
#include "nimble/workflows/evaluate.hpp"

namespace nimble::cli {

void add_eval(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand("eval", "Evaluate a checkpoint on the test split");
  c->add_option("model", o->model, "checkpoint (.nimble)")->required();
  add_data_options(c, o->data, o->data_format, o->skip_bad, o->cache_mb, "accuracy on its test split");
  c->add_option("--batch", o->batch, "batch size")->capture_default_str();
  add_precision_option(c, o->precision);
  add_output_options(c, *out, false);
  c->callback([o, out] {
    const EvaluateReport r = evaluate_model(*o);
    if (out->json) print_json(to_json(r));
  });
}

}  // namespace nimble::cli
