// `nimble optimize` as a user meets it, on a small IDX data set with the quick preset: one
// recommended model with its ONNX twin and a report; a second run takes every stage back; a run
// killed in the middle of a stage and started again skips the finished stages and ends with the
// figures of an uninterrupted run; `--from` computes again from a stage; `--prune-latency 0` leaves
// the prune stage out; goals that cannot be met, an int8 input, one-class data and bad flags get one
// line and exit code 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli_run.hpp"
#include "data_test_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace dt = nimble::data::testing;
using nlohmann::json;

// Reproducible to the bit: an explicit precision and oneDNN's own kernel choices (not timed).
const std::string kEnv = "NIMBLE_KERNEL_CHOICE=first ";

std::string quick(const fs::path& data, const fs::path& out) {
  return "optimize --preset quick --precision fp32 --iters 10 --max-drop 5 --data " + data.string() + " --out " +
         out.string() + " --json";
}

std::map<std::string, double> test_accuracies(const json& report) {
  std::map<std::string, double> acc;
  for (const json& c : report["candidates"]) acc[c["id"]] = c["test_accuracy"];
  return acc;
}

std::map<std::string, bool> reused(const json& report) {
  std::map<std::string, bool> s;
  for (const json& st : report["stages"]) s[st["name"]] = st["reused"];
  return s;
}

// Starts `args` in the background; returns its process id.
pid_t start(const std::string& args, const fs::path& dir) {
  const fs::path pid_file = dir / "pid";
  const std::string cmd = kEnv + std::string(NIMBLE_CLI) + " " + args + " >/dev/null 2>" + (dir / "bg.err").string() +
                          " </dev/null & echo $! > " + pid_file.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(pid_file);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

TEST(CliOptimize, RecommendsResumesAfterAKillAndReports) {
  const fs::path dir = fs::temp_directory_path() / ("nimble_cli_optimize_" + std::to_string(getpid()));
  fs::remove_all(dir);
  dt::write_banded_idx(dir / "data", 2000, 400);

  const nimble::testing::CliRun first = nimble::testing::run(quick(dir / "data", dir / "a"), kEnv);
  ASSERT_EQ(first.code, 0) << first.err;
  const json a = json::parse(first.out);
  std::vector<std::string> names;
  for (const json& s : a["stages"]) names.push_back(s["name"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"teacher", "baseline", "student", "distill", "prune", "quantize", "final"}));
  ASSERT_FALSE(a["recommended"].is_null());
  EXPECT_TRUE(a["goals_met"]);
  EXPECT_GT(a["speedup_vs_teacher"].get<double>(), 0);
  for (const char* f : {"model.nimble", "model.onnx", "report.json", "report.html"})
    EXPECT_TRUE(fs::exists(dir / "a" / f)) << f;
  size_t recommended = 0;
  for (const json& c : a["candidates"]) {
    EXPECT_GE(c["test_accuracy"].get<double>(), 0.0);
    EXPECT_LE(c["test_accuracy"].get<double>(), 1.0);
    EXPECT_GT(c["latency_ms_p50"].get<double>(), 0.0);
    EXPECT_TRUE(fs::exists(dir / "a" / c["path"].get<std::string>())) << c["path"];
    recommended += c["recommended"].get<bool>();
  }
  EXPECT_EQ(recommended, 1u);
  EXPECT_FALSE(a["final_layers"].empty());
  // The quantize stage's model carries each int8 layer's measured sensitivity into the table.
  if (a["recommended"] == "int8") {
    for (const json& l : a["final_layers"]) {
      if (l["precision"] == "int8") {
        EXPECT_TRUE(l["sensitivity_points"].is_number()) << l["name"];
      }
    }
  }
  // The report on disk is the --json one, and the page has a point per candidate.
  EXPECT_EQ(json::parse(std::ifstream(dir / "a" / "report.json"))["candidates"], a["candidates"]);
  std::ifstream page(dir / "a" / "report.html");
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  size_t points = 0;
  for (size_t at = html.find("class=\"point\""); at != std::string::npos; at = html.find("class=\"point\"", at + 1))
    ++points;
  EXPECT_EQ(points, a["candidates"].size());
  // The page in a real browser: renders without a console error, every chart point and stage bar
  // in the DOM; the screenshot stays in the build tree as an artefact.
  const fs::path shot = fs::path(NIMBLE_CLI).parent_path() / "artifacts" / "optimize-report.png";
  fs::create_directories(shot.parent_path());
  const std::string check =
      "python3 " + (fs::path(NIMBLE_FIXTURES_DIR).parent_path() / "html" / "check_report.py").string() + " " +
      (dir / "a" / "report.html").string() + " " + shot.string() + " " + (dir / "a" / "report.json").string();
  EXPECT_EQ(std::system(check.c_str()), 0) << check;

  // Again: every stage but the final choice is taken back, with the same figures.
  const nimble::testing::CliRun again = nimble::testing::run(quick(dir / "data", dir / "a"), kEnv);
  ASSERT_EQ(again.code, 0) << again.err;
  const json a2 = json::parse(again.out);
  for (const auto& [stage, taken_back] : reused(a2)) EXPECT_EQ(taken_back, stage != "final") << stage;
  EXPECT_EQ(test_accuracies(a2), test_accuracies(a));
  EXPECT_EQ(a2["recommended"], a["recommended"]);

  // Killed with SIGKILL in the distillation stage, then started again.
  const pid_t pid = start(quick(dir / "data", dir / "b"), dir);
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!fs::exists(dir / "b" / "stages" / "4-distill" / "student.nimble.train") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_FALSE(fs::exists(dir / "b" / "stages" / "4-distill" / "stage.json")) << "the stage ended before the kill";
  const nimble::testing::CliRun restarted = nimble::testing::run(quick(dir / "data", dir / "b"), kEnv);
  ASSERT_EQ(restarted.code, 0) << restarted.err;
  const json b = json::parse(restarted.out);
  const auto sb = reused(b);
  for (const char* stage : {"teacher", "baseline", "student"}) EXPECT_TRUE(sb.at(stage)) << stage;
  EXPECT_FALSE(sb.at("distill"));
  EXPECT_EQ(test_accuracies(b), test_accuracies(a));
  // Which of two equally accurate models is faster can change with the machine's load; the
  // recommendation's accuracy cannot.
  EXPECT_EQ(test_accuracies(b).at(b["recommended"]), test_accuracies(a).at(a["recommended"]));

  // --from computes the quantization again and keeps the stages before it.
  const nimble::testing::CliRun from = nimble::testing::run(quick(dir / "data", dir / "a") + " --from quantize", kEnv);
  ASSERT_EQ(from.code, 0) << from.err;
  const auto sf = reused(json::parse(from.out));
  EXPECT_TRUE(sf.at("prune"));
  EXPECT_FALSE(sf.at("quantize"));

  // --prune-latency 0 with no latency goal: the prune stage is not run, and says why.
  const nimble::testing::CliRun unpruned =
      nimble::testing::run(quick(dir / "data", dir / "a") + " --from prune --prune-latency 0", kEnv);
  ASSERT_EQ(unpruned.code, 0) << unpruned.err;
  for (const json& st : json::parse(unpruned.out)["stages"]) {
    if (st["name"] != "prune") continue;
    EXPECT_EQ(st["status"], "skipped");
    EXPECT_NE(st["reason"].get<std::string>().find("--prune-latency is 0"), std::string::npos) << st["reason"];
  }

  // Goals that cannot be met: a report that says so and exit code 2, never a model.
  const nimble::testing::CliRun fast =
      nimble::testing::run(quick(dir / "data", dir / "c") + " --max-latency-ms 0.000001", kEnv);
  EXPECT_EQ(fast.code, 2);
  EXPECT_NE(fast.err.find("goals not met: latency"), std::string::npos) << fast.err;
  const json c = json::parse(std::ifstream(dir / "c" / "report.json"));
  EXPECT_FALSE(c["goals_met"]);
  EXPECT_TRUE(c["recommended"].is_null());
  EXPECT_FALSE(fs::exists(dir / "c" / "model.nimble"));

  // An int8 model, one-class data and bad flags.
  dt::write_banded_idx(dir / "one", 200, 40, 1);
  fs::create_directories(dir / "file");
  std::ofstream(dir / "file" / "x") << "x";
  const std::string data = " --data " + (dir / "data").string() + " --out " + (dir / "bad").string();
  for (const auto& [args, mention] : std::vector<std::pair<std::string, std::string>>{
           {"optimize " + (dir / "a" / "stages" / "2-baseline" / "teacher-int8.nimble").string() + data, "int8"},
           {"optimize --preset quick --data " + (dir / "one").string() + " --out " + (dir / "d").string(), "class"},
           {"optimize --preset slow" + data, "--preset"},
           {"optimize --student lenet" + data, "--student"},
           {"optimize --student resnet:x" + data, "--student"},
           {"optimize --from nowhere" + data, "--from"},
           {"optimize --max-drop -1" + data, "--max-drop"},
           {"optimize --batch 0" + data, "--batch"},
           {"optimize --max-size-mb 0" + data, "--max-size-mb"},
           {"optimize --prune-latency 1" + data, "--prune-latency"},
           {"optimize " + (dir / "missing.nimble").string() + data, "missing.nimble"},
           {"optimize --out " + (dir / "file" / "x").string(), "--out"},
       }) {
    const nimble::testing::CliRun bad = nimble::testing::run(args);
    EXPECT_EQ(bad.code, 2) << args << "\n" << bad.err;
    EXPECT_EQ(nimble::testing::last_line(bad.err).rfind("error: ", 0), 0u) << args << ": " << bad.err;
    EXPECT_NE(bad.err.find(mention), std::string::npos) << args << ": " << bad.err;
  }
  fs::remove_all(dir);
}

}  // namespace
