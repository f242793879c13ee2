#include "runtime/machine.hpp"

#include <sched.h>

#include <cstdlib>
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
