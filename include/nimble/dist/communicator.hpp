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
#include <future>
#include <string>

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
  // `bytes` bytes from rank `root` to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the run with `code` at once (an error on one rank must not leave the
  // others waiting in a collective).
  [[noreturn]] virtual void abort(int code) = 0;
  // A short description for logs: "MPI, 2 ranks on host-a, host-b".
  virtual std::string describe() const = 0;

  void allreduce_sum(float* data, int64_t n) { allreduce_sum_async(data, n).get(); }
  bool distributed() const { return size() > 1; }
  bool is_root() const { return rank() == 0; }
};

// This process's ranks. Throws Error when mpirun started more than one rank but this build has
// no MPI plugin (or the plugin cannot load).
Communicator& world();

// One rank on its own, whatever the launch: for work a rank does alone inside a distributed run.
Communicator& single_process();

// Ends MPI cleanly (every rank calls it before exiting; mpirun treats an exit without it as a
// failure). Nothing to do without MPI; safe to call twice.
void finalize();

}  // namespace nimble::dist
