// nimble import: an ONNX classifier -> a .nimble model, with the preprocessing its users apply
// (which ONNX files do not record) stored in it.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/io/onnx.hpp"

namespace nimble::cli {

namespace {
struct ImportArgs {
  std::string model, out, input, mean, std, channel_order = "rgb", class_names;
  double pixel_max = 255.0;
  bool force = false;
};

std::vector<std::string> read_class_names(const std::string& path) {
  std::ifstream f(path);
  NIMBLE_CHECK(f, "--class-names: cannot read '" + path + "'");
  std::vector<std::string> names;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) names.push_back(line);
  return names;
}

io::OnnxImportOptions import_options(const ImportArgs& a) {
  io::OnnxImportOptions o;
  if (!a.input.empty()) o.input = Shape::parse(a.input);
  Preprocessing& p = o.preprocessing;
  p.pixel_max = float(a.pixel_max);
  p.channel_order = channel_order_from_name(a.channel_order);
  if (!a.mean.empty() || !a.std.empty()) {
    NIMBLE_CHECK(!a.mean.empty() && !a.std.empty(), "--mean and --std go together");
    p.normalization.mean = parse_floats("--mean", a.mean);
    p.normalization.std = parse_floats("--std", a.std);
    NIMBLE_CHECK(p.normalization.mean.size() == p.normalization.std.size(), "--mean and --std differ in length");
    for (float s : p.normalization.std) NIMBLE_CHECK(s > 0, "--std values must be positive");
  }
  if (!a.class_names.empty()) o.class_names = read_class_names(a.class_names);
  return o;
}

void run_import(const ImportArgs& a, bool as_json) {
  NIMBLE_CHECK(!io::is_onnx_path(a.out), "--out '" + a.out + "' must be a .nimble file (nimble export writes ONNX)");
  check_output_is_not_an_input("out", a.out, {{"model", a.model}}, a.force);
  const Model m = io::import_onnx(a.model, import_options(a));
  m.save(a.out);
  const Graph& g = m.graph;
  if (as_json)
    return print_json(json{
        {"model", a.model},
        {"out", a.out},
        {"input", g.input_shape().str()},
        {"output", g.output_shape().str()},
        {"nodes", g.nodes().size()},
        {"params", g.param_count()},
        {"macs",
         g.macs()}}.dump());
  std::printf("imported %s: input %s -> output %s, %zu nodes, %lld params, %lld MACs/sample\nsaved %s\n",
              a.model.c_str(), g.input_shape().str().c_str(), g.output_shape().str().c_str(), g.nodes().size(),
              (long long)g.param_count(), (long long)g.macs(), a.out.c_str());
}
}  // namespace

void add_import(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand("import", "Import an ONNX classifier (opsets 7-17) as a .nimble model");
  c->add_option("model", a->model, "ONNX file")->required();
  c->add_option("--out", a->out, "the .nimble file to write")->required();
  c->add_option("--input", a->input, "per-sample input shape CxHxW, for models whose dims are symbolic");
  c->add_option("--mean", a->mean, "per-channel mean of pixels scaled to [0, 1], e.g. 0.485,0.456,0.406");
  c->add_option("--std", a->std, "per-channel std, e.g. 0.229,0.224,0.225");
  c->add_option("--pixel-max", a->pixel_max, "pixels are divided by this before --mean/--std")
      ->check(positive_number());
  c->add_option("--channel-order", a->channel_order, "the channel order the model expects")
      ->check(CLI::IsMember({"rgb", "bgr"}));
  c->add_option("--class-names", a->class_names, "a text file with one class name per line");
  add_force_flag(c, a->force);
  add_output_options(c, *out, false);
  c->callback([a, out] { run_import(*a, out->json); });
}

}  // namespace nimble::cli
