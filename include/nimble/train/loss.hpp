#pragma once
#include <cstdint>
#include <vector>

#include "nimble/core/tensor.hpp"

namespace nimble::train {

struct LossResult {
  double loss = 0;      // mean over the counted rows
  int64_t correct = 0;  // rows whose arg-max equals the label
};

// Cross-entropy of logits (N, C) against integer labels with label smoothing (PyTorch semantics:
// target = (1 - s) * one_hot + s / C). Only the first `count` rows take part; when diff_logits is
// given it receives d(mean loss)/d(logits), zero on the uncounted rows. Computed in fp32/double.
LossResult cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels, int64_t count, float label_smoothing,
                         Tensor* diff_logits);

}  // namespace nimble::train
