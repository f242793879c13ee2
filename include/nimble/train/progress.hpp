#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace nimble::train {

// Progress of long work on stderr: a redrawn bar with rate and ETA on a terminal, a plain line
// per finished unit when stderr is piped.
class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled);
  // This unit is one of several of a longer run (an epoch of a training run): the ETA shown is the
  // run's, `after` more steps follow this unit's `total`.
  void set_steps_after(int64_t after) { after_ = after; }
  void update(int64_t done, int64_t samples, const std::string& metrics);
  void finish(const std::string& summary);

 private:
  std::string label_;
  int64_t total_, after_ = 0;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// While alive, every progress line of this thread starts with `context` (a workflow's stage, say
// "optimize [4/7] distill"), so nested work says what it belongs to. Scopes nest.
class ProgressScope {
 public:
  explicit ProgressScope(const std::string& context);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

 private:
  std::string previous_;
};

}  // namespace nimble::train
