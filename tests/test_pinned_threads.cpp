// PinnedThreads (src/runtime/pinned_threads.hpp): inside its scope every OpenMP thread runs on
// exactly one CPU and the team has the requested size; after it the threads may again run on every
// CPU they had and the thread count is back.
#include <gtest/gtest.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <vector>

#include "runtime/pinned_threads.hpp"

namespace nimble {
namespace {

std::vector<int> cpus_of_each_thread(int team) {
  std::vector<int> counts(size_t(team), -1);
#pragma omp parallel num_threads(team)
  {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) == 0)
      counts[size_t(omp_get_thread_num())] = CPU_COUNT(&set);
  }
  return counts;
}

TEST(PinnedThreads, PinsEachThreadToOneCpuAndRestores) {
  cpu_set_t process;
  CPU_ZERO(&process);
  ASSERT_EQ(sched_getaffinity(0, sizeof(process), &process), 0);
  const int available = CPU_COUNT(&process);
  const int before = omp_get_max_threads();
  {
    const PinnedThreads pin(2);
    EXPECT_EQ(omp_get_max_threads(), 2);
    ASSERT_TRUE(pin.pinned());
    ASSERT_EQ(pin.cpus().size(), 2u);
    for (int c : pin.cpus()) EXPECT_TRUE(CPU_ISSET(c, &process)) << c;
    if (available >= 2) {
      EXPECT_NE(pin.cpus()[0], pin.cpus()[1]);
    }
    for (int n : cpus_of_each_thread(2)) EXPECT_EQ(n, 1);
  }
  EXPECT_EQ(omp_get_max_threads(), before);
  for (int n : cpus_of_each_thread(2)) EXPECT_EQ(n, available);
}

}  // namespace
}  // namespace nimble
