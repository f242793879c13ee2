#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/nas/pareto.hpp"

namespace nimble::nas {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(NasPareto, Dominates) {
  EXPECT_TRUE(dominates({1, 2}, {2, 2}));
  EXPECT_TRUE(dominates({1, 1, 1}, {1, 1, 2}));
  EXPECT_FALSE(dominates({2, 2}, {1, 2}));
  EXPECT_FALSE(dominates({1, 2}, {1, 2}));  // equal points do not dominate each other
  EXPECT_FALSE(dominates({1, 3}, {2, 2}));
  EXPECT_FALSE(dominates({2, 2}, {1, 3}));
  EXPECT_THROW(dominates({1, 2}, {1, 2, 3}), Error);
}

TEST(NasPareto, NonDominatedRanksOfKnownFronts) {
  const std::vector<std::vector<double>> points{
      {3, 4},  // 1: dominated by (2, 3)
      {1, 5},  // 0
      {6, 6},  // 2: dominated by (3, 4), which is rank 1
      {2, 3},  // 0
      {5, 2},  // 1: dominated by (4, 1)
      {4, 1},  // 0
      {2, 3},  // 0: a duplicate does not dominate its twin
      {7, 7},  // 3
  };
  EXPECT_EQ(non_dominated_ranks(points), (std::vector<int>{1, 0, 2, 0, 1, 0, 0, 3}));
  EXPECT_EQ(pareto_front(points), (std::vector<size_t>{1, 3, 6, 5}));
  EXPECT_TRUE(non_dominated_ranks({}).empty());
  EXPECT_EQ(non_dominated_ranks({{1, 2, 3}}), (std::vector<int>{0}));
  EXPECT_THROW(non_dominated_ranks({{1, 2}, {1}}), Error);
}

TEST(NasPareto, RanksInThreeObjectives) {
  const std::vector<std::vector<double>> points{{1, 1, 1}, {0, 2, 2}, {2, 2, 2}, {2, 2, 0}, {3, 3, 3}};
  EXPECT_EQ(non_dominated_ranks(points), (std::vector<int>{0, 0, 1, 0, 2}));
}

TEST(NasPareto, CrowdingDistances) {
  const std::vector<std::vector<double>> points{{0, 4}, {9, 9}, {1, 2}, {3, 1}, {4, 0}};
  const std::vector<double> d = crowding_distances(points, {0, 2, 3, 4});
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[3], kInf);
  EXPECT_DOUBLE_EQ(d[1], 3.0 / 4 + 3.0 / 4);  // (1, 2): neighbours (0, 4) and (3, 1)
  EXPECT_DOUBLE_EQ(d[2], 3.0 / 4 + 2.0 / 4);  // (3, 1): neighbours (1, 2) and (4, 0)
  // Two members, one member: all boundary.
  EXPECT_EQ(crowding_distances(points, {2, 3}), (std::vector<double>{kInf, kInf}));
  EXPECT_EQ(crowding_distances(points, {1}), (std::vector<double>{kInf}));
  EXPECT_TRUE(crowding_distances(points, {}).empty());
  EXPECT_THROW(crowding_distances(points, {0, 5}), Error);
}

TEST(NasPareto, CrowdingWithAFlatOrInfiniteObjective) {
  // The second objective is equal for all: only the first separates them.
  const std::vector<std::vector<double>> flat{{0, 1}, {1, 1}, {4, 1}};
  const std::vector<double> d = crowding_distances(flat, {0, 1, 2});
  EXPECT_DOUBLE_EQ(d[1], 1.0);
  // An infinite objective value must not produce NaN.
  const std::vector<std::vector<double>> infinite{{0, kInf}, {1, 2}, {2, 1}, {3, 0}};
  for (double v : crowding_distances(infinite, {0, 1, 2, 3})) EXPECT_FALSE(std::isnan(v));
}

TEST(NasPareto, HypervolumeOfAStaircase) {
  const std::vector<double> ref{4, 4};
  std::vector<std::vector<double>> points{{1, 3}, {2, 2}, {3, 1}};
  EXPECT_DOUBLE_EQ(hypervolume_2d(points, ref), 6.0);
  points.push_back({3, 3});  // dominated: nothing added
  points.push_back({2, 2});  // duplicate
  EXPECT_DOUBLE_EQ(hypervolume_2d(points, ref), 6.0);
  points.push_back({0, 5});  // outside the reference box
  points.push_back({4, 0});  // on its boundary: not strictly better
  EXPECT_DOUBLE_EQ(hypervolume_2d(points, ref), 6.0);
  points.push_back({0.5, 3.5});  // adds only [0.5, 1) x [3.5, 4): the rest of its box is covered by (1, 3)
  EXPECT_DOUBLE_EQ(hypervolume_2d(points, ref), 6.0 + 0.25);
  EXPECT_DOUBLE_EQ(hypervolume_2d({{1, 1}}, ref), 9.0);
  EXPECT_DOUBLE_EQ(hypervolume_2d({{3, 1}, {1, 3}}, ref), 5.0);  // order does not matter
  EXPECT_EQ(hypervolume_2d({}, ref), 0.0);
  EXPECT_THROW(hypervolume_2d({{1, 2, 3}}, {4, 4, 4}), Error);
  EXPECT_THROW(hypervolume_2d({{1, 2}}, {4, 4, 4}), Error);
  EXPECT_THROW(hypervolume_2d({{1, 2, 3}}, ref), Error);
}

}  // namespace
}  // namespace nimble::nas
