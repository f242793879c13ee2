// `nimble`: one command, one file per subcommand. Errors become one `error: ...` line on stderr
// and exit code 2; internal failures never print a stack trace. Under mpirun every rank runs the
// command; rank 0 speaks for the run, the others report only their errors, and an error on any
// rank ends every rank at once.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "nimble/workflows/options.hpp"

namespace {

int run(int argc, char** argv);

// Where errors go: stderr, or on ranks other than 0 (whose output is silenced) a copy of it.
FILE* errors = stderr;
std::string error_prefix = "error: ";

// Joins the ranks of an mpirun launch; rank 0 keeps stdout and stderr for the run's output.
void join_ranks() {
  const nimble::dist::Communicator& world = nimble::dist::world();
  if (!world.distributed()) return;
  error_prefix = "error: rank " + std::to_string(world.rank()) + " of " + std::to_string(world.size()) + ": ";
  if (world.is_root()) return;
  std::fflush(nullptr);
  const int saved = ::dup(2), null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved < 0 || null < 0) return;
  errors = ::fdopen(saved, "w");
  ::dup2(null, 1);
  ::dup2(null, 2);
  ::close(null);
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, reported like a full disk,
  // instead of the signal ending the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    join_ranks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  const int code = run(argc, argv);
  std::fflush(nullptr);
  if (code != 0 && nimble::dist::world().distributed()) nimble::dist::world().abort(code);
  nimble::dist::finalize();
  return code;
}

namespace {

int run(int argc, char** argv) {
  nimble::cli::set_command_line(argc, argv);
  CLI::App app{"nimble: make neural networks fast on the CPU you have"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nimble 0.1");
  nimble::cli::add_train(app);
  nimble::cli::add_eval(app);
  nimble::cli::add_bench(app);
  nimble::cli::add_models(app);
  nimble::cli::add_info(app);
  nimble::cli::add_quantize(app);
  nimble::cli::add_prune(app);
  nimble::cli::add_distill(app);
  nimble::cli::add_import(app);
  nimble::cli::add_export(app);
  nimble::cli::add_data(app);
  nimble::cli::add_search(app);
  nimble::cli::add_optimize(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(errors, "%s%s (see nimble --help)\n", error_prefix.c_str(), e.what());
    return 2;
  } catch (const nimble::OptionError& e) {
    // The field as the flag that sets it; so are the fields its problem names.
    const std::string problem = nimble::spell_fields(e.problem(), nimble::cli::flag_for);
    std::fprintf(errors, "%s%s %s\n", error_prefix.c_str(), nimble::cli::flag_for(e.field()).c_str(), problem.c_str());
    return 2;
  } catch (const nimble::Error& e) {
    std::fprintf(errors, "%s%s\n", error_prefix.c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(errors, "%sout of memory\n", error_prefix.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(errors, "%s%s\n", error_prefix.c_str(), e.what());
    return 2;
  }
  return 0;
}

}  // namespace
