#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"

namespace nimble::dist {
namespace {

// One rank: every collective is already complete.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::future<void> allreduce_sum_async(float*, int64_t) override {
    std::promise<void> done;
    done.set_value();
    return done.get_future();
  }
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_max(double*, int64_t) override {}
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
  std::string describe() const override { return "one process"; }
  int hosts() const override { return 1; }
};

// The rank count mpirun (or another PMI launcher) gave this process, or 0 when none did.
int launcher_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* v = std::getenv(var)) return std::atoi(v);
  return 0;
}

// libnimble_mpi.so beside this library (or NIMBLE_MPI_PLUGIN).
std::string plugin_path() {
  if (const char* p = std::getenv("NIMBLE_MPI_PLUGIN")) return p;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&launcher_size), &info) == 0 || !info.dli_fname) return "libnimble_mpi.so";
  std::string self = info.dli_fname;
  const size_t slash = self.rfind('/');
  return (slash == std::string::npos ? std::string() : self.substr(0, slash + 1)) + "libnimble_mpi.so";
}

std::unique_ptr<Communicator> open_world() {
  const int ranks = launcher_size();
  if (ranks <= 1) return std::make_unique<SingleProcess>();
  const std::string path = plugin_path();
  // RTLD_GLOBAL: Open MPI's own components, opened by libmpi, look their symbols up globally.
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  const char* why = lib ? nullptr : dlerror();
  NIMBLE_CHECK(lib, "started by mpirun with " + std::to_string(ranks) + " ranks, but this nimble has no MPI support (" +
                        (why ? why : path) + "); install libopenmpi-dev and rebuild");
  using Make = Communicator* (*)();
  auto make = reinterpret_cast<Make>(dlsym(lib, "nimble_mpi_communicator"));
  NIMBLE_CHECK(make, path + " is not nimble's MPI plugin (no nimble_mpi_communicator)");
  std::unique_ptr<Communicator> world(make());
  NIMBLE_CHECK(world->size() == ranks,
               "MPI reports " + std::to_string(world->size()) + " ranks but the launcher " + std::to_string(ranks));
  return world;
}

std::once_flag opened;
std::unique_ptr<Communicator> the_world;
std::mutex finalize_mu;

thread_local int rank_local_depth = 0;

}  // namespace

Communicator& world() {
  if (rank_local_depth > 0) return single_process();
  std::call_once(opened, [] {
    the_world = open_world();
    if (the_world->distributed()) std::atexit(finalize);
  });
  NIMBLE_ASSERT(the_world, "dist::world() after dist::finalize()");
  return *the_world;
}

int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var)) return std::max(0, std::atoi(v));
  return 0;
}

int machine_threads() {
  int ranks_here = 1;
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var)) {
      ranks_here = std::max(1, std::atoi(v));
      break;
    }
  const int threads = omp_get_max_threads();
  return ranks_here == 1 ? threads : std::min(threads * ranks_here, omp_get_num_procs());
}

Communicator& single_process() {
  static SingleProcess one;
  return one;
}

RankLocal::RankLocal() { ++rank_local_depth; }
RankLocal::~RankLocal() { --rank_local_depth; }
bool RankLocal::active() { return rank_local_depth > 0; }

void take_rank0_values(std::vector<double>& values) {
  Communicator& comm = world();
  if (comm.distributed()) comm.broadcast(values.data(), int64_t(values.size() * sizeof(double)), 0);
}

void all_ranks_have_read() {
  Communicator& comm = world();
  if (comm.distributed()) comm.barrier();
}

std::vector<double> deal_out(int64_t n, int64_t width, const std::function<void(int64_t, double*)>& work, bool timing) {
  Communicator& comm = world();
  std::vector<double> out(size_t(n * width), 0.0);
  if (!comm.distributed()) {
    for (int64_t i = 0; i < n; ++i) work(i, out.data() + i * width);
  } else if (timing) {
    // One collective per item: the waiting ranks never wait for a whole table at once.
    for (int64_t i = 0; i < n; ++i) {
      if (comm.is_root()) {
        const RankLocal alone;
        work(i, out.data() + i * width);
      }
      comm.broadcast(out.data() + i * width, width * int64_t(sizeof(double)), 0);
    }
  } else {
    for (int64_t i = comm.rank(); i < n; i += comm.size()) {
      const RankLocal alone;
      work(i, out.data() + i * width);
    }
    comm.allreduce_sum(out.data(), int64_t(out.size()));
  }
  return out;
}

void finalize() {
  std::lock_guard lk(finalize_mu);
  the_world.reset();  // the MPI communicator's destructor finalizes MPI on its thread
}

}  // namespace nimble::dist
