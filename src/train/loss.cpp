#include "nimble/train/loss.hpp"

#include <cmath>

#include "nimble/core/error.hpp"

namespace nimble::train {

LossResult cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels, int64_t count, float label_smoothing,
                         Tensor* diff_logits) {
  NIMBLE_CHECK(logits.shape().rank() == 2,
               "cross_entropy needs logits of shape (N, classes), got " + logits.shape().str());
  const int64_t n = logits.shape()[0], c = logits.shape()[1];
  NIMBLE_CHECK(count >= 0 && count <= n && int64_t(labels.size()) >= count, "cross_entropy: fewer labels than rows");
  NIMBLE_CHECK(label_smoothing >= 0.0f && label_smoothing < 1.0f, "label smoothing must be in [0, 1)");
  if (diff_logits) {
    if (diff_logits->shape() != logits.shape()) *diff_logits = Tensor(logits.shape());
    diff_logits->zero();
  }
  LossResult r;
  const float* x = logits.data<float>();  // (N, C)
  const double off = label_smoothing / double(c), on = 1.0 - label_smoothing + off;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t y = labels[i];
    NIMBLE_CHECK(y >= 0 && y < c,
                 "label " + std::to_string(y) + " is outside the model's " + std::to_string(c) + " classes");
    const float* row = x + i * c;
    int64_t arg = 0;
    for (int64_t j = 1; j < c; ++j)
      if (row[j] > row[arg]) arg = j;
    r.correct += arg == y;
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(double(row[j]) - row[arg]);
    const double log_z = std::log(sum) + row[arg];
    double loss = 0;
    for (int64_t j = 0; j < c; ++j) {
      const double target = j == y ? on : off;
      loss -= target * (row[j] - log_z);
      if (diff_logits) diff_logits->data<float>()[i * c + j] = float((std::exp(row[j] - log_z) - target) / count);
    }
    r.loss += loss;
  }
  if (count > 0) r.loss /= double(count);
  return r;
}

}  // namespace nimble::train
