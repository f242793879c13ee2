#include "nimble/runtime/choose_by_measurement.hpp"

#include "nimble/core/error.hpp"

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
  if (reference_eligible && !(candidates[best].ms < (1.0 - margin) * candidates[0].ms)) return 0;
  return best;
}

}  // namespace nimble
