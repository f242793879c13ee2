// nimble info: what a checkpoint holds — graph layer by layer, totals and metadata.
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::cli {

namespace {
struct InfoArgs {
  std::string model, precision = "auto";
  bool json_out = false, precision_policy = false;
};

// `nimble info --precision-policy`: what each op computes in and stores under a precision.
void print_precision_policy(const InfoArgs& a) {
  const PrecisionChoice c = resolve_precision(a.precision);
  const std::vector<PolicyRow> rows = precision_policy_table(c.precision);
  if (a.json_out) {
    json j = precision_json(c);
    j["policy"] = json::array();
    for (const PolicyRow& r : rows)
      j["policy"].push_back({{"ops", r.ops}, {"computes", r.computes}, {"stores", r.stores}, {"why", r.why}});
    print_json(j);
    return;
  }
  std::printf("precision %s (%s)\n", precision_name(c.precision), c.reason.c_str());
  std::printf("%-70s %-36s %-14s %s\n", "ops", "computes in", "stores", "why");
  for (const PolicyRow& r : rows)
    std::printf("%-70s %-36s %-14s %s\n", r.ops.c_str(), r.computes.c_str(), r.stores.c_str(), r.why.c_str());
}

void run_info(const InfoArgs& a) {
  if (a.precision_policy) return print_precision_policy(a);
  NIMBLE_CHECK(!a.model.empty(), "info needs a checkpoint (or --precision-policy)");
  LoadedModel m = load_model(a.model);
  const Graph& g = m.graph;
  const auto shapes = g.infer_shapes(1);
  json layers = json::array();
  for (const Node& n : g.nodes()) {
    int64_t params = 0;
    for (auto& [k, p] : n.params)
      if (p->trainable) params += p->data.numel();
    std::vector<Shape> ins;
    for (int v : n.inputs) ins.push_back(shapes[v]);
    const OpDef& def = op_def(n.op);
    const int64_t macs = def.macs ? def.macs(n, ins, shapes[n.output]) : 0;
    layers.push_back({{"name", n.name}, {"op", def.name}, {"output", shapes[n.output].str()}, {"params", params}, {"macs", macs}});
  }
  json j = {{"checkpoint", a.model},   {"input", g.input_shape().str()}, {"output", g.output_shape().str()},
            {"params", g.param_count()}, {"macs", g.macs()},             {"size_bytes", m.file_size},
            {"nodes", g.nodes().size()}, {"layers", layers},            {"metadata", m.extra}};
  if (a.json_out) {
    print_json(j);
    return;
  }
  std::printf("%s: input %s -> output %s, %lld params, %lld MACs/sample, %lld bytes\n", a.model.c_str(),
              g.input_shape().str().c_str(), g.output_shape().str().c_str(), (long long)g.param_count(),
              (long long)g.macs(), (long long)m.file_size);
  std::printf("%-20s %-16s %-18s %10s %12s\n", "layer", "op", "output", "params", "MACs");
  for (auto& l : layers)
    std::printf("%-20s %-16s %-18s %10lld %12lld\n", l["name"].get<std::string>().c_str(), l["op"].get<std::string>().c_str(),
                l["output"].get<std::string>().c_str(), (long long)l["params"].get<int64_t>(), (long long)l["macs"].get<int64_t>());
  if (!m.extra.empty()) std::printf("metadata: %s\n", m.extra.dump().c_str());
}
}  // namespace

void add_info(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* c = app.add_subcommand("info", "Describe a checkpoint: layers, parameters, MACs, metadata");
  c->add_option("model", a->model, "checkpoint (.nimble)");
  c->add_flag("--precision-policy", a->precision_policy, "print which ops compute in which precision, and why");
  add_precision_option(c, a->precision);
  c->add_flag("--json", a->json_out, "print one JSON object on stdout");
  c->callback([a] { run_info(*a); });
}

}  // namespace nimble::cli
