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
  std::function<double()> time_ms;   // one measurement of this candidate, in ms
  std::string rejected;              // non-empty: not eligible, and why (it is still timed, for the report)
  double ms = 0;                     // filled by choose_by_measurement: the least of `samples`
  std::vector<double> samples = {};  // every measurement, one per round
};

// Times the candidates in alternating rounds (each round every candidate once, the order rotated)
// and returns the index of the chosen one: candidate 0 (the reference) unless an eligible one takes
// less than (1 - margin) of its time, then the fastest eligible — judged on each candidate's least
// time (a busy machine only adds time). At least 3 rounds; more, up to 9, until the decision from
// the least times and the one from the medians agree (`stable`): one slow outlier cannot flip it.
// A decision taken while other processes took more than a fifth of the machine's CPU time is not
// stable either (its timings measured the scheduler: a 5 ms step read 270 ms beside a training
// run), and takes all 9 rounds. A rejected reference competes only against eligible candidates.
// Throws Error when none is eligible. Under mpirun every rank takes rank 0's decision and figures.
struct MeasuredDecision {
  size_t chosen = 0;
  // false: after 9 rounds the medians still disagreed with the least times, or the machine was busy
  bool stable = true;
  int rounds = 0;
  double others_cpu_share = -1;  // of the machine's CPU time, taken by other processes (-1: unknown)
};
constexpr double kBusyMachineShare = 0.2;
// What a log line adds about a decision's timings: "" when they hold, else "; not reliable: other
// processes took 50% of the CPU while timing (give `flag` to choose)" or "; not stable: ...".
std::string decision_caveat(bool stable, double others_cpu_share, const std::string& flag);
MeasuredDecision decide_by_measurement(std::vector<MeasuredCandidate>& candidates, double margin);
inline size_t choose_by_measurement(std::vector<MeasuredCandidate>& candidates, double margin) {
  return decide_by_measurement(candidates, margin).chosen;
}

}  // namespace nimble
