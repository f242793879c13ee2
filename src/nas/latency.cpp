#include "nimble/nas/latency.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/content_hash.hpp"
#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/quant/quantize.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"
#include "runtime/machine.hpp"
#include "runtime/pinned_threads.hpp"

namespace nimble::nas {

namespace {

Timing median_and_noise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Timing t;
  t.ms = percentile(ms, 0.5);
  t.noise = t.ms > 0 ? (percentile(ms, 0.75) - percentile(ms, 0.25)) / t.ms : 0.0;
  return t;
}

// The graph as it is deployed: int8 quantizes it, calibrated on random pixels (latency does not
// depend on the values).
Graph deployed_graph(const Graph& graph, DeployPrecision precision) {
  if (precision != DeployPrecision::int8) return graph.clone();
  const Graph prepared = quant::prepare(graph);
  const Shape in = graph.input_shape();
  data::ImageSet samples;
  samples.images = Tensor(Shape{16, in[0], in[1], in[2]}, DType::u8);
  Rng rng(7);
  for (int64_t i = 0; i < samples.images.numel(); ++i) samples.images.data<uint8_t>()[i] = uint8_t(rng.below(256));
  samples.labels.assign(16, 0);
  samples.num_classes = 1;
  const data::Normalization norm{std::vector<float>(size_t(in[0]), 0.5f), std::vector<float>(size_t(in[0]), 0.25f)};
  const quant::Calibration cal = quant::calibrate(prepared, samples, norm, quant::ObserverKind::minmax, 16);
  return quant::convert(prepared, cal.params());
}

SessionOptions deployed_options(const LatencyOptions& o) {
  SessionOptions s;
  s.batch = o.batch;
  s.precision = o.precision == DeployPrecision::bf16 ? Precision::bf16 : Precision::fp32;
  s.choose_kernels_by_timing = true;
  return s;
}

// Time of a block alone: its kernels summed per pass (the input's reorder is the whole model's
// business, counted once by the table's line).
Timing time_block(const Graph& block, const LatencyOptions& o) {
  const Graph g = deployed_graph(block, o.precision);
  Session session(g, deployed_options(o));
  const Tensor x = random_batch(g.input_shape(), o.batch, 42);
  for (int i = 0; i < 3; ++i) session.forward(x);
  const std::vector<std::vector<double>> per_node = session.profile_samples(x, o.iters);
  std::vector<double> per_pass(size_t(o.iters), 0.0);
  for (const auto& node : per_node)
    for (size_t i = 0; i < node.size(); ++i) per_pass[i] += node[i];
  return median_and_noise(per_pass);
}

}  // namespace

const char* deploy_precision_name(DeployPrecision p) {
  switch (p) {
    case DeployPrecision::fp32:
      return "fp32";
    case DeployPrecision::bf16:
      return "bf16";
    case DeployPrecision::int8:
      return "int8";
  }
  return "?";
}

DeployPrecision parse_deploy_precision(const std::string& name) {
  for (DeployPrecision p : {DeployPrecision::fp32, DeployPrecision::bf16, DeployPrecision::int8})
    if (name == deploy_precision_name(p)) return p;
  throw Error("unknown deployment precision '" + name + "' (choices: fp32, bf16, int8)");
}

void LatencyOptions::validate() const {
  NIMBLE_CHECK(batch >= 1 && batch <= 4096, "the latency batch must be in [1, 4096]");
  NIMBLE_CHECK(iters >= 5 && iters <= 100000, "latency measurements need 5 to 100000 timed runs");
  NIMBLE_CHECK(threads >= 0 && threads <= 4096, "threads must be 0 (all) or a positive count");
}

int LatencyOptions::resolved_threads() const { return threads > 0 ? threads : dist::machine_threads(); }

Timing measure_latency(const Graph& graph, const LatencyOptions& o) {
  o.validate();
  const std::vector<double> t = dist::deal_out(
      1, 2,
      [&](int64_t, double* out) {
        const PinnedThreads threads(o.resolved_threads());
        const Graph g = deployed_graph(graph, o.precision);
        Session session(g, deployed_options(o));
        const Timing alone =
            median_and_noise(time_forward(session, random_batch(g.input_shape(), o.batch, 42), 5, o.iters));
        out[0] = alone.ms, out[1] = alone.noise;
      },
      /*timing=*/true);
  return {t[0], t[1]};
}

double LatencyTable::block_sum(const SearchSpace& space, const Arch& arch) const {
  double sum = 0;
  for (const Block& b : space.blocks(arch)) {
    auto it = blocks.find(b.key());
    NIMBLE_CHECK(it != blocks.end(), "the latency table has no block " + b.key() + " (rebuild it)");
    sum += it->second.ms;
  }
  return sum;
}

double LatencyTable::median_noise() const {
  std::vector<double> n;
  for (const auto& [key, t] : blocks) n.push_back(t.noise);
  if (n.empty()) return 0;
  std::sort(n.begin(), n.end());
  return percentile(n, 0.5);
}

std::string LatencyTable::to_json() const {
  nlohmann::json j;
  j["fingerprint"] = fingerprint;
  j["precision"] = deploy_precision_name(options.precision);
  j["batch"] = options.batch;
  j["iters"] = options.iters;
  j["threads"] = options.threads;
  j["pinned"] = pinned;
  j["fit"] = {{"slope", fit.slope}, {"intercept_ms", fit.intercept}, {"calibration_models", calibration_models}};
  for (const auto& [key, t] : blocks) j["blocks"][key] = {{"ms", t.ms}, {"noise", t.noise}};
  return j.dump(1);
}

LatencyTable LatencyTable::from_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    LatencyTable t;
    t.fingerprint = j.at("fingerprint").get<std::string>();
    t.options.precision = parse_deploy_precision(j.at("precision").get<std::string>());
    t.options.batch = j.at("batch").get<int64_t>();
    t.options.iters = j.at("iters").get<int>();
    t.options.threads = j.at("threads").get<int>();
    t.pinned = j.value("pinned", false);
    t.fit.slope = j.at("fit").at("slope").get<double>();
    t.fit.intercept = j.at("fit").at("intercept_ms").get<double>();
    t.calibration_models = j.at("fit").at("calibration_models").get<int64_t>();
    for (const auto& [key, v] : j.at("blocks").items())
      t.blocks[key] = {v.at("ms").get<double>(), v.at("noise").get<double>()};
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("latency table: ") + e.what());
  }
}

std::string latency_fingerprint(const SearchSpace& space, const LatencyOptions& o) {
  return describe_cpu().str() + " | " + io::library_identity() + " | threads " + std::to_string(o.resolved_threads()) +
         " | " + deploy_precision_name(o.precision) + " batch " + std::to_string(o.batch) + " | " +
         space.options_json();
}

LatencyTable build_latency_table(const SearchSpace& space, const LatencyOptions& o,
                                 const std::function<void(size_t, size_t)>& progress) {
  o.validate();
  LatencyTable table;
  table.fingerprint = latency_fingerprint(space, o);
  table.options = o;
  const std::vector<Block> all = space.all_blocks();
  std::optional<PinnedThreads> threads;  // on the rank that times (all of them without mpirun)
  int64_t done = 0;
  const std::vector<double> times = dist::deal_out(
      int64_t(all.size()), 3,
      [&](int64_t i, double* out) {
        if (!threads) threads.emplace(o.resolved_threads());
        const Timing t = time_block(space.build_block(all[size_t(i)]), o);
        out[0] = t.ms, out[1] = t.noise, out[2] = threads->pinned() ? 1 : 0;
        if (progress) progress(size_t(++done), all.size());
      },
      /*timing=*/true);
  table.pinned = !all.empty();
  for (size_t i = 0; i < all.size(); ++i) {
    table.blocks[all[i].key()] = {times[3 * i], times[3 * i + 1]};
    table.pinned = table.pinned && times[3 * i + 2] == 1;
  }
  return table;
}

void calibrate_latency_table(LatencyTable& table, const SearchSpace& space, const std::vector<Arch>& archs,
                             const std::vector<double>& measured_ms) {
  NIMBLE_CHECK(archs.size() == measured_ms.size() && archs.size() >= 2,
               "calibrating the latency table needs at least 2 measured models");
  std::vector<double> sums;
  sums.reserve(archs.size());
  for (const Arch& a : archs) sums.push_back(table.block_sum(space, a));
  table.fit = fit_line(sums, measured_ms);
  table.calibration_models = int64_t(archs.size());
}

std::string latency_cache_path(const std::string& fingerprint) {
  return user_cache_dir() + "/latency/" + io::hex(io::fnv1a(fingerprint)) + ".json";
}

std::optional<LatencyTable> load_cached_latency_table(const std::string& fingerprint) {
  std::ifstream in(latency_cache_path(fingerprint));
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    LatencyTable t = LatencyTable::from_json(text.str());
    if (t.fingerprint == fingerprint) return t;
  } catch (const Error&) {
  }
  return std::nullopt;
}

void save_latency_table(const LatencyTable& table, const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  NIMBLE_CHECK(!ec, "cannot create " + dir.string() + ": " + ec.message());
  io::write_file_atomically(path, table.to_json());
}

}  // namespace nimble::nas
