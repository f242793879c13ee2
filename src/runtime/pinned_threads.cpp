#include "runtime/pinned_threads.hpp"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>

#include "nimble/dist/communicator.hpp"

namespace nimble {

namespace {

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

bool pin_current_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

}  // namespace

PinnedThreads::PinnedThreads(int threads) : saved_threads_(omp_get_max_threads()) {
  if (threads > 0) omp_set_num_threads(threads);
  allowed_ = allowed_cpus();
  if (allowed_.empty()) return;
  const int team = omp_get_max_threads();
  // Ranks of an mpirun launch on this machine take consecutive CPUs, not all the same ones.
  const int first = dist::local_rank() * team;
  cpus_.resize(size_t(team));
  std::atomic<int> failures{0};
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    cpus_[size_t(t)] = allowed_[size_t(first + t) % allowed_.size()];
    if (!pin_current_thread({cpus_[size_t(t)]})) ++failures;
  }
  pinned_ = failures == 0;
}

PinnedThreads::~PinnedThreads() {
  if (!allowed_.empty()) {
#pragma omp parallel num_threads(int(cpus_.size()))
    pin_current_thread(allowed_);
  }
  omp_set_num_threads(saved_threads_);
}

}  // namespace nimble
