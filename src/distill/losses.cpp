#include "nimble/distill/losses.hpp"

#include <cmath>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"

namespace nimble::distill {

namespace {
// softmax(x / T) of one row, in double.
void softmax_row(const float* x, int64_t c, double temperature, std::vector<double>& p) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < c; ++j) mx = std::max(mx, double(x[j]) / temperature);
  double sum = 0;
  for (int64_t j = 0; j < c; ++j) sum += (p[size_t(j)] = std::exp(double(x[j]) / temperature - mx));
  for (int64_t j = 0; j < c; ++j) p[size_t(j)] /= sum;
}
}  // namespace

double kd_loss(const Tensor& student, const Tensor& teacher, int64_t count, float temperature, float weight,
               Tensor* diff) {
  NIMBLE_CHECK(student.shape() == teacher.shape() && student.shape().rank() == 2,
               "distillation: student logits " + student.shape().str() + " and teacher logits " +
                   teacher.shape().str() + " differ (the models must have the same classes)");
  NIMBLE_CHECK(temperature > 0, "distillation: the temperature must be positive");
  const int64_t c = student.shape()[1];
  count = std::min(count, student.shape()[0]);
  std::vector<double> ps(static_cast<size_t>(c)), pt(static_cast<size_t>(c));
  double total = 0;
  const double t = temperature;
  for (int64_t i = 0; i < count; ++i) {
    softmax_row(student.data<float>() + i * c, c, t, ps);
    softmax_row(teacher.data<float>() + i * c, c, t, pt);
    for (int64_t j = 0; j < c; ++j)
      if (pt[size_t(j)] > 0)
        total += pt[size_t(j)] * (std::log(pt[size_t(j)]) - std::log(std::max(ps[size_t(j)], 1e-300)));
    if (diff) {
      float* d = diff->data<float>() + i * c;
      for (int64_t j = 0; j < c; ++j) d[j] += float(weight * t * (ps[size_t(j)] - pt[size_t(j)]) / double(count));
    }
  }
  return count > 0 ? t * t * total / double(count) : 0.0;
}

HintAdapter::HintAdapter(int64_t cs, int64_t ct, uint64_t seed)
    : w_(Shape({ct, cs})),
      b_(Shape({ct})),
      dw_(Shape({ct, cs})),
      db_(Shape({ct})),
      vw_(Shape({ct, cs})),
      vb_(Shape({ct})) {
  Rng rng(seed);
  const float bound = 1.0f / std::sqrt(float(cs));
  for (int64_t i = 0; i < w_.numel(); ++i) w_.data<float>()[i] = rng.uniform(-bound, bound);
}

double HintAdapter::loss(const Tensor& s, const Tensor& t, int64_t count, float weight, Tensor& ds) {
  const int64_t ct = w_.shape()[0], cs = w_.shape()[1];
  NIMBLE_CHECK(s.shape().rank() == 4 && t.shape().rank() == 4 && s.shape()[1] == cs && t.shape()[1] == ct &&
                   s.shape()[0] == t.shape()[0] && s.shape()[2] == t.shape()[2] && s.shape()[3] == t.shape()[3],
               "hint: student feature " + s.shape().str() + " and teacher feature " + t.shape().str() +
                   " need the same batch and spatial size (the adapter maps channels only)");
  const int64_t hw = s.shape()[2] * s.shape()[3];
  count = std::min(count, s.shape()[0]);
  const double denom = double(count) * double(ct) * double(hw);
  const float* W = w_.data<float>();
  dw_.zero();
  db_.zero();
  double total = 0;
  std::vector<float> y(size_t(ct * hw)), dy(size_t(ct * hw));
  for (int64_t n = 0; n < count; ++n) {
    const float* sn = s.data<float>() + n * cs * hw;
    const float* tn = t.data<float>() + n * ct * hw;
    float* dsn = ds.data<float>() + n * cs * hw;
    for (int64_t o = 0; o < ct; ++o)
      for (int64_t p = 0; p < hw; ++p) y[size_t(o * hw + p)] = b_.data<float>()[o];
    for (int64_t o = 0; o < ct; ++o)
      for (int64_t c = 0; c < cs; ++c) {
        const float w = W[o * cs + c];
        for (int64_t p = 0; p < hw; ++p) y[size_t(o * hw + p)] += w * sn[c * hw + p];
      }
    for (int64_t k = 0; k < ct * hw; ++k) {
      const double e = double(y[size_t(k)]) - tn[k];
      total += e * e;
      dy[size_t(k)] = float(2.0 * e / denom);
    }
    for (int64_t o = 0; o < ct; ++o)
      for (int64_t c = 0; c < cs; ++c) {
        double g = 0;
        for (int64_t p = 0; p < hw; ++p) g += double(dy[size_t(o * hw + p)]) * sn[c * hw + p];
        dw_.data<float>()[o * cs + c] += float(weight * g);
        const float w = W[o * cs + c] * weight;
        for (int64_t p = 0; p < hw; ++p) dsn[c * hw + p] += w * dy[size_t(o * hw + p)];
      }
    for (int64_t o = 0; o < ct; ++o) {
      double g = 0;
      for (int64_t p = 0; p < hw; ++p) g += dy[size_t(o * hw + p)];
      db_.data<float>()[o] += float(weight * g);
    }
  }
  return count > 0 ? total / denom : 0.0;
}

std::vector<std::pair<std::string, Tensor*>> HintAdapter::state() {
  return {{"weights", &w_}, {"bias", &b_}, {"weights_momentum", &vw_}, {"bias_momentum", &vb_}};
}

void HintAdapter::step(float lr) {
  auto update = [lr](Tensor& p, Tensor& v, const Tensor& g) {
    for (int64_t i = 0; i < p.numel(); ++i) {
      v.data<float>()[i] = 0.9f * v.data<float>()[i] + g.data<float>()[i];
      p.data<float>()[i] -= lr * v.data<float>()[i];
    }
  };
  update(w_, vw_, dw_);
  update(b_, vb_, db_);
}

}  // namespace nimble::distill
