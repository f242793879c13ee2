#pragma once
// The ranks of a data-parallel run. `nimble ...` under `mpirun -np N` runs N copies of the same
// command; world() tells each which rank it is and carries their collectives. Without mpirun
// world() is one rank whose collectives return at once, and MPI is never loaded: the MPI
// implementation lives in a plugin (libnimble_mpi.so, built when Open MPI is installed) that
// world() opens only when the process was started by mpirun.
//
// Every collective must be called by every rank in the same order (MPI's rule). One
// communication thread in the plugin makes every MPI call; the async form lets the caller go on
// (the trainer sums a bucket of gradients while backward computes the next).
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <vector>

namespace nimble::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums `n` values over the ranks, in place on every rank. The future is ready when `data`
  // holds the sum; `data` must stay untouched until then.
  virtual std::future<void> allreduce_sum_async(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_max(double* data, int64_t n) = 0;
  // `bytes` bytes from rank `root` to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the run with `code` at once (an error on one rank must not leave the
  // others waiting in a collective).
  [[noreturn]] virtual void abort(int code) = 0;
  // A short description for logs: "MPI, 2 ranks on host-a, host-b".
  virtual std::string describe() const = 0;
  virtual int hosts() const = 0;  // distinct machines the ranks run on

  void allreduce_sum(float* data, int64_t n) { allreduce_sum_async(data, n).get(); }
  bool distributed() const { return size() > 1; }
  bool is_root() const { return rank() == 0; }
};

// This process's ranks (one rank inside a RankLocal scope). Throws Error when mpirun started
// more than one rank but this build has no MPI plugin (or the plugin cannot load).
Communicator& world();

// This process's place among the ranks on its machine (0 without mpirun): from the launcher's
// environment, so it holds inside a RankLocal scope too.
int local_rank();

// The threads the ranks on this machine have together (OpenMP's count times the launcher's ranks
// on this machine, at most its processors): what a model deployed here would run on. A latency
// measured under mpirun uses them all, as one process would.
int machine_threads();

// One rank on its own, whatever the launch.
Communicator& single_process();

// Rank 0's values of a measurement every rank made, on every rank: decisions taken from timings
// (a kernel, a precision, a pruning plan) must come out the same on every rank, which measure on
// their own cores. `values` must have the same size on every rank. Nothing happens on one rank.
void take_rank0_values(std::vector<double>& values);

// Rank 0 writes the files a run hands on (a stage's result, a table); the other ranks read them. A
// rank that decides from such a file whether to reuse or redo a stage calls this after reading it:
// no rank then finds a file rank 0 wrote later in the run. (A broadcast returns on rank 0 before
// the others arrive, so a lagging rank could otherwise read rank 0's new file, take the other
// branch and call other collectives.) A barrier; nothing happens on one rank.
void all_ranks_have_read();

// Runs work(i) for every i in [0, n) and returns, on every rank, the `width` values each call
// wrote (item i's at i * width). Under mpirun the items are dealt out to the ranks (item i to rank
// i mod N), each run by its rank alone (RankLocal), and the values summed back. `timing` work
// (latency measurements, which must not share the cores) runs on rank 0 alone while the others
// wait, item by item, so that a table of times is one machine's, measured as one process would.
// Every rank must call it with the same n and width.
std::vector<double> deal_out(int64_t n, int64_t width, const std::function<void(int64_t i, double* out)>& work,
                             bool timing);

// Work this thread's rank does alone (its share of a split job, e.g. some of a search's
// candidates): while one is alive, world() on this thread is a single process, so training,
// evaluation, calibration and measurements inside it neither split nor wait for other ranks.
class RankLocal {
 public:
  RankLocal();
  ~RankLocal();
  RankLocal(const RankLocal&) = delete;
  RankLocal& operator=(const RankLocal&) = delete;
  static bool active();
};

// Ends MPI cleanly (every rank calls it before exiting; mpirun treats an exit without it as a
// failure). Nothing to do without MPI; safe to call twice.
void finalize();

}  // namespace nimble::dist
