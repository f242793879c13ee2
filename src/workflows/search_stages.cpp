#include "workflows/search_stages.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/atomic_file.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/model.hpp"
#include "nimble/nas/pareto.hpp"
#include "nimble/nas/stats.hpp"
#include "nimble/nas/supernet_training.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/train/batch_norm_recalibration.hpp"
#include "nimble/train/trainer.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble::workflow::search_stages {

namespace {
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
std::string path_in(const SearchOptions& o, const std::string& name) {
  return (std::filesystem::path(o.out) / name).string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr const char* kSupernetFile = "supernet.nimble";
constexpr const char* kSpaceKey = "search_space";
constexpr const char* kEpochsKey = "supernet_epochs";
}  // namespace

std::string format_count(double n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", n);
  return buf;
}

SearchData read_search_data(const SearchOptions& o) {
  SearchData s;
  s.d = read_data(o.data, o.data_format, o.skip_bad, o.cache_mb, Shape{}, data::FitMode::crop);
  say(o.log, data_summary(o.data, s.d, data::FitMode::crop));
  const data::ImageSet train = o.limit > 0 ? data::take(s.d.train, o.limit) : s.d.train;
  const bool own_val = !o.val && s.d.val.size() > 0;
  s.val = own_val ? -1 : o.val.value_or(default_val_count(train.size()));
  if (!own_val && s.val >= train.size())
    throw OptionError("val", "must be smaller than the training set (" + std::to_string(train.size()) + " samples)");
  s.split = own_val ? data::Split{train, s.d.val} : data::split_validation(train, s.val, o.seed);
  s.norm = data::compute_normalization(s.split.train);
  return s;
}

nas::Supernet supernet_stage(const SearchOptions& o, const nas::SearchSpace& space, const SearchData& data,
                             SearchReport& r) {
  const std::string path = path_in(o, kSupernetFile);
  const auto t0 = Clock::now();
  std::optional<nas::Supernet> net;
  std::optional<train::TrainState> resume;
  std::optional<Model> stored;
  if (std::filesystem::exists(path)) stored = Model::load(path);
  dist::all_ranks_have_read();
  if (stored) {
    Model& m = *stored;
    if (m.graph.meta[kSpaceKey] != space.options_json())
      throw Error(path + " is the supernet of another search space or data set; use another --out or delete it");
    net.emplace(space, std::move(m.graph));
    if (!m.training_state) {
      r.supernet_reused = true;
      r.supernet_epochs = std::stoll(net->graph().meta[kEpochsKey]);
      say(o.log, "supernet: reusing " + path + " (" + std::to_string(r.supernet_epochs) + " epochs)");
      return std::move(*net);
    }
    resume = m.training_state;
    r.supernet_resumed = true;
    say(o.log, "supernet: resuming " + path + " after epoch " + std::to_string(resume->epoch));
  } else {
    net.emplace(space, o.seed);
  }
  nas::SupernetTrainConfig c;
  c.epochs = o.epochs;
  c.batch =
      o.batch ? std::min<int64_t>(*o.batch, data.split.train.size()) : default_batch(data.split.train.size(), 128);
  c.schedule.lr = float(o.lr.value_or(0.05 * double(c.batch) / 128.0));
  c.random_subnets = o.random_subnets;
  c.seed = o.seed;
  c.progress = o.progress;
  const PrecisionChoice pc = choose_precision_for(o.precision, net->graph(), c.batch, Mode::train);
  announce(o.log, pc);
  c.precision = pc.precision;
  r.precision = pc.precision;
  const Preprocessing pre{255.0f, data.norm};
  const nas::SupernetTrainResult trained =
      nas::train_supernet(*net, data.split.train, data.norm, c, resume,
                          [&](const nas::Supernet& n, const nas::SupernetEpoch&, const train::TrainState& st) {
                            Model m(n.graph().clone(), pre);
                            m.graph.meta[kSpaceKey] = space.options_json();
                            m.graph.meta[kEpochsKey] = std::to_string(c.epochs);
                            if (st.epoch < c.epochs) m.training_state = st;
                            m.save(path);
                          });
  r.supernet_epochs = o.epochs;
  for (const nas::SupernetEpoch& e : trained.epochs) r.supernet_losses.push_back(e.largest_loss);
  r.supernet_seconds = since(t0);
  return std::move(*net);
}

namespace {

nas::LatencyOptions latency_options(const SearchOptions& o) {
  nas::LatencyOptions l;
  l.precision = nas::parse_deploy_precision(o.deploy);
  l.iters = o.latency_iters;
  l.threads = o.threads;
  return l;
}

// `count` random architectures of their own stream, none of them in `avoid`.
std::vector<nas::Arch> random_archs(const nas::SearchSpace& space, int64_t count, uint64_t seed,
                                    const std::vector<nas::Arch>& avoid = {}) {
  Rng rng(seed);
  std::vector<nas::Arch> out;
  for (int attempts = 0; int64_t(out.size()) < count && attempts < 100 * count; ++attempts) {
    nas::Arch a = space.random(rng);
    if (std::find(avoid.begin(), avoid.end(), a) == avoid.end() && std::find(out.begin(), out.end(), a) == out.end())
      out.push_back(a);
  }
  return out;
}

// Measures held-out architectures whole and compares them with the table's predictions.
LatencyValidation validate_table(const SearchOptions& o, const nas::SearchSpace& space, const nas::LatencyTable& table,
                                 const std::vector<nas::Arch>& archs) {
  const std::vector<double> times = dist::deal_out(
      int64_t(archs.size()), 2,
      [&](int64_t i, double* out) {
        const nas::Timing t = nas::measure_latency(space.build(archs[size_t(i)]), table.options);
        out[0] = t.ms, out[1] = t.noise;
      },
      /*timing=*/true);
  std::vector<double> predicted, measured, noise;
  for (size_t i = 0; i < archs.size(); ++i) {
    predicted.push_back(table.predict(space, archs[i]));
    measured.push_back(times[2 * i]);
    noise.push_back(times[2 * i + 1]);
  }
  std::sort(noise.begin(), noise.end());
  LatencyValidation v;
  v.models = int64_t(archs.size());
  v.mape = nas::mean_abs_percentage_error(predicted, measured);
  v.within_10_percent = nas::fraction_within(predicted, measured, 0.10);
  v.kendall_tau = nas::kendall_tau(predicted, measured);
  v.median_noise = noise[noise.size() / 2];
  return v;
}

json validation_json(const LatencyValidation& v) {
  return {{"models", v.models},
          {"mape", v.mape},
          {"within_10_percent", v.within_10_percent},
          {"kendall_tau", v.kendall_tau},
          {"median_noise", v.median_noise}};
}

void fill_latency_report(SearchReport& r, const nas::LatencyTable& t) {
  r.latency_blocks = int64_t(t.blocks.size());
  r.latency_pinned = t.pinned;
  r.latency_block_noise = t.median_noise();
  r.latency_slope = t.fit.slope;
  r.latency_intercept_ms = t.fit.intercept;
}

}  // namespace

nas::LatencyTable latency_stage(const SearchOptions& o, const nas::SearchSpace& space, SearchReport& r) {
  const nas::LatencyOptions lo = latency_options(o);
  const std::string fingerprint = nas::latency_fingerprint(space, lo), path = path_in(o, "latency.json");
  r.cpu = fingerprint.substr(0, fingerprint.find(" | "));
  const dist::Communicator& comm = dist::world();
  r.latency_measured_on = comm.distributed()
                              ? "rank 0's machine, timed by rank 0 on " + std::to_string(lo.resolved_threads()) +
                                    " threads while the other ranks waited (" + comm.describe() + ")"
                              : std::string("this machine");
  std::optional<nas::LatencyTable> stored;
  if (std::filesystem::exists(path)) {
    try {
      const json j = json::parse(read_text(path));
      nas::LatencyTable t = nas::LatencyTable::from_json(j.at("table").dump());
      if (t.fingerprint == fingerprint) {
        const json& v = j.at("validation");
        r.latency = {v.at("models").get<int64_t>(), v.at("mape").get<double>(), v.at("within_10_percent").get<double>(),
                     v.at("kendall_tau").get<double>(), v.at("median_noise").get<double>()};
        stored = std::move(t);
      } else {
        say(o.log, "latency: " + path + " was measured on another machine, library or setting; measuring again");
      }
    } catch (const std::exception&) {
      say(o.log, "latency: " + path + " is unreadable; measuring again");
    }
  }
  dist::all_ranks_have_read();  // rank 0 writes `path` after timings only it takes part in
  if (stored) {
    r.latency_cached = true;
    fill_latency_report(r, *stored);
    say(o.log, "latency: reusing " + path);
    return std::move(*stored);
  }
  const auto t0 = Clock::now();
  nas::LatencyTable table;
  if (auto cached = nas::load_cached_latency_table(fingerprint)) {
    table = std::move(*cached);
    r.latency_cached = true;
    say(o.log, "latency: this machine's table from " + nas::latency_cache_path(fingerprint));
  } else {
    say(o.log, "latency: timing every block of the space on this CPU (" +
                   std::string(nas::deploy_precision_name(lo.precision)) + ", batch 1; " + r.latency_measured_on + ")");
    table = nas::build_latency_table(space, lo);
    const std::vector<nas::Arch> cal = random_archs(space, o.latency_calibration, o.seed + 101);
    const std::vector<double> ms = dist::deal_out(
        int64_t(cal.size()), 1,
        [&](int64_t i, double* out) { *out = nas::measure_latency(space.build(cal[size_t(i)]), lo).ms; },
        /*timing=*/true);
    nas::calibrate_latency_table(table, space, cal, ms);
    nas::save_latency_table(table, nas::latency_cache_path(fingerprint));
  }
  r.latency_table_seconds = since(t0);
  // Held out: none of them calibrated the line.
  const std::vector<nas::Arch> cal = random_archs(space, o.latency_calibration, o.seed + 101);
  r.latency = validate_table(o, space, table, random_archs(space, o.latency_validation, o.seed + 202, cal));
  fill_latency_report(r, table);
  io::write_file_atomically(
      path, json{{"table", json::parse(table.to_json())}, {"validation", validation_json(r.latency)}}.dump(1));
  say(o.log, "latency: " + std::to_string(table.blocks.size()) + " blocks; on " + std::to_string(r.latency.models) +
                 " held-out models the prediction is off by " + fixed(100 * r.latency.mape, 1) + " % on average, " +
                 fixed(100 * r.latency.within_10_percent, 0) + " % within 10 %, Kendall tau " +
                 fixed(r.latency.kendall_tau, 3) + " (measurement noise " + fixed(100 * r.latency.median_noise, 1) +
                 " %)");
  return table;
}

namespace {

constexpr const char* kCsvHeader = "method,generation,arch,val_accuracy,predicted_accuracy,latency_ms\n";

// 17 significant digits: a resumed search reads back exactly what it measured.
std::string exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string csv_row(const nas::Candidate& c) {
  return c.method + "," + std::to_string(c.generation) + "," + nas::arch_to_string(c.arch) + "," + exact(c.accuracy) +
         "," + (c.predicted ? exact(c.predicted_accuracy) : std::string()) + "," + exact(c.latency_ms) + "\n";
}

void write_csv(const std::string& path, const std::vector<nas::Candidate>& rows) {
  std::string text = kCsvHeader;
  for (const nas::Candidate& c : rows) text += csv_row(c);
  io::write_file_atomically(path, text);
}

// Accuracies measured by an earlier run of this search (OUT/evaluations.csv): a resumed search
// proposes the same architectures and takes these instead of measuring again.
std::map<std::string, double> read_measured(const std::string& path) {
  std::map<std::string, double> m;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    if (f.size() >= 4) m[f[2]] = std::strtod(f[3].c_str(), nullptr);
  }
  return m;
}

// The hypervolume reference: a little worse than the worst point either method measured.
std::vector<double> reference_point(const std::vector<nas::Candidate>& all) {
  double err = 0, lat = 0;
  for (const nas::Candidate& c : all) {
    err = std::max(err, 1.0 - c.accuracy);
    lat = std::max(lat, c.latency_ms);
  }
  return {std::min(1.0, err + 0.01), lat * 1.05};
}

void hypervolume_report(const nas::SearchTrace& nsga, const nas::SearchTrace& rnd, SearchReport& r) {
  std::vector<nas::Candidate> all = nsga.evaluated;
  all.insert(all.end(), rnd.evaluated.begin(), rnd.evaluated.end());
  r.hypervolume_reference = reference_point(all);
  for (int64_t n : nsga.generation_end) {
    r.nsga2_generation_evaluations.push_back(n);
    r.nsga2_hypervolume.push_back(nas::hypervolume_of_first(nsga.evaluated, size_t(n), r.hypervolume_reference));
    if (!rnd.evaluated.empty())
      r.random_hypervolume.push_back(nas::hypervolume_of_first(rnd.evaluated, size_t(n), r.hypervolume_reference));
  }
  if (rnd.evaluated.empty()) return;
  const double target = nas::hypervolume_of_first(rnd.evaluated, rnd.evaluated.size(), r.hypervolume_reference);
  for (size_t n = 1; n <= nsga.evaluated.size(); ++n)
    if (nas::hypervolume_of_first(nsga.evaluated, n, r.hypervolume_reference) >= target) {
      r.nsga2_evaluations_to_random_final = int64_t(n);
      break;
    }
}

double predictor_tau(const std::vector<nas::Candidate>& c) {
  std::vector<double> p, m;
  for (const nas::Candidate& x : c)
    if (x.predicted) p.push_back(x.predicted_accuracy), m.push_back(x.accuracy);
  return p.size() >= 2 ? nas::kendall_tau(p, m) : 0.0;
}

}  // namespace

std::vector<nas::Candidate> search_stage(const SearchOptions& o, const nas::SearchSpace& space,
                                         const nas::Supernet& net, const nas::LatencyTable& table,
                                         const SearchData& data, SearchReport& r) {
  const auto t0 = Clock::now();
  const std::string csv = path_in(o, "evaluations.csv");
  std::map<std::string, double> measured = read_measured(csv);
  dist::all_ranks_have_read();
  if (!measured.empty()) say(o.log, "search: " + std::to_string(measured.size()) + " accuracies from " + csv);
  std::vector<nas::Candidate> done;
  // Each call measures a generation; under mpirun its unmeasured architectures are dealt out to
  // the ranks, each measured by one rank alone, and the accuracies summed back to every rank.
  const auto accuracies = [&](const std::vector<nas::Arch>& archs) {
    std::vector<double> acc(archs.size(), 0.0);
    std::vector<size_t> todo;
    for (size_t i = 0; i < archs.size(); ++i) {
      auto it = measured.find(nas::arch_to_string(archs[i]));
      if (it != measured.end())
        acc[i] = it->second;
      else
        todo.push_back(i);
    }
    const std::vector<double> fresh = dist::deal_out(
        int64_t(todo.size()), 1,
        [&](int64_t k, double* out) {
          *out = nas::inherited_accuracy(net, archs[todo[size_t(k)]], data.split.train, data.split.val, data.norm,
                                         o.recalibration_images);
        },
        /*timing=*/false);
    for (size_t k = 0; k < todo.size(); ++k) acc[todo[k]] = measured[nas::arch_to_string(archs[todo[k]])] = fresh[k];
    return acc;
  };
  const auto latency = [&](const nas::Arch& a) { return table.predict(space, a); };
  const auto progress = [&](const nas::Candidate& c) {
    done.push_back(c);
    if (done.size() % 16 == 0) write_csv(csv, done);  // what a stopped search resumes from
    if (o.progress && done.size() % 8 == 0)
      say(o.log, "search: " + std::to_string(done.size()) + " architectures measured");
  };
  nas::SearchConfig sc;
  sc.population = int(o.population);
  sc.generations = int(o.generations);
  sc.seed = o.seed;
  sc.constraints = {o.max_latency_ms, o.min_accuracy};
  const nas::SearchTrace nsga = nas::nsga2_search(space, sc, accuracies, latency, progress);
  const nas::SearchTrace rnd =
      nas::random_search(space, o.random_evaluations, accuracies, latency, o.seed + 303, progress);
  write_csv(csv, done);
  r.nsga2_evaluations = int64_t(nsga.evaluated.size());
  r.random_evaluations = int64_t(rnd.evaluated.size());
  hypervolume_report(nsga, rnd, r);
  r.predictor_kendall_tau = predictor_tau(nsga.evaluated);
  std::vector<nas::Candidate> front;
  for (size_t i : nas::pareto_front(nas::objectives(done))) front.push_back(done[i]);
  write_csv(path_in(o, "front.csv"), front);
  r.search_seconds = since(t0);
  std::string line = "search: NSGA-II measured " + std::to_string(nsga.evaluated.size()) + " architectures";
  if (!rnd.evaluated.empty()) {
    line += ", random search " + std::to_string(rnd.evaluated.size()) +
            "; NSGA-II reached random search's final hypervolume ";
    line += r.nsga2_evaluations_to_random_final
                ? "after " + std::to_string(*r.nsga2_evaluations_to_random_final) + " evaluations"
                : std::string("not at all");
  }
  say(o.log,
      line + "; the accuracy predictor ranks its screened picks with Kendall tau " + fixed(r.predictor_kendall_tau, 3));
  return done;
}

namespace {

// The measured front, fastest first, that meets --min-accuracy.
std::vector<nas::Candidate> feasible_front(const SearchOptions& o, const std::vector<nas::Candidate>& pooled) {
  std::vector<nas::Candidate> front;
  for (size_t i : nas::pareto_front(nas::objectives(pooled)))
    if (!o.min_accuracy || pooled[i].accuracy >= *o.min_accuracy) front.push_back(pooled[i]);
  std::sort(front.begin(), front.end(),
            [](const nas::Candidate& a, const nas::Candidate& b) { return a.latency_ms < b.latency_ms; });
  return front;
}

// With a budget: the most accurate architecture whose measured latency keeps it (within 5 %, the
// measurement's own noise); predictions only shortlist. Without: `select` points spread along the front.
std::vector<std::pair<nas::Candidate, nas::Timing>> choose(const SearchOptions& o, const nas::SearchSpace& space,
                                                           const nas::LatencyTable& table,
                                                           const std::vector<nas::Candidate>& front) {
  if (front.empty()) throw Error("no measured architecture reaches --min-accuracy");
  std::vector<std::pair<nas::Candidate, nas::Timing>> out;
  if (!o.max_latency_ms) {
    const size_t n = std::min<size_t>(size_t(o.select), front.size());
    for (size_t k = 0; k < n; ++k) {
      const nas::Candidate& c = front[n == 1 ? front.size() - 1 : k * (front.size() - 1) / (n - 1)];
      out.emplace_back(c, nas::measure_latency(space.build(c.arch), table.options));
    }
    return out;
  }
  std::vector<nas::Candidate> by_accuracy = front;
  std::sort(by_accuracy.begin(), by_accuracy.end(),
            [](const nas::Candidate& a, const nas::Candidate& b) { return a.accuracy > b.accuracy; });
  double fastest = 1e300;
  int tried = 0;
  for (const nas::Candidate& c : by_accuracy) {
    if (c.latency_ms > *o.max_latency_ms * 1.05 || tried == 8) continue;
    ++tried;
    const nas::Timing t = nas::measure_latency(space.build(c.arch), table.options);
    fastest = std::min(fastest, t.ms);
    if (t.ms <= *o.max_latency_ms * 1.05) return {{c, t}};
  }
  throw Error("no searched architecture runs within --max-latency-ms " + fixed(*o.max_latency_ms, 3) +
              " ms on this CPU (the fastest on the front measured " +
              (fastest < 1e300 ? fixed(fastest, 3) + " ms" : fixed(front.front().latency_ms, 3) + " ms predicted") +
              ")");
}

TrainRecipe searched_recipe(const SearchOptions& o, const nas::SearchSpace& space, const SearchData& data,
                            const nas::Arch& arch, const SearchReport& r) {
  TrainRecipe rc;
  rc.model = nas::searched_model_name(space, arch);
  rc.input = data.d.train.sample_shape();
  rc.classes = data.d.train.num_classes;
  rc.epochs = r.supernet_epochs + o.finetune_epochs;
  rc.batch = o.batch.value_or(default_batch(data.split.train.size(), 128));
  rc.lr = o.lr.value_or(0.05 * double(rc.batch) / 128.0);
  rc.label_smoothing = 0.1;
  rc.seed = o.seed;
  rc.val = data.val;
  rc.limit = o.limit;
  rc.data = o.data;
  rc.precision = r.precision;
  rc.dropout = 0.1;
  return rc;
}

}  // namespace

std::vector<nas::Candidate> one_candidate(const SearchOptions& o, const nas::SearchSpace& space,
                                          const nas::Supernet& net, const nas::LatencyTable& table,
                                          const SearchData& data) {
  nas::Candidate c;
  c.arch = nas::arch_from_string(o.arch);
  c.latency_ms = table.predict(space, c.arch);
  c.accuracy =
      nas::inherited_accuracy(net, c.arch, data.split.train, data.split.val, data.norm, o.recalibration_images);
  c.method = "given";
  return {c};
}

void extract_stage(const SearchOptions& o, const nas::SearchSpace& space, const nas::Supernet& net,
                   const nas::LatencyTable& table, const SearchData& data, const std::vector<nas::Candidate>& pooled,
                   SearchReport& r) {
  const auto chosen = choose(o, space, table, feasible_front(o, pooled));
  for (size_t k = 0; k < chosen.size(); ++k) {
    const auto& [c, timing] = chosen[k];
    Model m(net.extract(c.arch), Preprocessing{255.0f, data.norm});
    train::recalibrate_batch_norm(m.graph, data.split.train, data.norm,
                                  std::max<int64_t>(o.recalibration_images, 5000));
    m.provenance.recipe = searched_recipe(o, space, data, c.arch, r);
    if (o.finetune_epochs > 0) {
      say(o.log, "extract: fine-tuning " + nas::arch_to_string(c.arch) + " for " + std::to_string(o.finetune_epochs) +
                     " epochs");
      train::TrainConfig tc = fine_tune_config(m, o.finetune_epochs, 0.01, o.seed, o.progress);
      tc.precision = r.precision;
      train::Trainer(m.graph, tc).fit(data.split.train, data.split.val, data.norm);
    }
    if (int64_t(data.d.class_names.size()) == m.num_classes()) m.class_names = data.d.class_names;
    SearchedModel s;
    s.arch = nas::arch_to_string(c.arch);
    s.path =
        path_in(o, o.arch.empty() ? "searched-" + std::to_string(k + 1) + ".nimble" : "arch-" + s.arch + ".nimble");
    s.val_accuracy_inherited = c.accuracy;
    s.predicted_latency_ms = c.latency_ms;
    s.measured_latency_ms = timing.ms;
    s.latency_noise = timing.noise;
    s.within_budget = !o.max_latency_ms || timing.ms <= *o.max_latency_ms * 1.05;
    s.params = m.graph.param_count();
    s.macs = m.graph.macs();
    m.provenance.metrics.val_accuracy = train::evaluate(m.graph, data.split.val, data.norm).accuracy;
    if (data.d.test.size() > 0) {
      s.test_accuracy = train::evaluate(m.graph, data.d.test, data.norm).accuracy;
      m.provenance.metrics.test_accuracy = s.test_accuracy;
    }
    m.save(s.path);
    say(o.log, "extract: " + s.path + "  " + s.arch + "  test accuracy " + fixed(100 * s.test_accuracy, 2) +
                   " %, batch-1 latency " + fixed(s.measured_latency_ms, 3) + " ms (predicted " +
                   fixed(s.predicted_latency_ms, 3) + ")");
    r.models.push_back(s);
  }
}

}  // namespace nimble::workflow::search_stages
