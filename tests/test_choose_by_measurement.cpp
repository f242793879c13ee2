// choose_by_measurement: the reference unless another eligible candidate beats it by the margin,
// rejected candidates timed (for the report) but never chosen.
#include <gtest/gtest.h>

#include "nimble/core/error.hpp"
#include "nimble/runtime/choose_by_measurement.hpp"

namespace nimble {
namespace {

std::vector<MeasuredCandidate> candidates(std::vector<double> ms, std::vector<std::string> rejected = {}) {
  std::vector<MeasuredCandidate> c;
  for (size_t i = 0; i < ms.size(); ++i)
    c.push_back({"c" + std::to_string(i), [t = ms[i]] { return t; }, i < rejected.size() ? rejected[i] : "", 0});
  return c;
}

TEST(ChooseByMeasurement, KeepsTheReferenceUnlessBeatenByTheMargin) {
  auto c = candidates({10.0, 9.6});
  EXPECT_EQ(choose_by_measurement(c, 0.05), 0u);  // 4 % faster: not enough
  EXPECT_EQ(c[1].ms, 9.6);
  c = candidates({10.0, 9.4});
  EXPECT_EQ(choose_by_measurement(c, 0.05), 1u);
  c = candidates({10.0, 12.0, 7.0, 8.0});
  EXPECT_EQ(choose_by_measurement(c, 0.0), 2u);  // the fastest
  c = candidates({10.0, 10.0});
  EXPECT_EQ(choose_by_measurement(c, 0.0), 0u);  // a tie keeps the reference
}

TEST(ChooseByMeasurement, RejectedCandidatesAreTimedButNeverChosen) {
  auto c = candidates({10.0, 2.0, 8.0}, {"", "loses accuracy", ""});
  EXPECT_EQ(choose_by_measurement(c, 0.0), 2u);
  EXPECT_EQ(c[1].ms, 2.0);
  c = candidates({1.0, 5.0}, {"loses accuracy", ""});  // a rejected reference cannot win
  EXPECT_EQ(choose_by_measurement(c, 0.05), 1u);
  c = candidates({1.0, 5.0}, {"no", "no"});
  EXPECT_THROW(choose_by_measurement(c, 0.0), Error);
}

// A busy machine: another process makes some measurements slow. Timed in alternating rounds and
// judged on the least times, one outlier cannot flip the decision; the evidence is kept.
std::vector<MeasuredCandidate> sequences(const std::vector<std::vector<double>>& per_call) {
  std::vector<MeasuredCandidate> c;
  for (size_t i = 0; i < per_call.size(); ++i)
    c.push_back({"c" + std::to_string(i),
                 [seq = per_call[i], n = size_t(0)]() mutable { return seq[std::min(n++, seq.size() - 1)]; }, ""});
  return c;
}

TEST(ChooseByMeasurement, OneSlowOutlierDoesNotFlipTheDecision) {
  // bf16 truly 20 ms against fp32's 35; its first measurement ran beside a training run: 291 ms.
  auto c = sequences({{35, 36, 35, 35}, {291, 20, 21, 20}});
  const MeasuredDecision d = decide_by_measurement(c, 0.05);
  EXPECT_EQ(d.chosen, 1u);
  EXPECT_TRUE(d.stable);
  EXPECT_EQ(d.rounds, 3);
  EXPECT_EQ(c[1].ms, 20.0);
  EXPECT_EQ(c[1].samples, (std::vector<double>{291, 20, 21}));
  // The same outlier on the reference: still its true time wins.
  c = sequences({{35, 400, 35, 36}, {20, 21, 20, 20}});
  EXPECT_EQ(decide_by_measurement(c, 0.05).chosen, 1u);
}

TEST(ChooseByMeasurement, MoreRoundsWhileTheMediansDisagreeThenSaysItIsNotStable) {
  // Two slow rounds of three for the faster candidate: the medians disagree, so it measures on;
  // later rounds are quiet and settle it.
  auto c = sequences({{30, 30, 30, 30, 30}, {20, 90, 95, 20, 20}});
  MeasuredDecision d = decide_by_measurement(c, 0.05);
  EXPECT_EQ(d.chosen, 1u);
  EXPECT_TRUE(d.stable);
  EXPECT_EQ(d.rounds, 5);
  // Never quiet: after 9 rounds the decision stands on the least times and is marked unstable.
  c = sequences({{30}, {20, 90, 95, 90, 95, 90, 95, 90, 95}});
  d = decide_by_measurement(c, 0.05);
  EXPECT_EQ(d.chosen, 1u);
  EXPECT_FALSE(d.stable);
  EXPECT_EQ(d.rounds, 9);
  EXPECT_EQ(c[0].samples.size(), 9u);
}

}  // namespace
}  // namespace nimble
