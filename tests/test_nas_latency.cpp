// The latency table (nas/latency.hpp): every block of a space gets a measured entry, predictions
// are the line through the block sums, the table survives JSON and the per-machine cache, and a
// cached table is only taken back with the same fingerprint. No test asserts a time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "nimble/core/error.hpp"
#include "nimble/nas/latency.hpp"

namespace nimble::nas {
namespace {

SpaceOptions tiny() {
  SpaceOptions o;
  o.input = Shape{1, 12, 12};
  o.classes = 3;
  o.depths = {1, 2};
  o.width_multipliers = {1.0};
  o.expand_ratios = {2};
  o.kernels = {3, 5};
  return o;
}

TEST(NasLatency, TableCoversTheSpaceAndPredictsFromItsLine) {
  const SearchSpace space(tiny());
  LatencyOptions o;
  o.iters = 5;
  size_t calls = 0;
  LatencyTable t = build_latency_table(space, o, [&](size_t done, size_t total) {
    ++calls;
    EXPECT_LE(done, total);
  });
  EXPECT_EQ(t.blocks.size(), space.all_blocks().size());
  EXPECT_EQ(calls, t.blocks.size());
  EXPECT_TRUE(t.pinned);
  for (const auto& [key, timing] : t.blocks) {
    EXPECT_GT(timing.ms, 0) << key;
    EXPECT_GE(timing.noise, 0) << key;
  }
  const Arch a = space.largest(), b = space.smallest();
  double sum = 0;
  for (const Block& k : space.blocks(a)) sum += t.blocks.at(k.key()).ms;
  EXPECT_DOUBLE_EQ(t.block_sum(space, a), sum);
  EXPECT_DOUBLE_EQ(t.predict(space, a), sum);  // uncalibrated: the identity
  const double sa = t.block_sum(space, a), sb = t.block_sum(space, b);
  calibrate_latency_table(t, space, {a, b}, {2 * sa + 0.5, 2 * sb + 0.5});
  if (sa != sb) {
    EXPECT_NEAR(t.fit.slope, 2.0, 1e-9);
    EXPECT_NEAR(t.predict(space, a), 2 * sa + 0.5, 1e-9);
  }
  t.blocks.erase(space.blocks(a).back().key());
  EXPECT_THROW(t.block_sum(space, a), Error);
}

TEST(NasLatency, WholeModelsAreMeasuredInEachPrecision) {
  const SearchSpace space(tiny());
  for (DeployPrecision p : {DeployPrecision::fp32, DeployPrecision::bf16, DeployPrecision::int8}) {
    LatencyOptions o;
    o.precision = p;
    o.iters = 5;
    const Timing t = measure_latency(space.build(space.smallest()), o);
    EXPECT_GT(t.ms, 0) << deploy_precision_name(p);
    EXPECT_GE(t.noise, 0);
  }
  EXPECT_EQ(parse_deploy_precision("int8"), DeployPrecision::int8);
  EXPECT_THROW(parse_deploy_precision("fp8"), Error);
  LatencyOptions bad;
  bad.iters = 2;
  EXPECT_THROW(measure_latency(space.build(space.smallest()), bad), Error);
}

TEST(NasLatency, CacheIsPerFingerprint) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nimble_latency_cache_" + std::to_string(getpid()));
  ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  const SearchSpace space(tiny());
  LatencyOptions o;
  o.iters = 5;
  const std::string fp = latency_fingerprint(space, o);
  EXPECT_NE(fp.find("threads"), std::string::npos);
  LatencyOptions bf16 = o;
  bf16.precision = DeployPrecision::bf16;
  EXPECT_NE(latency_fingerprint(space, bf16), fp);
  SpaceOptions other = tiny();
  other.kernels = {3};
  EXPECT_NE(latency_fingerprint(SearchSpace(other), o), fp);

  EXPECT_FALSE(load_cached_latency_table(fp));
  LatencyTable t;
  t.fingerprint = fp;
  t.options = o;
  t.blocks["stem"] = {0.25, 0.02};
  t.fit = {1.1, 0.01};
  t.calibration_models = 20;
  t.pinned = true;
  const std::string path = latency_cache_path(fp);
  EXPECT_EQ(path.rfind(dir.string(), 0), 0u) << path;
  save_latency_table(t, path);
  const auto back = load_cached_latency_table(fp);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->blocks.at("stem").ms, 0.25);
  EXPECT_EQ(back->fit.slope, 1.1);
  EXPECT_EQ(back->calibration_models, 20);
  EXPECT_TRUE(back->pinned);
  EXPECT_FALSE(load_cached_latency_table(latency_fingerprint(space, bf16)));
  std::ofstream(path) << "{ damaged";
  EXPECT_FALSE(load_cached_latency_table(fp));
  EXPECT_THROW(LatencyTable::from_json("{}"), Error);
  ::unsetenv("XDG_CACHE_HOME");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nimble::nas
