#include "runtime/machine.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <fstream>

namespace nimble {

namespace {

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

std::string CpuDescription::str() const { return name + " | family " + family + " model " + model + " | " + isa; }

std::string user_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/nimble";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/nimble";
  return "/tmp/nimble";
}

namespace {
// A "/proc/meminfo"-style "Key:   123 kB" value in bytes, or -1.
int64_t meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1) * 1024;
  return -1;
}

int64_t file_number(const std::string& path) {
  std::ifstream in(path);
  std::string v;
  if (!(in >> v) || v == "max") return -1;
  return std::atoll(v.c_str());
}
}  // namespace

MemoryRoom memory_room() {
  MemoryRoom room{meminfo_bytes("MemAvailable"), "available memory"};
  if (room.bytes < 0) room.bytes = INT64_MAX;
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    std::ifstream statm("/proc/self/statm");
    int64_t pages = 0;
    statm >> pages;
    const int64_t left = int64_t(as.rlim_cur) - pages * int64_t(sysconf(_SC_PAGESIZE));
    if (left < room.bytes) room = {std::max<int64_t>(left, 0), "ulimit -v"};
  }
  const int64_t max = file_number("/sys/fs/cgroup/memory.max"), used = file_number("/sys/fs/cgroup/memory.current");
  if (max > 0 && used >= 0 && max - used < room.bytes) room = {std::max<int64_t>(max - used, 0), "the cgroup limit"};
  return room;
}

double peak_resident_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

OthersCpuShare::OthersCpuShare() : start_(now()) {}

OthersCpuShare::Sample OthersCpuShare::now() {
  Sample s;
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  s.own_seconds = double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  std::ifstream in("/proc/stat");
  std::string cpu;
  // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
  double v[8] = {};
  if (!(in >> cpu) || cpu != "cpu") return s;
  for (double& x : v)
    if (!(in >> x)) return s;
  s.busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  s.total_ticks = s.busy_ticks + v[3] + v[4];
  return s;
}

double OthersCpuShare::fraction() const {
  const Sample end = now();
  const double total = end.total_ticks - start_.total_ticks;
  if (start_.busy_ticks < 0 || end.busy_ticks < 0 || total < 4) return -1;
  const double own_ticks = (end.own_seconds - start_.own_seconds) * double(sysconf(_SC_CLK_TCK));
  return std::clamp((end.busy_ticks - start_.busy_ticks - own_ticks) / total, 0.0, 1.0);
}

CpuDescription describe_cpu() {
  CpuDescription d;
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    auto value = [&] { return trimmed(line.substr(line.find(':') + 1)); };
    if (d.name.empty() && line.rfind("model name", 0) == 0) d.name = value();
    if (d.family.empty() && line.rfind("cpu family", 0) == 0) d.family = value();
    if (d.model.empty() && line.rfind("model\t", 0) == 0) d.model = value();
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = value();
  }
  for (const char* f : {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"})
    if ((" " + flags + " ").find(std::string(" ") + f + " ") != std::string::npos)
      d.isa += (d.isa.empty() ? "" : " ") + std::string(f);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) d.cores = CPU_COUNT(&set);
  return d;
}

}  // namespace nimble
