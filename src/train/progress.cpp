#include "nimble/train/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace nimble::train {

namespace {
thread_local std::string progress_context;

std::string duration(double seconds) {
  const int64_t s = std::llround(seconds);
  char text[32];
  if (s >= 60) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  }
  return text;
}
}  // namespace

ProgressScope::ProgressScope(const std::string& context) : previous_(progress_context) {
  progress_context = previous_.empty() ? context : previous_ + " " + context;
}

ProgressScope::~ProgressScope() { progress_context = previous_; }

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(progress_context.empty() ? std::move(label) : progress_context + " " + label),
      total_(total),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t done, int64_t samples, const std::string& metrics) {
  if (!enabled_ || !tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? samples / secs : 0;
  const double eta = done > 0 ? secs * double(total_ + after_ - done) / double(done) : 0;
  const int width = 24, filled = total_ ? int(width * done / total_) : width;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r%s [%s] %3d%% %7.0f samples/s  %s  ETA %s\033[K", label_.c_str(), bar.c_str(),
               total_ ? int(100 * done / total_) : 100, rate, metrics.c_str(), duration(eta).c_str());
  std::fflush(stderr);
}

void Progress::finish(const std::string& summary) {
  if (!enabled_) return;
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s %s\n", label_.c_str(), summary.c_str());
  std::fflush(stderr);
}

}  // namespace nimble::train
