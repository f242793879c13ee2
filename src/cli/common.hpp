#pragma once
// Shared pieces of the `nimble` subcommands: each parses its flags into a workflow's Options,
// makes one library call and prints the report.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"
#include "nimble/workflows/teacher.hpp"

namespace nimble::cli {

using json = nlohmann::json;

// Every subcommand registers itself with one of these.
void add_train(CLI::App& app);
void add_distill(CLI::App& app);
void add_eval(CLI::App& app);
void add_bench(CLI::App& app);
void add_models(CLI::App& app);
void add_info(CLI::App& app);
void add_quantize(CLI::App& app);
void add_prune(CLI::App& app);
void add_import(CLI::App& app);
void add_export(CLI::App& app);
void add_data(CLI::App& app);
void add_search(CLI::App& app);
void add_optimize(CLI::App& app);

// Validators with short messages (CLI11's own print the whole double range).
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// Runs parse(text) for the flag of `field`: a value it rejects is an OptionError naming the field.
template <class Parse> auto parse_field(const char* field, Parse parse) {
  return [field, parse](const std::string& text) {
    try {
      parse(text);
    } catch (const OptionError&) {
      throw;
    } catch (const Error& e) {
      throw OptionError(field, std::string("is not valid: ") + e.what());
    }
  };
}

// --data, --data-format and --skip-bad: where the images come from (`use`: what the command does
// with them, for --data's help).
// "0.485,0.456,0.406" -> its numbers; throws Error naming `flag` for anything else.
std::vector<float> parse_floats(const std::string& flag, const std::string& text);

void add_data_options(CLI::App* c, std::string& data, std::string& format, bool& skip_bad, int64_t& cache_mb,
                      const std::string& use);
// --precision NAME into `value` (auto | fp32 | bf16 | fp16; an unknown name is an error at parse time).
CLI::Option* add_precision_option(CLI::App* c, Precision& value);
// --sync-bn: synchronised batch-norm for a command's training under mpirun.
void add_sync_bn_flag(CLI::App* c, bool& value);
// --force: write --out even when it is one of the command's inputs.
void add_force_flag(CLI::App* c, bool& value);
// --teacher and its loss flags, on every command that trains (train, distill, prune, quantize).
void add_teacher_options(CLI::App* c, TeacherOptions& t);
// --json and the flag a workflow's progress bar obeys.
struct Output {
  bool json = false, quiet = false;
};
void add_output_options(CLI::App* c, Output& out, bool with_quiet);

// The flag an Options field is set by (OptionError::field, "{field}" in its problem).
std::string flag_for(const std::string& field);

// Prints the one JSON summary object on stdout.
void print_json(const std::string& json);
// The command line as typed (set by main), for reports that record it.
void set_command_line(int argc, char** argv);
const std::string& command_line();
// Status lines go to stderr so stdout stays machine-readable with --json.
void note(const std::string& line);

}  // namespace nimble::cli
