#include "nimble/runtime/choose_by_measurement.hpp"

#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"

namespace nimble {

size_t choose_by_measurement(std::vector<MeasuredCandidate>& candidates, double margin) {
  NIMBLE_ASSERT(!candidates.empty());
  for (MeasuredCandidate& c : candidates) c.ms = c.time_ms();
  const bool reference_eligible = candidates[0].rejected.empty();
  size_t best = candidates.size();
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].rejected.empty()) continue;
    if (best == candidates.size() || candidates[i].ms < candidates[best].ms) best = i;
  }
  NIMBLE_CHECK(best < candidates.size(),
               "no candidate is eligible: " + candidates[0].name + " " + candidates[0].rejected);
  if (reference_eligible && !(candidates[best].ms < (1.0 - margin) * candidates[0].ms)) best = 0;
  // Under mpirun every rank takes rank 0's decision (and its figures, for the same reports): ranks
  // that timed differently must still build the same model.
  std::vector<double> shared(candidates.size() + 1);
  for (size_t i = 0; i < candidates.size(); ++i) shared[i] = candidates[i].ms;
  shared.back() = double(best);
  dist::take_rank0_values(shared);
  for (size_t i = 0; i < candidates.size(); ++i) candidates[i].ms = shared[i];
  return size_t(shared.back());
}

}  // namespace nimble
