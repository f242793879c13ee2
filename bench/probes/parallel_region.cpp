// Probe: what one OpenMP parallel region costs on this machine, the floor under every
// multi-threaded primitive call. A batch-1 int8 model of ten convolutions (each 1-6 us on one
// thread) runs on two threads only if this is well under a microsecond. On the Zen 5 VM (2 vCPUs,
// 2026-12-06) an empty region took 2.8 us (p50) with libgomp's default spinning, 2.9 us with
// OMP_WAIT_POLICY=active and 22.8 us with passive; the int8 resnet-8 student then ran 66-81 us on
// two threads against 29-31 us on one (docs/results.md, Batch-1 threads).
//   g++ -O2 -fopenmp bench/probes/parallel_region.cpp -o /tmp/parallel_region && OMP_NUM_THREADS=2 /tmp/parallel_region
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main() {
  constexpr int kRegions = 20000;
  std::vector<int> seen(size_t(omp_get_max_threads()), 0);
  std::vector<double> us;
  us.reserve(kRegions);
  for (int i = 0; i < kRegions; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
    seen[size_t(omp_get_thread_num())] += 1;
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("%d threads, %d empty parallel regions: p10 %.2f  p50 %.2f  p90 %.2f us (thread 0 ran %d)\n",
              omp_get_max_threads(), kRegions, us[kRegions / 10], us[kRegions / 2], us[kRegions * 9 / 10], seen[0]);
  return 0;
}
