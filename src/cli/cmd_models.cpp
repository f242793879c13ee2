// nimble models: the zoo with parameter and MAC counts at a given input size.
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::cli {

namespace {
struct ModelsArgs {
  std::string input = "1x28x28";
  int64_t classes = 10;
  double width = 1.0;
  bool json_out = false;
};

void run_models(const ModelsArgs& a) {
  json list = json::array();
  const Shape input = Shape::parse(a.input);  // before printing anything: errors stay one line
  if (!a.json_out) std::printf("%-14s %12s %14s  %s\n", "model", "params", "MACs/sample", "description");
  for (const zoo::ModelInfo& info : zoo::models()) {
    zoo::ModelConfig c;
    c.name = info.name;
    c.input = input;
    c.classes = a.classes;
    c.width = a.width;
    Graph g = zoo::build(c);
    list.push_back(
        {{"model", info.name}, {"params", g.param_count()}, {"macs", g.macs()}, {"description", info.description}});
    if (!a.json_out)
      std::printf("%-14s %12lld %14lld  %s\n", info.name.c_str(), (long long)g.param_count(), (long long)g.macs(),
                  info.description.c_str());
  }
  if (a.json_out) print_json(json{{"input", a.input}, {"width", a.width}, {"models", list}}.dump());
}
}  // namespace

void add_models(CLI::App& app) {
  auto a = std::make_shared<ModelsArgs>();
  CLI::App* c = app.add_subcommand("models", "List the model zoo with parameters and MACs");
  c->add_option("--input", a->input, "input CxHxW")->capture_default_str();
  c->add_option("--classes", a->classes, "number of classes")->capture_default_str();
  c->add_option("--width", a->width, "width multiplier")->capture_default_str();
  c->add_flag("--json", a->json_out, "print one JSON object on stdout");
  c->callback([a] { run_models(*a); });
}

}  // namespace nimble::cli
