// Knowledge distillation: the soft-target loss against hand-computed values and finite
// differences, its T^2 scaling, the hint adapter's shapes and gradients, gradients injected at a
// hidden value of a Session, and alpha = 0 reproducing plain training bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "data_test_util.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/distill/losses.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

Tensor row_tensor(std::vector<std::vector<float>> rows) {
  Tensor t({int64_t(rows.size()), int64_t(rows[0].size())});
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(rows[i].begin(), rows[i].end(), t.data<float>() + i * rows[0].size());
  return t;
}

TEST(KdLoss, MatchesAHandComputedValue) {
  // One row, two classes, T = 2: p_t = softmax([2, 0] / 2) = [e/(e+1), 1/(e+1)], p_s = [1/2, 1/2].
  const Tensor s = row_tensor({{1.0f, 1.0f}}), t = row_tensor({{2.0f, 0.0f}});
  const double e = std::exp(1.0), pt0 = e / (e + 1), pt1 = 1 / (e + 1);
  const double kl = pt0 * std::log(pt0 / 0.5) + pt1 * std::log(pt1 / 0.5);
  EXPECT_NEAR(distill::kd_loss(s, t, 1, 2.0f, 1.0f, nullptr), 4.0 * kl, 1e-9);
  // The gradient: T * (p_s - p_t) / count.
  Tensor d({1, 2});
  distill::kd_loss(s, t, 1, 2.0f, 1.0f, &d);
  EXPECT_NEAR(d.data<float>()[0], 2.0 * (0.5 - pt0), 1e-6);
  EXPECT_NEAR(d.data<float>()[1], 2.0 * (0.5 - pt1), 1e-6);
  // Identical logits: zero loss, zero gradient.
  Tensor z({1, 2});
  EXPECT_NEAR(distill::kd_loss(t, t, 1, 3.0f, 1.0f, &z), 0.0, 1e-12);
  EXPECT_EQ(z.data<float>()[0], 0.0f);
}

TEST(KdLoss, GradientMatchesFiniteDifferencesAndScalesWithTSquared) {
  Rng rng(3);
  const Tensor t = random_tensor({4, 10}, rng, -3.0f, 3.0f);
  Tensor s = random_tensor({4, 10}, rng, -3.0f, 3.0f);
  for (float temp : {1.0f, 4.0f}) {
    Tensor d({4, 10});
    distill::kd_loss(s, t, 3, temp, 0.7f, &d);  // the 4th row does not count
    for (int64_t i = 0; i < s.numel(); ++i) {
      const float keep = s.data<float>()[i];
      const double h = 1e-3;
      s.data<float>()[i] = keep + float(h);
      const double up = distill::kd_loss(s, t, 3, temp, 1.0f, nullptr);
      s.data<float>()[i] = keep - float(h);
      const double down = distill::kd_loss(s, t, 3, temp, 1.0f, nullptr);
      s.data<float>()[i] = keep;
      EXPECT_NEAR(d.data<float>()[i], 0.7 * (up - down) / (2 * h), 2e-4) << "T " << temp << " element " << i;
    }
  }
  // T^2: at a high temperature the soft loss is ~ (1/(2 T^2)) * variance-like term times T^2, so it
  // stays of order one instead of vanishing like the unscaled KL does.
  const double k4 = distill::kd_loss(s, t, 4, 4.0f, 1.0f, nullptr), k8 = distill::kd_loss(s, t, 4, 8.0f, 1.0f, nullptr);
  EXPECT_GT(k8, 0.5 * k4);
  EXPECT_LT(k8, 1.5 * k4);
  // Without the T^2 factor the KL alone falls ~4x from T = 4 to 8.
  EXPECT_NEAR((k8 / 64) / (k4 / 16), 0.25, 0.15);
}

TEST(HintAdapter, ShapesAndGradientsMatchFiniteDifferences) {
  distill::HintAdapter a(3, 5, 1);
  EXPECT_EQ(a.weights().shape(), Shape({5, 3}));
  EXPECT_EQ(a.bias().shape(), Shape({5}));
  Rng rng(2);
  Tensor s = random_tensor({2, 3, 4, 4}, rng), t = random_tensor({2, 5, 4, 4}, rng);
  Tensor ds(s.shape());
  a.loss(s, t, 2, 0.5f, ds);
  const Tensor dw = a.weights_grad().clone(), db = a.bias_grad().clone();
  Tensor scratch(s.shape());
  auto value = [&] { return 0.5 * a.loss(s, t, 2, 1.0f, scratch); };
  auto check = [&](Tensor& x, const Tensor& analytic, const char* what) {
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float keep = x.data<float>()[i];
      x.data<float>()[i] = keep + 1e-2f;
      const double up = value();
      x.data<float>()[i] = keep - 1e-2f;
      const double down = value();
      x.data<float>()[i] = keep;
      EXPECT_NEAR(analytic.data<float>()[i], (up - down) / 2e-2, 1e-4) << what << "[" << i << "]";
    }
  };
  check(s, ds, "student");
  check(a.weights(), dw, "weights");
  check(a.bias(), db, "bias");
  // Mismatched spatial sizes are a one-line error.
  Tensor t_small = random_tensor({2, 5, 2, 2}, rng);
  EXPECT_NE(data::testing::error_of([&] { a.loss(s, t_small, 2, 1.0f, ds); }).find("spatial"), std::string::npos);
}

TEST(Session, GradientsInjectedAtAHiddenValueReachTheParameters) {
  // backward(0 at the output, g at a hidden value v) must equal d<g, v>/d(params). A smooth
  // network (no ReLU or max-pool kinks) so that finite differences are exact enough to compare.
  Graph g;
  Rng init(1);
  const int x0 = g.add_input("x", Shape({2, 6, 6}));
  auto conv = [&](const char* name, int in, int64_t oc) {
    return g.add_node(
        OpKind::conv2d, name, {in},
        {{"out_channels", oc}, {"kernel", std::vector<int64_t>{3, 3}}, {"padding", std::vector<int64_t>{1, 1}}}, &init);
  };
  const int a = conv("a", x0, 4);
  const int bn = g.add_node(OpKind::batch_norm2d, "bn", {a}, {}, &init);
  const int b = conv("b", bn, 6);
  const int gap = g.add_node(OpKind::global_avg_pool, "gap", {b}, {}, &init);
  const int flat = g.add_node(OpKind::flatten, "flat", {gap}, {}, &init);
  g.set_output(g.add_node(OpKind::linear, "fc", {flat}, {{"out_features", int64_t(3)}}, &init));
  Session s(g, {3, Mode::train, true, Precision::fp32});
  Rng rng(4);
  const Tensor x = random_tensor({3, 2, 6, 6}, rng);
  for (const char* hidden_name : {"b", "bn"}) {
    int hidden = -1;
    for (const Node& n : s.graph().nodes())
      if (n.name == hidden_name) hidden = n.output;
    ASSERT_GE(hidden, 0);
    s.forward(x);
    const Tensor gv = random_tensor(s.value(hidden).shape(), rng);
    s.backward(Tensor(Shape({3, 3})), {{hidden, gv}});
    const Tensor analytic = g.nodes()[0].params.at("weights")->grad.clone();  // a feeds both
    auto objective = [&] {
      s.forward(x);
      const Tensor h = s.value(hidden);
      double sum = 0;
      for (int64_t i = 0; i < h.numel(); ++i) sum += double(h.data<float>()[i]) * gv.data<float>()[i];
      return sum;
    };
    Param& w = *g.nodes()[0].params.at("weights");
    for (int64_t i = 0; i < w.data.numel(); i += 7) {
      const float keep = w.data.data<float>()[i];
      w.data.data<float>()[i] = keep + 1e-2f;
      w.touch();
      const double up = objective();
      w.data.data<float>()[i] = keep - 1e-2f;
      w.touch();
      const double down = objective();
      w.data.data<float>()[i] = keep;
      w.touch();
      const double fd = (up - down) / 2e-2;
      EXPECT_NEAR(analytic.data<float>()[i], fd, 2e-3 + 1e-2 * std::fabs(fd)) << hidden_name << " weight " << i;
    }
  }
  EXPECT_NE(data::testing::error_of([&] {
              s.backward(Tensor(Shape({3, 3})), {{a, Tensor(Shape({1}))}});
            }).find("gradient"),
            std::string::npos);
}

data::ImageSet stripes(int64_t n) {
  std::vector<uint8_t> px(size_t(n * 784));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  Rng rng(9);
  for (int64_t i = 0; i < n; ++i) {
    labels[size_t(i)] = int32_t(i % 10);
    for (int64_t p = 0; p < 784; ++p)
      px[size_t(i * 784 + p)] = uint8_t((p / 28) % 10 == i % 10 ? 200 : rng.uniform(0.0f, 60.0f));
  }
  return data::testing::make_set(n, 1, 28, 28, px, labels, 10);
}

Graph trained_cnn(const data::ImageSet& set, const data::Normalization& norm, uint64_t seed,
                  const std::shared_ptr<train::TrainerHook>& hook = nullptr) {
  zoo::ModelConfig c;
  c.name = "cnn";
  c.seed = seed;
  Graph g = zoo::build(c);
  train::TrainConfig tc;
  tc.epochs = 1;
  tc.batch = 32;
  tc.progress = false;
  tc.seed = seed;
  train::Trainer t(g, tc);
  if (hook) t.add_hook(hook);
  t.fit(set, {}, norm);
  return g;
}

TEST(Distillation, AlphaZeroIsPlainTrainingBitForBitAndAlphaOneFollowsTheTeacher) {
  const data::ImageSet set = stripes(128);
  const data::Normalization norm = data::compute_normalization(set);
  const Graph teacher = trained_cnn(set, norm, 7);
  zoo::ModelConfig c;
  c.name = "cnn";
  const Graph student_shape = zoo::build(c);

  distill::DistillConfig off;
  off.alpha = 0.0f;
  const Graph plain = trained_cnn(set, norm, 1);
  const Graph alpha0 = trained_cnn(
      set, norm, 1,
      std::make_shared<distill::Distillation>(teacher, Precision::fp32, norm, norm, student_shape, off, 32));
  const auto a = plain.named_params(), b = alpha0.named_params();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(std::memcmp(a[i].second->data.raw(), b[i].second->data.raw(), a[i].second->data.nbytes()), 0)
        << a[i].first;

  // alpha = 1 with cached logits: the student now learns from the teacher only, so it differs.
  distill::DistillConfig soft;
  soft.alpha = 1.0f;
  soft.cache_teacher = true;
  auto hook = std::make_shared<distill::Distillation>(teacher, Precision::fp32, norm, norm, student_shape, soft, 32);
  hook->cache_logits(set, norm);
  const Graph alpha1 = trained_cnn(set, norm, 1, hook);
  EXPECT_GT(hook->last_kd_loss(), 0.0);
  EXPECT_NE(
      std::memcmp(a[0].second->data.raw(), alpha1.named_params()[0].second->data.raw(), a[0].second->data.nbytes()), 0);
  // Hints name layers both models have; a wrong name is a one-line error naming it.
  distill::DistillConfig bad;
  bad.hints = {{"conv1", "nope"}};
  EXPECT_NE(data::testing::error_of([&] {
              distill::Distillation(teacher, Precision::fp32, norm, norm, student_shape, bad, 32);
            }).find("nope"),
            std::string::npos);
  EXPECT_NE(data::testing::error_of([&] { distill::parse_hint("a:b:c"); }).find("--hint"), std::string::npos);
}

TEST(Distillation, HintsTrainThroughTheAdapter) {
  const data::ImageSet set = stripes(64);
  const data::Normalization norm = data::compute_normalization(set);
  const Graph teacher = trained_cnn(set, norm, 7);
  zoo::ModelConfig c;
  c.name = "cnn";
  distill::DistillConfig cfg;
  cfg.hints = {{"relu1", "relu1"}};  // fused into bn1 while training: resolved to it
  auto hook = std::make_shared<distill::Distillation>(teacher, Precision::fp32, norm, norm, zoo::build(c), cfg, 32);
  trained_cnn(set, norm, 2, hook);
  EXPECT_GT(hook->hint_seconds(), 0.0);
  EXPECT_GT(hook->teacher_seconds(), 0.0);
}

}  // namespace
}  // namespace nimble::testing
