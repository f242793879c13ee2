#pragma once
// Pareto geometry for the architecture search. Every objective is minimised (negate accuracy).
#include <cstddef>
#include <vector>

namespace nimble::nas {

// a is no worse than b in every objective and better in at least one. Throws if the sizes differ.
bool dominates(const std::vector<double>& a, const std::vector<double>& b);

// Non-domination rank of each point (Deb et al. 2002, fast non-dominated sort): 0 = the Pareto front, 1 = the
// front once rank 0 is removed, ... All points must have the same number of objectives.
std::vector<int> non_dominated_ranks(const std::vector<std::vector<double>>& points);

// Crowding distance of each member of one front (result[i] belongs to points[front[i]]): the sum over
// objectives of the normalised gap between its neighbours. The extremes of each objective get infinity.
std::vector<double> crowding_distances(const std::vector<std::vector<double>>& points,
                                       const std::vector<size_t>& front);

// Indices of the rank-0 points, sorted by the first objective (then the next ones, then index).
std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& points);

// Area dominated by the points and bounded by `reference` (two objectives). Points not strictly better than the
// reference in both objectives add nothing; dominated points add nothing.
double hypervolume_2d(const std::vector<std::vector<double>>& points, const std::vector<double>& reference);

}  // namespace nimble::nas
