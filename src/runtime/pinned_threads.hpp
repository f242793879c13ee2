#pragma once
// Pins OpenMP's worker threads, one to each CPU the process may run on, for the lifetime of the
// object, and restores their thread count and affinity after. Latency measurements use it so that
// the operating system does not move a thread mid-run. OpenMP reads OMP_PROC_BIND only at start-up;
// pinning the pool's threads directly works after it, because the runtime keeps its threads between
// parallel regions of the same size.
#include <vector>

namespace nimble {

class PinnedThreads {
 public:
  explicit PinnedThreads(int threads);  // 0: OpenMP's current count
  ~PinnedThreads();
  PinnedThreads(const PinnedThreads&) = delete;
  PinnedThreads& operator=(const PinnedThreads&) = delete;

  // Whether every thread took its CPU (false where the system refuses affinity changes).
  bool pinned() const { return pinned_; }
  // The CPU each thread was pinned to, by OpenMP thread number.
  const std::vector<int>& cpus() const { return cpus_; }

 private:
  int saved_threads_;
  std::vector<int> allowed_;  // the process's CPUs before pinning, restored after
  bool pinned_ = false;
  std::vector<int> cpus_;
};

}  // namespace nimble
