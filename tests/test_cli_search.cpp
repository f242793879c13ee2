// `nimble search` as a user meets it, on a small IDX data set: every stage leaves its file, a second
// run resumes from them without training or measuring again, a searched model is a model like any
// other (eval, train from scratch by name), and bad options get one line and exit code 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.hpp"
#include "data_test_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace dt = nimble::data::testing;

// The latency table's per-machine cache goes to the test's own directory.
nimble::testing::CliRun nimble_cli(const std::string& args, const fs::path& dir) {
  return nimble::testing::run(args, "XDG_CACHE_HOME=" + (dir / "cache").string() + " ");
}

TEST(CliSearch, StagesRunResumeAndHandBackModels) {
  const fs::path dir = fs::temp_directory_path() / ("nimble_cli_search_" + std::to_string(getpid()));
  fs::remove_all(dir);
  dt::write_banded_idx(dir / "data");
  const std::string small = "search --data " + (dir / "data").string() + " --out " + (dir / "s").string() +
                            " --epochs 1 --batch 32 --population 4 --generations 1 --random-evaluations 4 "
                            "--latency-iters 5 --latency-validation 4 --select 2 --json";
  const nimble::testing::CliRun first = nimble_cli(small, dir);
  ASSERT_EQ(first.code, 0) << first.err;
  const auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["supernet"]["epochs"], 1);
  EXPECT_FALSE(j["supernet"]["reused"]);
  EXPECT_GT(j["latency"]["blocks"], 10);
  EXPECT_EQ(j["latency"]["validation_models"], 4);
  EXPECT_EQ(j["search"]["nsga2_evaluations"], 8);
  EXPECT_EQ(j["search"]["random_evaluations"], 4);
  EXPECT_EQ(j["search"]["nsga2_hypervolume"].size(), 2u);
  // Two spread along the front, or one when a single architecture dominates all others.
  ASSERT_GE(j["models"].size(), 1u);
  ASSERT_LE(j["models"].size(), 2u);
  for (const char* f : {"supernet.nimble", "latency.json", "evaluations.csv", "front.csv"})
    EXPECT_TRUE(fs::exists(dir / "s" / f)) << f;
  const std::string model = j["models"][0]["path"];
  EXPECT_GT(j["models"][0]["measured_latency_ms"].get<double>(), 0);

  // Everything again from the files: no training, no timing of blocks, no accuracy measured twice.
  const nimble::testing::CliRun again = nimble_cli(small, dir);
  ASSERT_EQ(again.code, 0) << again.err;
  const auto k = nlohmann::json::parse(again.out);
  EXPECT_TRUE(k["supernet"]["reused"]);
  EXPECT_TRUE(k["latency"]["cached"]);
  EXPECT_NE(again.err.find("accuracies from"), std::string::npos) << again.err;
  EXPECT_EQ(k["search"]["nsga2_hypervolume"], j["search"]["nsga2_hypervolume"]);

  // The searched model is an ordinary model; its architecture trains from scratch by name.
  const nimble::testing::CliRun ev =
      nimble_cli("eval " + model + " --data " + (dir / "data").string() + " --json", dir);
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_NEAR(nlohmann::json::parse(ev.out)["test_accuracy"].get<double>(),
              j["models"][0]["test_accuracy"].get<double>(), 1e-9);
  const std::string arch = j["models"][0]["arch"];
  const nimble::testing::CliRun alone =
      nimble_cli("train --model searched:" + arch + " --data " + (dir / "data").string() + " --epochs 1 --json --out " +
                     (dir / "alone.nimble").string(),
                 dir);
  ASSERT_EQ(alone.code, 0) << alone.err;
  const nimble::testing::CliRun one = nimble_cli(small + " --arch " + arch, dir);
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_TRUE(fs::exists(dir / "s" / ("arch-" + arch + ".nimble")));

  for (const auto& [args, mention] : std::vector<std::pair<std::string, std::string>>{
           {"search --population 5", "--population"},
           {"search --deploy fp8", "fp8"},
           {"search --arch d1-w16 --out " + (dir / "x").string(), "--arch"},
           {"search --max-latency-ms 0.1 --arch d1-w16-e3-k3", "--arch"},
           {"search --data " + (dir / "data").string() + " --out " + (dir / "s").string() +
                " --arch d9-w16-e3-k3_d1-w24-e3-k3_d1-w40-e3-k3_d1-w56-e3-k3_d1-w80-e3-k3",
            "depth 9"},
           {small + " --max-latency-ms 0.000001", "--max-latency-ms"},
           {"train --model searched:d1-w16", "d1-w16"},
       }) {
    const nimble::testing::CliRun bad = nimble_cli(args, dir);
    EXPECT_EQ(bad.code, 2) << args << "\n" << bad.err;
    EXPECT_EQ(nimble::testing::last_line(bad.err).rfind("error: ", 0), 0u) << args << ": " << bad.err;
    EXPECT_NE(bad.err.find(mention), std::string::npos) << args << ": " << bad.err;
  }
  fs::remove_all(dir);
}

}  // namespace
