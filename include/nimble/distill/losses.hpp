#pragma once
// Distillation losses, each returning its value and adding weight * its gradient.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nimble/core/tensor.hpp"

namespace nimble::distill {

// Hinton et al. (2015): T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over the
// first `count` rows of (N, C) logits; the T^2 keeps its gradient's scale independent of T. When
// `diff` is given, adds `weight` * d(loss)/d(student) = weight * T * (p_student - p_teacher) / count
// to it. Computed in double.
double kd_loss(const Tensor& student, const Tensor& teacher, int64_t count, float temperature, float weight,
               Tensor* diff);

// Feature (hint) distillation, FitNets-style: a learned 1x1 convolution maps the student's
// (N, Cs, H, W) feature to the teacher's (N, Ct, H, W); the loss is the mean squared error over
// the first `count` samples. The adapter trains with its own SGD (momentum 0.9).
class HintAdapter {
 public:
  HintAdapter(int64_t student_channels, int64_t teacher_channels, uint64_t seed);
  // Loss value; adds weight * d(loss)/d(student) to `diff_student` (same shape as `student`) and
  // keeps d(loss)/d(adapter) for step().
  double loss(const Tensor& student, const Tensor& teacher, int64_t count, float weight, Tensor& diff_student);
  void step(float lr);
  Tensor& weights() { return w_; }  // (Ct, Cs)
  Tensor& bias() { return b_; }     // (Ct)
  const Tensor& weights_grad() const { return dw_; }
  const Tensor& bias_grad() const { return db_; }
  // What continues its training: weights, bias and their momentum ("weights", "bias",
  // "weights_momentum", "bias_momentum").
  std::vector<std::pair<std::string, Tensor*>> state();

 private:
  Tensor w_, b_, dw_, db_, vw_, vb_;
};

}  // namespace nimble::distill
