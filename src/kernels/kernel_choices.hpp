#pragma once
// The implementation choices this process made by timing (kernels/fastest_implementation.hpp),
// kept with a training checkpoint: training times some layers' kernels against other forms that
// round differently, so a resumed run must compile the kernels the interrupted run chose to
// continue bit for bit. Internal; light (no oneDNN headers).
#include <string>

namespace nimble::kernels {

// The choices this process computed with (timed, read from the machine file or adopted), as a
// JSON object (key -> choice).
std::string kernel_choices_json();
// Makes `json` (from kernel_choices_json, possibly of another process) this process's choices for
// those keys, replacing any made here. Throws Error when it is not such an object.
void adopt_kernel_choices(const std::string& json);

}  // namespace nimble::kernels
