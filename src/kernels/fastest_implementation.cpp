#include "kernels/fastest_implementation.hpp"

#include <fcntl.h>
#include <omp.h>
#include <sys/file.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "io/atomic_file.hpp"
#include "io/content_hash.hpp"
#include "kernels/kernel_choices.hpp"
#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "runtime/machine.hpp"

namespace nimble::kernels {
namespace {

constexpr size_t kMaxCandidates = 8;

std::string describe(const md& d) {
  const dnnl_memory_desc_t& c = d.data;
  std::string s = std::to_string(int(c.data_type)) + ":";
  for (int i = 0; i < c.ndims; ++i) s += std::to_string(c.dims[i]) + "x";
  if (c.format_kind == dnnl_blocked) {
    const auto& b = c.format_desc.blocking;
    s += "/";
    for (int i = 0; i < c.ndims; ++i) s += std::to_string(b.strides[i]) + ",";
    for (int i = 0; i < b.inner_nblks; ++i)
      s += std::to_string(b.inner_idxs[i]) + "b" + std::to_string(b.inner_blks[i]);
  }
  return s;
}

// What decides the candidate list and their speed: primitive kind, first choice, every
// argument's layout, post-op kinds.
std::string cache_key(const dnnl::primitive_desc_base& pd, const std::vector<int>& args) {
  std::string key = std::to_string(int(pd.get_kind())) + "|" + pd.impl_info_str();
  for (int a : args) key += "|" + std::to_string(a) + "=" + describe(pd.query_md(dnnl::query::exec_arg_md, a));
  const dnnl::primitive_attr attr = pd.get_primitive_attr();  // post_ops below borrow from it
  const dnnl::post_ops po = attr.get_post_ops();
  for (int i = 0; i < po.len(); ++i) key += "|po" + std::to_string(int(po.kind(i)));
  return key;
}

// "brgconv_1x1:avx512_core_vnni" -> "avx512": candidates built for an older ISA family than
// oneDNN's first choice (avx2, sse41 kernels on an AVX-512 machine) never won when timed, and
// generic gemm- and reference-based ones neither; skipping them keeps compiling cheap.
std::string isa_family(const std::string& impl) {
  const size_t colon = impl.find(':');
  if (colon == std::string::npos) return "";
  const std::string isa = impl.substr(colon + 1);
  return isa.substr(0, isa.find('_'));
}

bool worth_timing(const std::string& impl, const std::string& first_family) {
  return impl.rfind("ref", 0) != 0 && impl.find("gemm") == std::string::npos && isa_family(impl) == first_family;
}

// Index of the fastest candidate. All run in alternation (each round calls every candidate in
// turn), so that this machine's drift between seconds cannot favour one; each keeps its best
// round. A round lasts about a millisecond per candidate; one whose best of three first calls is
// over twice the fastest's is dropped.
size_t fastest_index(const std::vector<Candidate>& candidates) {
  struct Step {
    dnnl::primitive prim;
    std::unordered_map<int, dnnl::memory> mem;
  };
  struct Run {
    std::vector<Step> steps;  // the candidate's `before` primitives, then its own
    double best_ms = 0;
    int reps = 1;
    bool dropped = false;
  };
  dnnl::engine& eng = cpu_engine();
  dnnl::stream s(eng);
  using clock = std::chrono::steady_clock;
  auto timed = [&](Run& r, int calls) {
    const auto t0 = clock::now();
    for (int i = 0; i < calls; ++i)
      for (Step& step : r.steps) step.prim.execute(s, step.mem);
    s.wait();
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count() / calls;
  };
  auto step_of = [&](const Candidate& c) {
    Step step{dnnl::primitive(c.pd.get()), {}};
    for (int a : c.args) {
      const md d = c.pd.query_md(dnnl::query::exec_arg_md, a);
      if (d.is_zero()) continue;
      dnnl::memory m(d, eng);
      std::memset(m.get_data_handle(), 0, d.get_size());
      step.mem.emplace(a, m);
    }
    return step;
  };
  std::vector<Run> runs;
  double fastest_first = 1e30;
  for (const Candidate& c : candidates) {
    Run r;
    for (const Candidate& b : c.before) r.steps.push_back(step_of(b));
    r.steps.push_back(step_of(c));
    timed(r, 1);  // first call: page faults, caches
    // The least of three single calls: one call slowed by an interrupt could drop the faster
    // candidate for good (choices are cached). Once an int8 resnet-8 ran a 28x28 16-channel
    // convolution on oneDNN's brgconv (7.7-7.9 us in the model) rather than jit_int8 (5.7-6.0 us),
    // which every timing here puts well ahead (AMD Zen 5; docs/results.md, "Runtime overhead at
    // batch 1").
    r.best_ms = std::min({timed(r, 1), timed(r, 1), timed(r, 1)});
    r.reps = std::clamp(int(1.0 / std::max(r.best_ms, 1e-3)), 1, 20);
    fastest_first = std::min(fastest_first, r.best_ms);
    runs.push_back(std::move(r));
  }
  for (Run& r : runs) r.dropped = r.best_ms > 2 * fastest_first;
  for (int round = 0; round < 3; ++round)
    for (Run& r : runs)
      if (!r.dropped) r.best_ms = std::min(r.best_ms, timed(r, r.reps));
  size_t best = 0;
  for (size_t i = 1; i < runs.size(); ++i)
    if (runs[i].best_ms < runs[best].best_ms) best = i;
  return best;
}

// NIMBLE_KERNEL_CHOICE: "first" keeps oneDNN's own choice, "last" takes the last candidate
// (tests use both to reach each path whatever this machine's timings say); read at every call.
enum class Override { none, first, last };
Override override_choice() {
  const char* v = std::getenv("NIMBLE_KERNEL_CHOICE");
  if (!v) return Override::none;
  const std::string s(v);
  return s == "first" ? Override::first : s == "last" ? Override::last : Override::none;
}

std::mutex cache_mutex;
std::unordered_map<std::string, int> cache;  // key -> chosen index
// The keys this process computed with (or adopted from a checkpoint): what a checkpoint records,
// not the whole machine file, whose other entries come and go with other processes.
std::set<std::string> used;

// The choices on disk: one file per CPU, library build and thread count, so that a choice is
// timed once on a machine and every later process computes with the same kernels — two runs of
// one command then give the same bits (a choice flips between runs on a busy machine otherwise).
// NIMBLE_KERNEL_CACHE=off keeps choices per process.
std::string disk_path() {
  const char* v = std::getenv("NIMBLE_KERNEL_CACHE");
  if (v && std::string(v) == "off") return "";
  static const std::string machine = describe_cpu().str() + " | " + io::library_identity();
  const std::string who = machine + " | threads " + std::to_string(omp_get_max_threads());
  return user_cache_dir() + "/kernels/" + io::hex(io::fnv1a(who)) + ".json";
}

std::map<std::string, int> read_disk(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  try {
    return nlohmann::json::parse(in).get<std::map<std::string, int>>();
  } catch (const nlohmann::json::exception&) {
    return {};  // damaged: timed again and rewritten
  }
}

// With the thread count: a choice holds for the team it was timed with.
std::string with_threads(const std::string& key) { return key + "|t" + std::to_string(omp_get_max_threads()); }

std::set<std::string> loaded_files;  // disk files already taken into `cache`

int cached(const std::string& key) {
  const std::string k = with_threads(key);
  std::lock_guard<std::mutex> lock(cache_mutex);
  // The machine's file is read once per thread count; choices made in this process stand.
  if (const std::string path = disk_path(); !path.empty() && loaded_files.insert(path).second)
    for (const auto& [key_on_disk, choice] : read_disk(path)) cache.emplace(key_on_disk, choice);
  auto it = cache.find(k);
  if (it == cache.end()) return -1;
  used.insert(k);
  return it->second;
}

// Holds an exclusive lock on `path`.lock while alive, so that processes timing the same kernel at
// once agree on one choice: read, add and write happen under it. Without a lock (unwritable
// directory) the first writer usually still wins; the cache is advisory.
class FileLock {
 public:
  explicit FileLock(const std::string& path)
      : fd_(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  int fd_;
};

// Keeps `index` unless another process chose first for this key (then returns its choice).
int remember(const std::string& key, int index) {
  const std::string k = with_threads(key);
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (const std::string path = disk_path(); !path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const FileLock lock_file(path);
    std::map<std::string, int> disk = read_disk(path);
    auto [it, added] = disk.emplace(k, index);
    index = it->second;
    if (added) {
      try {
        const dist::RankLocal every_rank;  // not a collective: whichever rank compiles writes
        io::write_file_atomically(path, nlohmann::json(disk).dump(1));
      } catch (const Error&) {
        // An unwritable cache only costs the next process a timing.
      }
    }
  }
  cache[k] = index;
  used.insert(k);
  return index;
}

}  // namespace

void use_fastest_implementation(dnnl::primitive_desc& pd, const std::vector<int>& args) {
  const Override o = override_choice();
  if (o == Override::first) return;
  const std::string key = "impl|" + cache_key(pd, args);
  int pick = o == Override::none ? cached(key) : -1;
  if (pick >= 0) {
    for (int i = 0; i < pick; ++i) pd.next_impl();
    return;
  }
  const md src = pd.src_desc(), dst = pd.dst_desc();
  const std::string family = isa_family(pd.impl_info_str());
  std::vector<Candidate> candidates{{pd, args}};
  std::vector<dnnl::primitive_desc> pds{pd};  // the same, as op descriptors
  std::vector<int> index_of{0};               // position in oneDNN's list
  dnnl::primitive_desc probe = pd;            // copies keep their implementation as `probe` moves on
  for (int index = 1; candidates.size() < kMaxCandidates && probe.next_impl(); ++index) {
    if (!worth_timing(probe.impl_info_str(), family)) continue;
    if (!(probe.src_desc() == src) || !(probe.dst_desc() == dst)) continue;
    candidates.push_back({probe, args});
    pds.push_back(probe);
    index_of.push_back(index);
  }
  size_t best = o == Override::last ? candidates.size() - 1 : fastest_index(candidates);
  if (o == Override::none) {
    const int kept = remember(key, index_of[best]);
    if (kept != index_of[best]) {  // another process's choice
      for (int i = 0; i < kept; ++i) pd.next_impl();
      return;
    }
  }
  pd = pds[best];
}

std::string kernel_choices_json() {
  std::lock_guard<std::mutex> lock(cache_mutex);
  std::map<std::string, int> sorted;  // the same text for the same choices
  for (const std::string& k : used) sorted.emplace(k, cache.at(k));
  return nlohmann::json(sorted).dump();
}

void adopt_kernel_choices(const std::string& json) {
  std::map<std::string, int> choices;
  try {
    choices = nlohmann::json::parse(json).get<std::map<std::string, int>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("kernel choices: ") + e.what());
  }
  std::lock_guard<std::mutex> lock(cache_mutex);
  for (const auto& [key, choice] : choices) {
    NIMBLE_CHECK(choice >= 0, "kernel choices: a negative choice for " + key);
    cache[key] = choice;
    used.insert(key);
  }
}

size_t fastest_of(const std::vector<Candidate>& candidates) {
  const Override o = override_choice();
  if (o == Override::first || candidates.size() < 2) return 0;
  if (o == Override::last) return candidates.size() - 1;
  std::string key = "of";
  for (const Candidate& c : candidates) {
    key += "#" + cache_key(c.pd, c.args);
    for (const Candidate& b : c.before) key += "<" + cache_key(b.pd, b.args);
  }
  const int pick = cached(key);
  if (pick >= 0 && size_t(pick) < candidates.size()) return size_t(pick);
  const int kept = remember(key, int(fastest_index(candidates)));
  return size_t(std::min<int>(kept, int(candidates.size()) - 1));
}

}  // namespace nimble::kernels
