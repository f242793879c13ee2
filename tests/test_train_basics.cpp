#include <gtest/gtest.h>

#include <cmath>

#include "nimble/core/error.hpp"
#include "nimble/train/loss.hpp"
#include "nimble/train/optimizer.hpp"
#include "nimble/train/schedule.hpp"

namespace nimble::train {
namespace {

TEST(CrossEntropy, HandComputedValueAndGradient) {
  Tensor logits({2, 3});
  float v[] = {1.0f, 2.0f, 3.0f, 0.5f, 0.5f, -1.0f};
  std::memcpy(logits.raw(), v, sizeof v);
  std::vector<int32_t> y = {2, 0};
  Tensor diff;
  LossResult r = cross_entropy(logits, y, 2, 0.0f, &diff);
  // -log softmax: row 0 at 3 -> log(e^1+e^2+e^3) - 3; row 1 at 0.5 -> log(2e^0.5 + e^-1) - 0.5
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  const double l1 = std::log(2 * std::exp(0.5) + std::exp(-1.0)) - 0.5;
  EXPECT_NEAR(r.loss, (l0 + l1) / 2, 1e-6);
  EXPECT_EQ(r.correct, 2);  // row 1 ties at classes 0 and 1: arg-max picks the first, 0
  const double z0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(diff.data<float>()[0], (std::exp(1.0) / z0) / 2, 1e-6);
  EXPECT_NEAR(diff.data<float>()[2], (std::exp(3.0) / z0 - 1.0) / 2, 1e-6);
}

TEST(CrossEntropy, LabelSmoothingMatchesDefinitionAndFiniteDifferences) {
  Tensor logits({3, 5});
  Rng rng(3);
  for (int64_t i = 0; i < logits.numel(); ++i) logits.data<float>()[i] = rng.uniform(-2, 2);
  std::vector<int32_t> y = {4, 0, 2};
  const float s = 0.2f;
  Tensor diff;
  double loss = cross_entropy(logits, y, 3, s, &diff).loss;
  double want = 0;
  for (int i = 0; i < 3; ++i) {
    const float* row = logits.data<float>() + i * 5;
    double z = 0;
    for (int j = 0; j < 5; ++j) z += std::exp(double(row[j]));
    for (int j = 0; j < 5; ++j) want -= ((j == y[i] ? 1 - s : 0) + s / 5) * (row[j] - std::log(z));
  }
  EXPECT_NEAR(loss, want / 3, 1e-6);
  for (int64_t i = 0; i < logits.numel(); ++i) {
    float& e = logits.data<float>()[i];
    const float keep = e;
    e = keep + 1e-3f;
    double up = cross_entropy(logits, y, 3, s, nullptr).loss;
    e = keep - 1e-3f;
    double down = cross_entropy(logits, y, 3, s, nullptr).loss;
    e = keep;
    EXPECT_NEAR(diff.data<float>()[i], (up - down) / 2e-3, 2e-4) << i;
  }
}

TEST(CrossEntropy, PaddedRowsAreIgnoredAndBadLabelsRejected) {
  Tensor logits({3, 2});
  logits.data<float>()[4] = 100.0f;  // row 2 is padding
  Tensor diff;
  LossResult r = cross_entropy(logits, {0, 1, -1}, 2, 0.0f, &diff);
  EXPECT_NEAR(r.loss, std::log(2.0), 1e-6);
  EXPECT_EQ(diff.data<float>()[4], 0.0f);
  EXPECT_THROW(cross_entropy(logits, {0, 7, 0}, 2, 0.0f, nullptr), Error);
}

Graph one_param_graph(float w0, float g0) {
  Graph g;
  int x = g.add_input("x", {1});
  (void)x;
  // A graph with a single parameter: build a node by hand (the optimizer only sees params).
  Node n;
  n.name = "p";
  n.op = OpKind::relu;
  auto p = std::make_shared<Param>();
  p->data = Tensor({1});
  p->grad = Tensor({1});
  p->data.data<float>()[0] = w0;
  p->grad.data<float>()[0] = g0;
  n.params["w"] = p;
  n.inputs = {0};
  g.nodes().push_back(n);
  return g;
}

TEST(Optimizer, SgdNesterovMatchesPyTorchFormula) {
  Graph g = one_param_graph(1.0f, 0.5f);
  OptimizerConfig c;
  c.momentum = 0.9f;
  c.weight_decay = 0.1f;
  Optimizer opt(g, c);
  Param& p = *g.nodes()[0].params["w"];
  const uint64_t v0 = p.version;
  opt.step(0.1f);
  // d = 0.5 + 0.1*1 = 0.6; buf = 0.6; w -= 0.1 * (0.6 + 0.9*0.6)
  EXPECT_NEAR(p.data.data<float>()[0], 1.0f - 0.1f * (0.6f + 0.54f), 1e-6);
  EXPECT_GT(p.version, v0);
  const float w1 = p.data.data<float>()[0];
  opt.step(0.1f);
  const float d2 = 0.5f + 0.1f * w1, buf2 = 0.9f * 0.6f + d2;
  EXPECT_NEAR(p.data.data<float>()[0], w1 - 0.1f * (d2 + 0.9f * buf2), 1e-6);
}

TEST(Optimizer, AdamWMatchesFormula) {
  Graph g = one_param_graph(1.0f, 0.5f);
  OptimizerConfig c;
  c.kind = "adamw";
  c.weight_decay = 0.01f;
  Optimizer opt(g, c);
  opt.step(0.1f);
  // step 1: w *= 1 - lr*wd; m_hat = g, v_hat = g^2 -> w -= lr * g / (|g| + eps)
  const float want = 1.0f * (1 - 0.1f * 0.01f) - 0.1f * 0.5f / (0.5f + 1e-8f);
  EXPECT_NEAR(g.nodes()[0].params["w"]->data.data<float>()[0], want, 1e-6);
}

TEST(Optimizer, ClipsTheGlobalGradientNorm) {
  Graph g = one_param_graph(0.0f, 10.0f);
  OptimizerConfig c;
  c.momentum = 0.0f;
  c.weight_decay = 0.0f;
  c.nesterov = false;
  c.clip_grad_norm = 1.0f;
  Optimizer opt(g, c);
  EXPECT_NEAR(opt.step(1.0f), 10.0, 1e-6);
  EXPECT_NEAR(g.nodes()[0].params["w"]->data.data<float>()[0], -1.0f, 1e-5);
}

TEST(Schedule, CosineWithWarmupAndStep) {
  ScheduleConfig s;
  s.lr = 1.0f;
  s.warmup_steps = 10;
  EXPECT_NEAR(learning_rate(s, 0, 110), 0.1f, 1e-6);
  EXPECT_NEAR(learning_rate(s, 9, 110), 1.0f, 1e-6);
  EXPECT_NEAR(learning_rate(s, 10, 110), 1.0f, 1e-6);
  EXPECT_NEAR(learning_rate(s, 60, 110), 0.5f, 1e-6);
  EXPECT_NEAR(learning_rate(s, 110, 110), 0.0f, 1e-6);
  ScheduleConfig st;
  st.kind = "step";
  st.lr = 1.0f;
  st.step_size = 5;
  st.gamma = 0.5f;
  EXPECT_NEAR(learning_rate(st, 4, 100), 1.0f, 1e-6);
  EXPECT_NEAR(learning_rate(st, 5, 100), 0.5f, 1e-6);
  EXPECT_NEAR(learning_rate(st, 12, 100), 0.25f, 1e-6);
  st.step_size = 0;
  EXPECT_THROW(validate_schedule(st), Error);
  ScheduleConfig bad;
  bad.kind = "linear";
  EXPECT_THROW(validate_schedule(bad), Error);
}

}  // namespace
}  // namespace nimble::train
