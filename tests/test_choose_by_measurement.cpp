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

}  // namespace
}  // namespace nimble
