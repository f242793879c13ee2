#pragma once
// This machine as reports name it: the CPU (from /proc/cpuinfo) and the instruction sets nimble's
// kernels care about. Internal.
#include <cstdint>
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

// Memory this process can still take, in bytes: the least of the machine's available memory, the
// address space left under its limit (ulimit -v) and its cgroup's memory limit left.
struct MemoryRoom {
  int64_t bytes = 0;
  std::string bound;  // which of the three it is: "available memory", "ulimit -v", "the cgroup limit"
};
MemoryRoom memory_room();
// The most this process has held resident so far, in MiB (getrusage).
double peak_resident_mib();

// How much of the machine's CPU time other processes took since construction (0..1): the busy
// time /proc/stat counts over all CPUs, less this process's own, over all CPUs' time. A timing
// taken while it is high measured the scheduler, not the code. -1 when /proc/stat is unreadable
// or too little time passed to tell (its ticks are 10 ms).
class OthersCpuShare {
 public:
  OthersCpuShare();
  double fraction() const;

 private:
  struct Sample {
    double busy_ticks = -1, total_ticks = 0, own_seconds = 0;
  };
  static Sample now();
  Sample start_;
};

}  // namespace nimble
