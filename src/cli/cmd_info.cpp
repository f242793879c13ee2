// nimble info: what a checkpoint holds (layers, totals, metadata), or the precision policy.
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/model.hpp"

namespace nimble::cli {

namespace {
struct InfoArgs {
  std::string model;
  Precision precision = Precision::automatic;
  bool precision_policy = false;
};

// `nimble info --precision-policy`: what each op computes in and stores under a precision.
void print_precision_policy(const InfoArgs& a, bool as_json) {
  const PrecisionChoice c = choose_precision(a.precision);
  note(std::string(c.emulated ? "warning: " : "") + "precision " + precision_name(c.precision) + " (" + c.reason + ")");
  const std::vector<PolicyRow> rows = precision_policy_table(c.precision);
  if (as_json) {
    json j = {
        {"precision", precision_name(c.precision)}, {"precision_emulated", c.emulated}, {"precision_reason", c.reason}};
    j["policy"] = json::array();
    for (const PolicyRow& r : rows)
      j["policy"].push_back({{"ops", r.ops}, {"computes", r.computes}, {"stores", r.stores}, {"why", r.why}});
    return print_json(j.dump());
  }
  std::printf("precision %s (%s)\n", precision_name(c.precision), c.reason.c_str());
  std::printf("%-70s %-36s %-14s %s\n", "ops", "computes in", "stores", "why");
  for (const PolicyRow& r : rows)
    std::printf("%-70s %-36s %-14s %s\n", r.ops.c_str(), r.computes.c_str(), r.stores.c_str(), r.why.c_str());
}

json describe(const std::string& path, const Model& m) {
  const Graph& g = m.graph;
  const auto shapes = g.infer_shapes(1);
  const std::vector<int64_t> macs = g.node_macs();
  json layers = json::array();
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    int64_t params = 0;
    for (auto& [k, p] : n.params)
      if (p->trainable) params += p->data.numel();
    layers.push_back({{"name", n.name},
                      {"op", op_name(n.op)},
                      {"output", shapes[size_t(n.output)].str()},
                      {"params", params},
                      {"macs", macs[i]}});
  }
  return {{"checkpoint", path},
          {"input", g.input_shape().str()},
          {"output", g.output_shape().str()},
          {"params", g.param_count()},
          {"macs", g.macs()},
          {"size_bytes", m.file_size},
          {"nodes", g.nodes().size()},
          {"weights_fingerprint", m.weights_fingerprint()},
          {"training_state_fingerprint", m.training_state_fingerprint()},
          {"layers", layers},
          {"metadata", json::parse(metadata_json(m))}};
}

void run_info(const InfoArgs& a, bool as_json) {
  if (a.precision_policy) return print_precision_policy(a, as_json);
  NIMBLE_CHECK(!a.model.empty(), "info needs a checkpoint (or --precision-policy)");
  const json j = describe(a.model, Model::load(a.model));
  if (as_json) return print_json(j.dump());
  std::printf("%s: input %s -> output %s, %lld params, %lld MACs/sample, %lld bytes\n", a.model.c_str(),
              j["input"].get<std::string>().c_str(), j["output"].get<std::string>().c_str(),
              (long long)j["params"].get<int64_t>(), (long long)j["macs"].get<int64_t>(),
              (long long)j["size_bytes"].get<int64_t>());
  std::printf("%-20s %-16s %-18s %10s %12s\n", "layer", "op", "output", "params", "MACs");
  for (auto& l : j["layers"])
    std::printf("%-20s %-16s %-18s %10lld %12lld\n", l["name"].get<std::string>().c_str(),
                l["op"].get<std::string>().c_str(), l["output"].get<std::string>().c_str(),
                (long long)l["params"].get<int64_t>(), (long long)l["macs"].get<int64_t>());
  if (!j["metadata"].empty()) std::printf("metadata: %s\n", j["metadata"].dump().c_str());
}
}  // namespace

void add_info(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand("info", "Describe a checkpoint: layers, parameters, MACs, metadata");
  c->add_option("model", a->model, "checkpoint (.nimble)");
  c->add_flag("--precision-policy", a->precision_policy, "print which ops compute in which precision, and why");
  add_precision_option(c, a->precision);
  add_output_options(c, *out, false);
  c->callback([a, out] { run_info(*a, out->json); });
}

}  // namespace nimble::cli
