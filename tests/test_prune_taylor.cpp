// The taylor channel criterion: its scores are the first-order loss change of removing a channel
// (checked against finite differences of the loss), plans follow them, and the gradual-pruning hook
// ranks by the fine-tuning's own gradients, also across a checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data_test_util.hpp"
#include "nimble/prune/gradual.hpp"
#include "nimble/prune/taylor.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/loss.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

// Batch-norm scales and shifts away from their initial 1 and 0, so that both terms of a score count.
Graph cnn(double width) {
  zoo::ModelConfig c;
  c.name = "cnn";
  c.width = width;
  c.seed = 3;
  Graph g = zoo::build(c);
  Rng rng(11);
  for (Node& n : g.nodes())
    if (n.op == OpKind::batch_norm2d) {
      Tensor& scale = n.params.at("scale")->data;
      Tensor& shift = n.params.at("shift")->data;
      scale = random_tensor(scale.shape(), rng, 0.5f, 1.5f);
      shift = random_tensor(shift.shape(), rng, -0.5f, 0.5f);
    }
  return g;
}

// Label = which quadrant of a 28x28 image is bright.
data::ImageSet quadrants(int64_t n) {
  std::vector<uint8_t> px(size_t(n * 28 * 28), 0);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  Rng rng(4);
  for (int64_t i = 0; i < n; ++i) {
    const int q = int(i % 4);
    labels[size_t(i)] = q;
    for (int y = 0; y < 14; ++y)
      for (int x = 0; x < 14; ++x)
        px[size_t(i * 784 + (y + 14 * (q / 2)) * 28 + x + 14 * (q % 2))] = uint8_t(rng.uniform(120.0f, 255.0f));
  }
  return data::testing::make_set(n, 1, 28, 28, px, labels, 10);
}

// The mean cross-entropy of `g` on `b` in training mode (batch statistics), as taylor_scores sees it.
double train_loss(const Graph& g, const data::Batch& b) {
  Graph work = g.clone();
  Session s(work, {b.count, Mode::train, true, Precision::fp32});
  return train::cross_entropy(s.forward(b.images), b.labels, b.count, 0.0f, nullptr).loss;
}

// Every producer parameter of class `cls` (conv / linear rows and biases, batch-norm entries)
// scaled by `factor`: at 0 the class is pruned.
void scale_class(Graph& g, const prune::ChannelGraph& cg, int cls, float factor) {
  for (size_t m = 0; m < cg.members.size(); ++m) {
    if (cg.class_of[m] != cls) continue;
    const auto [v, c] = cg.members[m];
    const int producer = g.values()[size_t(v)].producer;
    if (producer < 0) continue;
    Node& n = g.nodes()[size_t(producer)];
    for (const char* key : {"weights", "bias", "scale", "shift"}) {
      const ParamPtr p = n.param_ptr(key);
      if (!p || (n.op != OpKind::batch_norm2d && (key == std::string("scale") || key == std::string("shift"))))
        continue;
      const int64_t len = p->data.numel() / p->data.shape()[0];
      for (int64_t i = 0; i < len; ++i) p->data.data<float>()[c * len + i] *= factor;
    }
  }
}

TEST(TaylorScores, AreTheSquaredDerivativeOfTheLossAlongRemovingAChannel) {
  const data::ImageSet set = quadrants(32);
  const data::Normalization norm = data::compute_normalization(set);
  const Graph g = cnn(0.25);
  const prune::ChannelGraph cg(g);
  // One batch of the whole set: the score of a class is (sum of p * dL/dp over its parameters)^2,
  // and scaling the class by (1 - eps) changes the loss by -eps times that sum.
  const std::vector<double> scores = prune::taylor_scores(g, set, norm, 32, 32);
  ASSERT_EQ(scores.size(), cg.space_of_class.size());
  data::BatchLoader loader(set, norm, 32, false, true);
  loader.start_epoch(0);
  data::Batch b;
  ASSERT_TRUE(loader.next(b));
  const double base = train_loss(g, b);
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int c) { return scores[size_t(a)] > scores[size_t(c)]; });
  ASSERT_GT(scores[size_t(order[0])], 1e-8);
  const float eps = 1e-2f;
  int checked = 0;
  for (int k = 0; k < 6; ++k) {  // the classes that matter most, where the difference is far above rounding
    const int cls = order[size_t(k)];
    Graph moved = g.clone();
    scale_class(moved, cg, cls, 1.0f - eps);
    const double derivative = (train_loss(moved, b) - base) / eps;  // d loss / d t along p -> (1 - t) p
    EXPECT_NEAR(derivative * derivative, scores[size_t(cls)], 0.15 * scores[size_t(cls)]) << "class " << cls;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
  // The graph it was given is untouched: its batch-norm statistics did not move.
  for (const Node& n : g.nodes())
    if (n.op == OpKind::batch_norm2d) {
      const Tensor& mean = n.param("running_mean").data;
      for (int64_t i = 0; i < mean.numel(); ++i) ASSERT_EQ(mean.data<float>()[i], 0.0f);
    }
}

TEST(TaylorScores, PlansPruneTheLowestScoresAndNeedThem) {
  const Graph g = cnn(1.0);
  const prune::ChannelGraph cg(g);
  std::vector<double> scores(cg.space_of_class.size(), 1.0);
  const int member = cg.first_member[g.nodes()[0].output] + 7;  // conv0's channel 7
  scores[size_t(cg.class_of[member])] = 0.0;
  const prune::ChannelPlan plan =
      prune::plan_channels(g, cg, 1.0 / 32, prune::Importance(prune::Criterion::taylor, scores), 1);
  EXPECT_TRUE(plan[size_t(cg.class_of[member])]);
  EXPECT_EQ(std::count(plan.begin(), plan.end(), true), 1 + 2 + 4);  // one of 32, two of 64, four of 128
  EXPECT_THROW(prune::plan_channels(g, cg, 0.5, prune::Criterion::taylor), Error);
  // Nothing to rank at ratio 0: no scores are needed.
  const prune::ChannelPlan none = prune::plan_channels(g, cg, 0.0, prune::Criterion::taylor);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
}

train::TrainConfig short_run() {
  train::TrainConfig tc;
  tc.epochs = 2;
  tc.batch = 32;
  tc.progress = false;
  tc.optimizer.momentum = 0.9f;
  tc.schedule.lr = 0.05f;
  return tc;
}

TEST(TaylorScores, GradualPruningRanksByTheFineTuningsGradients) {
  const data::ImageSet set = quadrants(256);
  const data::Normalization norm = data::compute_normalization(set);
  prune::PruneConfig cfg;
  cfg.method = prune::Method::channel;
  cfg.criterion = prune::Criterion::taylor;
  cfg.amount = 0.5;
  {
    Graph g = cnn(0.5);
    auto hook = std::make_shared<prune::GradualPruning>(cfg, 0.5, 4);
    train::Trainer t(g, short_run());
    t.add_hook(hook);
    t.fit(set, {}, norm);
    EXPECT_LT(prune::remove_channels(g).macs() * 3, g.macs());  // at the target, and removable
    // The state a checkpoint keeps carries the scores gathered since the last cut.
    train::TrainState st;
    hook->save_state(st);
    EXPECT_GT(std::stoll(st.settings.at("prune.taylor.batches")), 0);
    const auto sums = std::find_if(st.hook_tensors.begin(), st.hook_tensors.end(),
                                   [](const auto& named) { return named.first == "prune.taylor.sums"; });
    ASSERT_NE(sums, st.hook_tensors.end());
    EXPECT_EQ(size_t(sums->second.numel()), prune::ChannelGraph(g).space_of_class.size());
  }
  {  // Cut at the first step, before any gradient, the criterion has nothing to rank by.
    Graph g = cnn(0.5);
    train::Trainer t(g, short_run());
    t.add_hook(std::make_shared<prune::GradualPruning>(cfg, 0.0, 1));
    EXPECT_THROW(t.fit(set, {}, norm), Error);
  }
  {  // Given scores measured before training, it cuts at once.
    Graph g = cnn(0.5);
    prune::PruneConfig given = cfg;
    given.class_scores = prune::taylor_scores(g, set, norm, 128, 32);
    train::Trainer t(g, short_run());
    t.add_hook(std::make_shared<prune::GradualPruning>(given, 0.0, 1));
    t.fit(set, {}, norm);
    EXPECT_LT(prune::remove_channels(g).macs() * 3, g.macs());
  }
}

}  // namespace
}  // namespace nimble::testing
