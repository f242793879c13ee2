#include "nimble/runtime/choose_by_measurement.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"
#include "runtime/machine.hpp"

namespace nimble {

namespace {

constexpr int kMinRounds = 3, kMaxRounds = 9;

// The chosen index when each candidate costs `ms[i]`.
size_t pick(const std::vector<MeasuredCandidate>& c, const std::vector<double>& ms, double margin) {
  size_t best = c.size();
  for (size_t i = 0; i < c.size(); ++i) {
    if (!c[i].rejected.empty()) continue;
    if (best == c.size() || ms[i] < ms[best]) best = i;
  }
  NIMBLE_CHECK(best < c.size(), "no candidate is eligible: " + c[0].name + " " + c[0].rejected);
  if (c[0].rejected.empty() && !(ms[best] < (1.0 - margin) * ms[0])) best = 0;
  return best;
}

std::vector<double> per_candidate(const std::vector<MeasuredCandidate>& c, bool median) {
  std::vector<double> out;
  for (const MeasuredCandidate& m : c) {
    std::vector<double> s = m.samples;
    std::sort(s.begin(), s.end());
    out.push_back(median ? s[s.size() / 2] : s.front());
  }
  return out;
}

}  // namespace

MeasuredDecision decide_by_measurement(std::vector<MeasuredCandidate>& candidates, double margin) {
  NIMBLE_ASSERT(!candidates.empty());
  const size_t n = candidates.size();
  for (MeasuredCandidate& c : candidates) c.samples.clear();
  MeasuredDecision d;
  const OthersCpuShare others;
  for (d.rounds = 1; d.rounds <= kMaxRounds; ++d.rounds) {
    for (size_t k = 0; k < n; ++k) {
      MeasuredCandidate& c = candidates[(size_t(d.rounds) + k) % n];
      c.samples.push_back(c.time_ms());
    }
    if (d.rounds < kMinRounds) continue;
    d.chosen = pick(candidates, per_candidate(candidates, false), margin);
    d.others_cpu_share = others.fraction();
    d.stable = d.chosen == pick(candidates, per_candidate(candidates, true), margin) &&
               d.others_cpu_share <= kBusyMachineShare;
    std::vector<double> stop = {d.stable ? 1.0 : 0.0};  // every rank runs rank 0's number of rounds
    dist::take_rank0_values(stop);
    if (stop[0] == 1.0) break;
  }
  d.rounds = std::min(d.rounds, kMaxRounds);
  const std::vector<double> least = per_candidate(candidates, false);
  // Under mpirun every rank takes rank 0's decision (and its figures, for the same reports): ranks
  // that timed differently must still build the same model.
  std::vector<double> shared = least;
  shared.push_back(double(d.chosen));
  shared.push_back(d.stable ? 1.0 : 0.0);
  shared.push_back(d.others_cpu_share);
  dist::take_rank0_values(shared);
  for (size_t i = 0; i < n; ++i) candidates[i].ms = shared[i];
  d.chosen = size_t(shared[n]);
  d.stable = shared[n + 1] == 1.0;
  d.others_cpu_share = shared[n + 2];
  return d;
}

std::string decision_caveat(bool stable, double others_cpu_share, const std::string& flag) {
  if (others_cpu_share > kBusyMachineShare) {
    char text[160];
    std::snprintf(text, sizeof text, "; not reliable: other processes took %.0f%% of the CPU while timing (give %s",
                  100 * others_cpu_share, flag.c_str());
    return text + std::string(" to choose)");
  }
  return stable ? "" : "; not stable: the medians disagree, the machine is busy";
}

}  // namespace nimble
