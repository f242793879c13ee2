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
  void update(int64_t done, int64_t samples, const std::string& metrics);
  void finish(const std::string& summary);

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace nimble::train
