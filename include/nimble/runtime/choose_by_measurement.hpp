#pragma once
// Choosing among ways to run the same work by timing each on this machine: `auto` precision and
// the distillation teacher's form (fp32 / bf16 / int8) both decide here.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace nimble {

struct MeasuredCandidate {
  std::string name;
  std::function<double()> time_ms;  // one measurement of this candidate, in ms
  std::string rejected;             // non-empty: not eligible, and why (it is still timed, for the report)
  double ms = 0;                    // filled by choose_by_measurement
};

// Times every candidate in order and returns the index of the chosen one: candidate 0 (the
// reference) unless an eligible one takes less than (1 - margin) of its time, then the fastest
// eligible. A rejected reference competes only against eligible candidates. Throws Error when
// none is eligible.
size_t choose_by_measurement(std::vector<MeasuredCandidate>& candidates, double margin);

}  // namespace nimble
