// libnimble_mpi.so: dist::Communicator over MPI, opened by dist::world() only under mpirun so
// that single-process nimble never loads MPI. One thread initializes MPI, makes every MPI call
// (MPI_THREAD_FUNNELED) and finalizes it; callers queue work to it. A watchdog ends the run when a
// collective waits longer than NIMBLE_DIST_TIMEOUT seconds (default 300): a rank that died or hangs
// must not leave the others waiting forever.
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, size_t(len));
}

class MpiCommunicator final : public nimble::dist::Communicator {
 public:
  MpiCommunicator() {
    if (const char* t = std::getenv("NIMBLE_DIST_TIMEOUT")) timeout_s_ = std::max(1, std::atoi(t));
    thread_ = std::thread([this] { run(); });
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return started_; });
    if (!init_error_.empty()) {
      lk.unlock();
      thread_.join();
      throw nimble::Error(init_error_);
    }
    watchdog_ = std::thread([this] { watch(); });
  }

  ~MpiCommunicator() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    watchdog_.join();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::future<void> allreduce_sum_async(float* data, int64_t n) override {
    return submit("allreduce", [=] {
      MPI_Request r;
      check(MPI_Iallreduce(MPI_IN_PLACE, data, int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r));
      complete(r);
    });
  }
  void allreduce_sum(double* data, int64_t n) override {
    submit("allreduce", [=] {
      MPI_Request r;
      check(MPI_Iallreduce(MPI_IN_PLACE, data, int(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r));
      complete(r);
    }).get();
  }
  void allreduce_max(double* data, int64_t n) override {
    submit("allreduce", [=] {
      MPI_Request r;
      check(MPI_Iallreduce(MPI_IN_PLACE, data, int(n), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &r));
      complete(r);
    }).get();
  }
  void broadcast(void* data, int64_t bytes, int root) override {
    submit("broadcast", [=] {
      MPI_Request r;
      check(MPI_Ibcast(data, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD, &r));
      complete(r);
    }).get();
  }
  void barrier() override {
    submit("barrier", [] {
      MPI_Request r;
      check(MPI_Ibarrier(MPI_COMM_WORLD, &r));
      complete(r);
    }).get();
  }
  [[noreturn]] void abort(int code) override {
    // Exiting without MPI_Finalize makes mpirun end every other rank (MPI_Abort from this
    // thread would break the one-thread rule while the MPI thread may sit in a collective).
    std::fflush(nullptr);
    std::_Exit(code);
  }
  int hosts() const override { return int(hosts_.size()); }
  std::string describe() const override {
    std::string hosts;
    for (const std::string& h : hosts_) hosts += (hosts.empty() ? "" : ", ") + h;
    return "MPI, " + std::to_string(size_) + " ranks on " + hosts;
  }

 private:
  static void check(int code) {
    if (code != MPI_SUCCESS) throw nimble::Error("MPI: " + mpi_error(code));
  }

  // Waits for a collective. A short wait yields the core; a long one (another rank timing a model
  // on every core of the machine, or far behind) sleeps between polls so that it takes no CPU time
  // from the ranks that compute.
  static void complete(MPI_Request& request) {
    const auto start = Clock::now();
    for (;;) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
      if (done) return;
      if (Clock::now() - start < std::chrono::milliseconds(2))
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  std::future<void> submit(const char* what, std::function<void()> work) {
    std::packaged_task<void()> task(std::move(work));
    std::future<void> done = task.get_future();
    {
      std::lock_guard lk(mu_);
      queue_.push_back({what, std::move(task)});
    }
    cv_.notify_all();
    return done;
  }

  void run() {
    // A rank waiting in a collective yields its core: the ranks' compute threads share the cores
    // with this thread (Open MPI otherwise spins).
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);
    int provided = 0;
    int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (code == MPI_SUCCESS) {
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
      MPI_Comm_size(MPI_COMM_WORLD, &size_);
      char name[MPI_MAX_PROCESSOR_NAME] = {};
      int len = 0;
      MPI_Get_processor_name(name, &len);
      std::vector<char> all(size_t(size_) * MPI_MAX_PROCESSOR_NAME);
      code = MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                           MPI_COMM_WORLD);
      std::set<std::string> seen;
      for (int r = 0; r < size_; ++r) {
        const std::string h(all.data() + size_t(r) * MPI_MAX_PROCESSOR_NAME);
        if (seen.insert(h).second) hosts_.push_back(h);
      }
    }
    {
      std::lock_guard lk(mu_);
      if (code != MPI_SUCCESS) init_error_ = "MPI could not start: " + mpi_error(code);
      started_ = true;
    }
    cv_.notify_all();
    if (code != MPI_SUCCESS) return;
    for (;;) {
      Work w;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;
        w = std::move(queue_.front());
        queue_.pop_front();
        busy_what_ = w.what;
      }
      busy_since_ns_ = Clock::now().time_since_epoch().count();
      w.task();  // an MPI error reaches the caller through the future
      busy_since_ns_ = 0;
    }
    MPI_Finalize();
  }

  void watch() {
    for (;;) {
      std::string what;
      {
        std::unique_lock lk(mu_);
        if (cv_.wait_for(lk, std::chrono::milliseconds(500), [&] { return stopping_ && queue_.empty(); })) return;
        what = busy_what_;
      }
      const int64_t since = busy_since_ns_;
      if (since == 0) continue;
      const double waited =
          std::chrono::duration<double>(Clock::now().time_since_epoch() - Clock::duration(since)).count();
      if (waited > timeout_s_) {
        std::fprintf(stderr,
                     "error: rank %d of %d: an MPI %s has waited %.0f s for the other ranks (one may have died or "
                     "hung; NIMBLE_DIST_TIMEOUT sets the limit); ending the run\n",
                     rank_, size_, what.c_str(), waited);
        abort(3);
      }
    }
  }

  struct Work {
    std::string what;
    std::packaged_task<void()> task;
  };

  int rank_ = 0, size_ = 1;
  int timeout_s_ = 300;
  std::vector<std::string> hosts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  bool started_ = false, stopping_ = false;
  std::string init_error_, busy_what_;
  std::atomic<int64_t> busy_since_ns_{0};
  std::thread thread_, watchdog_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) nimble::dist::Communicator* nimble_mpi_communicator() {
  return new MpiCommunicator();
}
