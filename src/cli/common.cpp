#include "cli/common.hpp"

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "nimble/core/error.hpp"

namespace nimble::cli {

namespace {
CLI::Validator number_at_least(double lo, bool strict, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "'" + text + "' is not a number";
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        if (!(strict ? v > lo : v >= lo)) return "must be " + what + ", got " + text;
        return "";
      },
      what);
}
}  // namespace

CLI::Validator positive_number() { return number_at_least(0, true, "positive"); }
CLI::Validator non_negative_number() { return number_at_least(0, false, "non-negative"); }

CLI::Option* add_precision_option(CLI::App* c, Precision& value) {
  return c
      ->add_option_function<std::string>(
          "--precision",
          parse_field("precision", [&value](const std::string& name) { value = precision_from_name(name); }),
          "auto | fp32 | bf16 | fp16 (auto: bf16 where this CPU runs it natively and a timed step of this model is "
          "faster in it, else fp32)")
      ->default_str("auto");
}

void add_sync_bn_flag(CLI::App* c, bool& value) {
  c->add_flag("--sync-bn", value,
              "under mpirun: batch-norm statistics over the whole batch, not each rank's slice (docs/distributed.md)");
}

void add_force_flag(CLI::App* c, bool& value) {
  c->add_flag("--force", value, "write --out even when it is one of this command's inputs (replacing it)");
}

void add_teacher_options(CLI::App* c, TeacherOptions& t) {
  c->add_option("--teacher", t.teacher, "distil from this trained model (.nimble or .onnx)");
  c->add_option("--temperature", t.temperature, "softmax temperature of the soft targets")->capture_default_str();
  c->add_option("--alpha", t.alpha,
                "weight of the soft-target loss (the hard-label loss gets 1 - alpha; 0: plain training)")
      ->capture_default_str();
  c->add_option("--hint", t.hints,
                "feature distillation from a teacher layer to a student layer through a learned 1x1 adapter: "
                "teacher_layer:student_layer (repeatable)");
  c->add_option("--hint-weight", t.hint_weight, "weight of each hint loss")->capture_default_str();
  c->add_option("--hint-lr", t.hint_lr, "learning rate of the hint adapters (SGD, momentum 0.9)")
      ->capture_default_str();
  c->add_flag("--cache-teacher", t.cache, "compute the teacher's logits once for all epochs (needs augmentation off)");
  c->add_option_function<std::string>(
       "--teacher-precision",
       parse_field("teacher.form", [&t](const std::string& name) { t.form = distill::teacher_form_from_name(name); }),
       "auto (the fastest of fp32 / bf16 / int8 that keeps the teacher's validation accuracy) | fp32 | bf16 | int8")
      ->default_str("auto");
}

void add_output_options(CLI::App* c, Output& out, bool with_quiet) {
  c->add_flag("--json", out.json, "print one JSON summary object on stdout");
  if (with_quiet) c->add_flag("--quiet", out.quiet, "no progress output");
}

std::string flag_for(const std::string& field) {
  static const std::map<std::string, std::string> special = {{"teacher.teacher", "--teacher"},
                                                             {"teacher.form", "--teacher-precision"},
                                                             {"teacher.cache", "--cache-teacher"},
                                                             {"teacher.hints", "--hint"},
                                                             {"zoo_model", "--model"},
                                                             {"speed_gate", "--no-speed-gate"},
                                                             {"no_teacher", "--teacher none"},
                                                             {"from_stage", "--from"}};
  if (auto it = special.find(field); it != special.end()) return it->second;
  std::string name = field.rfind("teacher.", 0) == 0 ? field.substr(8) : field;
  for (char& ch : name)
    if (ch == '_') ch = '-';
  return "--" + name;
}

void print_json(const std::string& json) { std::cout << json << std::endl; }

void note(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::vector<float> parse_floats(const std::string& flag, const std::string& text) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stof(item, &used));
      NIMBLE_CHECK(used == item.size(), "");
    } catch (const std::exception&) {
      throw Error(flag + " '" + text + "' is not a comma-separated list of numbers");
    }
  }
  NIMBLE_CHECK(!out.empty(), flag + " is empty");
  return out;
}

void add_data_options(CLI::App* c, std::string& data, std::string& format, bool& skip_bad, int64_t& cache_mb,
                      const std::string& use) {
  c->add_option("--data", data,
                "the data set: a folder of IDX files, CIFAR batches, .npy arrays or class folders of .jpg/.png "
                "images (optionally in train/ val/ test/), or a .npz archive; " +
                    use)
      ->capture_default_str();
  c->add_option("--data-format", format, "auto | idx | folder | cifar | numpy (auto: detected from --data)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "idx", "folder", "cifar", "numpy"}));
  c->add_flag("--skip-bad", skip_bad, "skip unreadable or corrupt images (counted and reported) instead of stopping");
  c->add_option("--cache-mb", cache_mb,
                "memory for decoded images in MB (default 0: half of RAM); a larger image folder is decoded on the "
                "fly each epoch")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 30));
}

namespace {
std::string& stored_command_line() {
  static std::string line;
  return line;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string& line = stored_command_line();
  line = "nimble";
  for (int i = 1; i < argc; ++i) line += std::string(" ") + argv[i];
}

const std::string& command_line() { return stored_command_line(); }

}  // namespace nimble::cli
