// What the `nimble` command promises about the files a user already has (docs/reliability.md):
// an output that is one of the command's inputs is refused unless --force.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

  // --force: the user asked for it.
  const std::string before = file_bytes(m);
  const CliRun forced = run("quantize " + m + " --out " + m + " --force --json");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(file_bytes(m), before);
  const CliRun info = run("info " + m + " --json");
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("\"quantization\""), std::string::npos) << info.out;
}

}  // namespace
