// What the `nimble` command promises about the files a user already has (docs/reliability.md):
// an output that is one of the command's inputs is refused unless --force; a run that diverges or
// a calibration set with nothing to measure ends with one error line and leaves the files as
// they were.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_run.hpp"

namespace {

namespace fs = std::filesystem;
using nimble::testing::CliRun;
using nimble::testing::file_bytes;
using nimble::testing::run;

class CliReliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("nimble_reliability_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const CliRun r =
        run("train --model cnn --width 0.25 --limit 512 --val 128 --epochs 1 --quiet --precision fp32 --out " +
            (dir_ / "m.nimble").string());
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static fs::path dir_;
};
fs::path CliReliability::dir_;

// Exit 2, one error line naming --force, and the input byte for byte as it was.
void expect_refused(const std::string& args, const std::string& input) {
  const std::string before = file_bytes(input);
  const CliRun r = run(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << args << ": " << r.err;
  EXPECT_EQ(file_bytes(input), before) << args << " changed its input";
}

TEST_F(CliReliability, AnOutputThatIsAnInputIsRefusedUnlessForced) {
  const std::string m = path("m.nimble");
  expect_refused("quantize " + m + " --out " + m, m);
  // The same file through another spelling and through a symbolic link.
  expect_refused("quantize " + m + " --out " + (dir_ / "." / "m.nimble").string(), m);
  fs::create_symlink(m, dir_ / "link.nimble");
  expect_refused("prune " + m + " --method channel --ratio 0.3 --out " + path("link.nimble"), m);
  expect_refused("train --model " + m + " --limit 256 --val 64 --epochs 1 --out " + m, m);
  expect_refused("distill --teacher " + m + " --student cnn --width 0.25 --limit 256 --val 64 --epochs 1 --out " + m,
                 m);
  ASSERT_EQ(run("export " + m + " --out " + path("m.onnx")).code, 0);
  expect_refused("export " + path("m.onnx") + " --out " + path("m.onnx"), path("m.onnx"));
  fs::create_directories(dir_ / "opt");
  fs::copy_file(m, dir_ / "opt" / "model.nimble");
  expect_refused("optimize " + path("opt/model.nimble") + " --preset quick --out " + path("opt"),
                 path("opt/model.nimble"));

  // --force: the user asked for it (on a copy: the other tests read m.nimble).
  const std::string f = path("forced.nimble");
  fs::copy_file(m, f);
  const CliRun forced = run("quantize " + f + " --out " + f + " --force --json");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(file_bytes(f), file_bytes(m));
  const CliRun info = run("info " + f + " --json");
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("\"quantization\""), std::string::npos) << info.out;
}

// Exit 2 and a last line that says `what`; `keep` byte for byte as it was.
void expect_fault(const std::string& args, const std::string& what, const std::string& keep) {
  const std::string before = file_bytes(keep);
  const CliRun r = run(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_NE(nimble::testing::last_line(r.err).find(what), std::string::npos) << args << ": " << r.err;
  EXPECT_EQ(file_bytes(keep), before) << args << " changed " << keep;
}

TEST_F(CliReliability, DivergenceAndBlankCalibrationStopWithAMessageAndWriteNothing) {
  const std::string m = path("m.nimble"), good = path("good.nimble");
  fs::copy_file(m, good, fs::copy_options::overwrite_existing);
  // A learning rate that diverges: fp32 stops at the first non-finite loss and says where; fp16
  // skips overflowing steps until the loss scale gives out (or a NaN reaches a weight), then stops.
  const std::string diverge = "train --model cnn --width 0.25 --limit 1024 --val 256 --epochs 2 --lr 1e6 --quiet ";
  expect_fault(diverge + "--precision fp32 --out " + good, "training diverged: the loss became", good);
  expect_fault(diverge + "--precision fp32 --out " + good, "(epoch 1, batch", good);
  expect_fault(diverge + "--precision fp16 --out " + good, "diverged", good);
  EXPECT_FALSE(fs::exists(good + ".train"));

  // Calibration images that are all one value: nothing to measure int8 ranges on.
  const fs::path blank = dir_ / "blank";
  fs::create_directories(blank);
  const auto idx = [&](const std::string& name, uint32_t magic, int64_t n, int64_t bytes_each) {
    std::ofstream f(blank / name, std::ios::binary);
    const uint32_t dims = magic & 0xff;
    const uint32_t header[4] = {magic, uint32_t(n), 28, 28};
    for (uint32_t i = 0; i <= dims; ++i)
      for (int b = 3; b >= 0; --b) f.put(char(header[i] >> (8 * b)));
    for (int64_t i = 0; i < n * bytes_each; ++i) f.put(char(bytes_each == 1 ? i % 10 : 0));
  };
  idx("train-images-idx3-ubyte", 0x803, 600, 784);
  idx("train-labels-idx1-ubyte", 0x801, 600, 1);
  idx("t10k-images-idx3-ubyte", 0x803, 100, 784);
  idx("t10k-labels-idx1-ubyte", 0x801, 100, 1);
  expect_fault("quantize " + m + " --data " + blank.string() + " --out " + good,
               "all 512 calibration images hold the one value 0", good);
}

// Memory: a batch that cannot fit is refused before anything is allocated, with what it needs;
// the reports say how much the run took.
TEST_F(CliReliability, ABatchThatCannotFitIsRefusedWithWhatItNeeds) {
  const CliRun r = run("bench --model mobilenet_v2 --batch 4096 --iters 2", "ulimit -v 3000000; ");
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string line = nimble::testing::last_line(r.err);
  for (const char* part : {"not enough memory: at batch 4096", "MiB of activations", "left under ulimit -v"})
    EXPECT_NE(line.find(part), std::string::npos) << line;
  const std::vector<std::string> reports = {
      "bench --model cnn --batch 16 --iters 2 --json",
      "quantize " + path("m.nimble") + " --calib 64 --iters 3 --json --out " + path("q.nimble")};
  for (const std::string& args : reports) {
    const CliRun ok = run(args);
    ASSERT_EQ(ok.code, 0) << args << "\n" << ok.err;
    EXPECT_GT(nlohmann::json::parse(ok.out).at("peak_memory_mib").get<double>(), 10.0) << args;
  }
}

// A decision by timing taken while other processes keep the cores busy says that it is not
// reliable rather than passing off the scheduler's delays as the code's (docs/reliability.md):
// the teacher's form, timed beside two spinning processes.
TEST_F(CliReliability, ATimingDecisionBesideBusyProcessesSaysItIsNotReliable) {
  std::vector<pid_t> spinners;
  for (int i = 0; i < 2; ++i) {
    const pid_t p = fork();
    if (p == 0) {
      execlp("sh", "sh", "-c", "while :; do :; done", static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_GT(p, 0);
    spinners.push_back(p);
  }
  const CliRun r = run("distill --teacher " + path("m.nimble") +
                       " --student cnn --width 0.25 --limit 512 --val 128 --epochs 1 --precision fp32 --json --out " +
                       path("busy.nimble"));
  for (pid_t p : spinners) kill(p, SIGKILL), waitpid(p, nullptr, 0);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["teacher_form_others_cpu_share"].get<double>(), 0.2) << r.out;
  EXPECT_FALSE(j["teacher_form_stable"].get<bool>()) << r.out;
  for (const auto& c : j["teacher_candidates"]) EXPECT_EQ(c["timings_ms"].size(), 9u) << c.dump();  // all rounds
  EXPECT_NE(r.err.find("not reliable: other processes took"), std::string::npos) << r.err;
}

}  // namespace
