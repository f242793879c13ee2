#pragma once
// `nimble quantize` as a function, so `nimble train --qat` ends its run with the same
// quantization-aware fine-tuning and conversion.
#include <string>

#include "cli/common.hpp"

namespace nimble::cli {

struct QuantizeArgs {
  std::string model, out, data = kDefaultData, observer = "minmax", keep_float;
  std::string precision = "auto";
  int64_t calib = 512, batch = 256, iters = 50, qat_epochs = 0;
  double max_drop = -1, qat_lr = 0.001;
  uint64_t seed = 0;
  bool json_out = false, no_speed_gate = false, dynamic = false;
  TeacherArgs teacher;  // distillation during quantization-aware training
};

// Quantizes the checkpoint a.model into a.out and returns the report `--json` prints (progress
// goes to stderr; a.json_out only turns the per-epoch progress of QAT off).
json quantize_checkpoint(const QuantizeArgs& a);

}  // namespace nimble::cli
