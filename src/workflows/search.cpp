#include "nimble/workflows/search.hpp"

#include <chrono>
#include <filesystem>

#include "nimble/runtime/many_sessions.hpp"
#include "workflows/report_json.hpp"
#include "workflows/search_stages.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

namespace fs = std::filesystem;
using namespace workflow::search_stages;

void SearchOptions::validate() const {
  using workflow::check_range;
  if (out.empty()) throw OptionError("out", "must name a directory");
  check_range("epochs", double(epochs), 1, 10000);
  if (batch) workflow::check_batch(*batch);
  if (lr) check_range("lr", *lr, 1e-6, 10);
  check_range("random_subnets", double(random_subnets), 0, 16);
  if (precision == Precision::fp16) throw OptionError("precision", "supernet training runs in fp32 or bf16");
  if (val) check_range("val", double(*val), 1, 1e9);
  check_range("limit", double(limit), 0, 1e12);
  if (deploy != "fp32" && deploy != "bf16" && deploy != "int8")
    throw OptionError("deploy", "must be fp32, bf16 or int8, got '" + deploy + "'");
  check_range("threads", threads, 0, 4096);
  check_range("latency_iters", latency_iters, 5, 100000);
  check_range("latency_calibration", double(latency_calibration), 2, 10000);
  check_range("latency_validation", double(latency_validation), 2, 10000);
  check_range("population", double(population), 4, 4096);
  if (population % 2) throw OptionError("population", "must be even");
  check_range("generations", double(generations), 0, 10000);
  check_range("random_evaluations", double(random_evaluations), 0, 1e6);
  check_range("recalibration_images", double(recalibration_images), 2, 1e7);
  if (max_latency_ms) check_range("max_latency_ms", *max_latency_ms, 1e-6, 1e9);
  if (min_accuracy) check_range("min_accuracy", *min_accuracy, 0, 1);
  check_range("select", double(select), 1, 100);
  if (!arch.empty()) {
    if (max_latency_ms || min_accuracy)
      throw OptionError("arch",
                        "names the architecture to extract: it cannot be combined with {max_latency_ms} or "
                        "{min_accuracy}");
    try {
      nas::arch_from_string(arch);
    } catch (const OptionError&) {
      throw;
    } catch (const Error& e) {
      throw OptionError("arch", std::string("is not valid: ") + e.what());
    }
  }
  check_range("finetune_epochs", double(finetune_epochs), 0, 10000);
}

SearchReport search(const SearchOptions& o) {
  o.validate();
  prepare_for_many_sessions();  // sessions per sub-network trained, timed and evaluated
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec || !fs::is_directory(o.out)) throw OptionError("out", "cannot create the directory " + o.out);
  SearchReport r;
  r.out = o.out;
  r.deploy = o.deploy;
  const SearchData data = read_search_data(o);
  nas::SpaceOptions so;
  so.input = data.d.train.sample_shape();
  so.classes = data.d.train.num_classes;
  so.squeeze_excite = o.squeeze_excite;
  so.hard_swish = o.hard_swish;
  const nas::SearchSpace space(so);
  r.space_size = space.size();
  workflow::say(o.log, "search space: " + std::to_string(space.stages().size()) + " stages, " +
                           format_count(space.size()) + " architectures; work directory " + o.out);
  if (!o.arch.empty()) space.check(nas::arch_from_string(o.arch));  // before any training
  nas::Supernet net = supernet_stage(o, space, data, r);
  nas::LatencyTable table = latency_stage(o, space, r);
  const std::vector<nas::Candidate> pooled =
      o.arch.empty() ? search_stage(o, space, net, table, data, r) : one_candidate(o, space, net, table, data);
  extract_stage(o, space, net, table, data, pooled, r);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string to_json(const SearchReport& r) {
  using workflow::json;
  json models = json::array();
  for (const SearchedModel& m : r.models)
    models.push_back({{"arch", m.arch},
                      {"path", m.path},
                      {"val_accuracy_inherited", m.val_accuracy_inherited},
                      {"test_accuracy", m.test_accuracy},
                      {"predicted_latency_ms", m.predicted_latency_ms},
                      {"measured_latency_ms", m.measured_latency_ms},
                      {"latency_noise", m.latency_noise},
                      {"within_budget", m.within_budget},
                      {"params", m.params},
                      {"macs", m.macs}});
  json j = {{"out", r.out},
            {"cpu", r.cpu},
            {"deploy", r.deploy},
            {"space_size", r.space_size},
            {"supernet",
             {{"epochs", r.supernet_epochs},
              {"resumed", r.supernet_resumed},
              {"reused", r.supernet_reused},
              {"seconds", r.supernet_seconds},
              {"losses", r.supernet_losses},
              {"precision", precision_name(r.precision)}}},
            {"latency",
             {{"blocks", r.latency_blocks},
              {"cached", r.latency_cached},
              {"measured_on", r.latency_measured_on},
              {"threads_pinned", r.latency_pinned},
              {"table_seconds", r.latency_table_seconds},
              {"block_noise", r.latency_block_noise},
              {"slope", r.latency_slope},
              {"intercept_ms", r.latency_intercept_ms},
              {"validation_models", r.latency.models},
              {"mape", r.latency.mape},
              {"within_10_percent", r.latency.within_10_percent},
              {"kendall_tau", r.latency.kendall_tau},
              {"median_noise", r.latency.median_noise}}},
            {"search",
             {{"nsga2_evaluations", r.nsga2_evaluations},
              {"random_evaluations", r.random_evaluations},
              {"nsga2_generation_evaluations", r.nsga2_generation_evaluations},
              {"nsga2_hypervolume", r.nsga2_hypervolume},
              {"random_hypervolume", r.random_hypervolume},
              {"hypervolume_reference", r.hypervolume_reference},
              {"nsga2_evaluations_to_random_final", workflow::optional_json(r.nsga2_evaluations_to_random_final)},
              {"predictor_kendall_tau", r.predictor_kendall_tau},
              {"seconds", r.search_seconds}}},
            {"models", models},
            {"seconds", r.seconds}};
  return j.dump(2);
}

}  // namespace nimble
