// `nimble`: one command, one file per subcommand. Errors become one `error: ...` line on stderr
// and exit code 2; internal failures never print a stack trace.
#include <cstdio>
#include <exception>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/workflows/options.hpp"

int main(int argc, char** argv) {
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
    std::fprintf(stderr, "error: %s (see nimble --help)\n", e.what());
    return 2;
  } catch (const nimble::OptionError& e) {
    // The field as the flag that sets it; so are the fields its problem names.
    const std::string problem = nimble::spell_fields(e.problem(), nimble::cli::flag_for);
    std::fprintf(stderr, "error: %s %s\n", nimble::cli::flag_for(e.field()).c_str(), problem.c_str());
    return 2;
  } catch (const nimble::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
