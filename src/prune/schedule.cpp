#include "nimble/prune/schedule.hpp"

#include <algorithm>

namespace nimble::prune {

double CubicSchedule::at(int64_t step) const {
  if (step <= begin) return end <= begin ? target : initial;
  if (step >= end) return target;
  const double left = 1.0 - double(step - begin) / double(end - begin);
  return target + (initial - target) * left * left * left;
}

bool CubicSchedule::is_update_step(int64_t step) const {
  if (step < begin || step > end) return false;
  return step == end || (step - begin) % std::max<int64_t>(every, 1) == 0;
}

}  // namespace nimble::prune
