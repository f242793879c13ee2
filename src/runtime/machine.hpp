#pragma once
// This machine as reports name it: the CPU (from /proc/cpuinfo) and the instruction sets nimble's
// kernels care about. Internal.
#include <string>

namespace nimble {

struct CpuDescription {
  std::string name;           // "AMD EPYC"
  std::string family, model;  // "26", "2"
  std::string isa;            // "avx2 avx512f avx512_vnni avx512_bf16" (those present)
  int cores = 0;              // online CPUs this process may use
  std::string str() const;    // "AMD EPYC | family 26 model 2 | avx2 ..."
};

CpuDescription describe_cpu();

// Where nimble keeps what it measured about this machine for later runs (latency tables, kernel
// choices): $XDG_CACHE_HOME/nimble, else ~/.cache/nimble, else /tmp/nimble.
std::string user_cache_dir();

}  // namespace nimble
