// nimble export: a .nimble model -> ONNX that ONNX Runtime runs (int8 models as QDQ).
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/io/onnx.hpp"

namespace nimble::cli {

namespace {
struct ExportArgs {
  std::string model, out;
  bool force = false;
};

void run_export(const ExportArgs& a, bool as_json) {
  NIMBLE_CHECK(io::is_onnx_path(a.out), "--out '" + a.out + "' must end in .onnx");
  check_output_is_not_an_input("out", a.out, {{"model", a.model}}, a.force);
  const Model m = Model::load(a.model);
  io::export_onnx(m, a.out);
  if (as_json) return print_json(json{{"model", a.model}, {"out", a.out}, {"int8", m.quantized()}}.dump());
  std::printf("exported %s -> %s (%s)\n", a.model.c_str(), a.out.c_str(),
              m.quantized() ? "int8 as QuantizeLinear/DequantizeLinear" : "fp32");
}
}  // namespace

void add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto out = std::make_shared<Output>();
  CLI::App* c =
      app.add_subcommand("export", "Export a model as ONNX (fp32, or int8 in the QDQ form ONNX Runtime runs)");
  c->add_option("model", a->model, "model (.nimble)")->required();
  c->add_option("--out", a->out, "the .onnx file to write")->required();
  add_force_flag(c, a->force);
  add_output_options(c, *out, false);
  c->callback([a, out] { run_export(*a, out->json); });
}

}  // namespace nimble::cli
