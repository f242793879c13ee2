#include "nimble/nas/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "fronts.hpp"
#include "nimble/core/error.hpp"

namespace nimble::nas {

std::vector<int> ranks_under(size_t n, const std::function<bool(size_t, size_t)>& dominates) {
  std::vector<std::vector<size_t>> dominated(n);  // dominated[i]: the items i dominates
  std::vector<int> dominator_count(n, 0), rank(n, -1);
  std::vector<size_t> current;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (dominates(i, j)) {
        dominated[i].push_back(j);
        ++dominator_count[j];
      } else if (dominates(j, i)) {
        dominated[j].push_back(i);
        ++dominator_count[i];
      }
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (dominator_count[i] == 0) current.push_back(i);
  // Peel fronts: an item joins the next front once every item dominating it has a rank.
  for (int r = 0; !current.empty(); ++r) {
    std::vector<size_t> next;
    for (size_t i : current) {
      rank[i] = r;
      for (size_t j : dominated[i])
        if (--dominator_count[j] == 0) next.push_back(j);
    }
    current = std::move(next);
  }
  NIMBLE_ASSERT(std::find(rank.begin(), rank.end(), -1) == rank.end(), "dominance relation has a cycle");
  return rank;
}

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  NIMBLE_CHECK(a.size() == b.size(), "dominates: points have " + std::to_string(a.size()) + " and " +
                                         std::to_string(b.size()) + " objectives");
  bool better = false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] > b[k]) return false;
    better = better || a[k] < b[k];
  }
  return better;
}

std::vector<int> non_dominated_ranks(const std::vector<std::vector<double>>& points) {
  for (const auto& p : points)
    NIMBLE_CHECK(p.size() == points.front().size(), "non_dominated_ranks: points differ in their objective count");
  return ranks_under(points.size(), [&](size_t i, size_t j) { return dominates(points[i], points[j]); });
}

std::vector<double> crowding_distances(const std::vector<std::vector<double>>& points,
                                       const std::vector<size_t>& front) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (front.empty()) return {};
  for (size_t i : front) NIMBLE_CHECK(i < points.size(), "crowding_distances: front index out of range");
  const size_t m = points[front.front()].size();
  for (size_t i : front)
    NIMBLE_CHECK(points[i].size() == m, "crowding_distances: points differ in their objective count");
  std::vector<double> distance(front.size(), 0);
  std::vector<size_t> order(front.size());  // positions in `front`
  for (size_t k = 0; k < m; ++k) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return points[front[a]][k] < points[front[b]][k]; });
    const double lo = points[front[order.front()]][k], hi = points[front[order.back()]][k];
    distance[order.front()] = distance[order.back()] = kInf;
    // All equal: the objective separates no one. An infinite range would turn every gap into NaN or 0.
    if (!(hi > lo) || !std::isfinite(hi - lo)) continue;
    for (size_t p = 1; p + 1 < order.size(); ++p)
      distance[order[p]] += (points[front[order[p + 1]]][k] - points[front[order[p - 1]]][k]) / (hi - lo);
  }
  return distance;
}

std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& points) {
  const std::vector<int> rank = non_dominated_ranks(points);
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i)
    if (rank[i] == 0) front.push_back(i);
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) { return points[a] < points[b]; });
  return front;
}

double hypervolume_2d(const std::vector<std::vector<double>>& points, const std::vector<double>& reference) {
  NIMBLE_CHECK(reference.size() == 2, "hypervolume_2d needs a reference point with 2 objectives");
  std::vector<std::pair<double, double>> inside;
  for (const auto& p : points) {
    NIMBLE_CHECK(p.size() == 2, "hypervolume_2d needs points with 2 objectives");
    if (p[0] < reference[0] && p[1] < reference[1]) inside.emplace_back(p[0], p[1]);
  }
  std::sort(inside.begin(), inside.end());
  // Sweep by the first objective: each point that lowers the best second objective so far adds the strip
  // between its second objective and the previous best, reaching right to the reference.
  double area = 0, best = reference[1];
  for (const auto& [f0, f1] : inside) {
    if (f1 >= best) continue;
    area += (reference[0] - f0) * (best - f1);
    best = f1;
  }
  return area;
}

}  // namespace nimble::nas
