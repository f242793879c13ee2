// Resuming a run: continuing from the state saved after an epoch gives the same weights, optimizer
// moments and loss-scaler state as the run that was never interrupted.
#include <gtest/gtest.h>

#include <cstring>

#include "nimble/core/error.hpp"
#include "nimble/data/dataset.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::train {
namespace {

std::vector<Tensor> weights(const Graph& g) {
  std::vector<Tensor> out;
  for (auto& [name, p] : g.named_params()) out.push_back(p->data.clone());
  return out;
}

TEST(Resume, ContinuingAfterEpochOneEqualsTheUninterruptedRun) {
  data::IdxData d = data::load_idx_dir("/usr/share/datasets/fashion-mnist");
  data::ImageSet train = data::take(d.train, 1280);
  data::ImageSet val = data::take(d.test, 256);
  data::Normalization norm = data::compute_normalization(train);
  for (Precision p : {Precision::fp32, Precision::fp16}) {
    TrainConfig tc;
    tc.epochs = 3;
    tc.batch = 64;
    tc.progress = false;
    tc.precision = p;
    tc.scaler.growth_interval = 7;  // so the scale moves during the test (fp16)
    tc.schedule.warmup_steps = 5;

    Graph whole = zoo::build({});
    Trainer t1(whole, tc);
    std::optional<TrainState> after_one;
    std::vector<Tensor> weights_after_one;
    t1.on_best = [&](const Graph& g, const EpochStats& s, const TrainState& st) {
      if (s.epoch == 1) {
        after_one = st;
        weights_after_one = weights(g);
      }
    };
    t1.fit(train, val, norm);
    ASSERT_TRUE(after_one) << "epoch 1 is always the best so far";
    EXPECT_EQ(after_one->epoch, 1);
    EXPECT_EQ(after_one->step, 20);
    EXPECT_EQ(after_one->loss_scaler.empty(), p != Precision::fp16);

    Graph resumed = zoo::build({});
    auto params = resumed.named_params();
    for (size_t i = 0; i < params.size(); ++i) {
      std::memcpy(params[i].second->data.raw(), weights_after_one[i].raw(), weights_after_one[i].nbytes());
      params[i].second->touch();
    }
    Trainer t2(resumed, tc);
    t2.resume(*after_one);
    TrainResult r2 = t2.fit(train, val, norm);
    ASSERT_EQ(r2.epochs.size(), 2u);
    EXPECT_EQ(r2.epochs.front().epoch, 2);

    const std::vector<Tensor> a = weights(whole), b = weights(resumed);
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()), 0) << precision_name(p) << " tensor " << i;
    if (p == Precision::fp16) {
      EXPECT_EQ(t1.scaler()->scale(), t2.scaler()->scale());
      EXPECT_EQ(t1.scaler()->growth_tracker(), t2.scaler()->growth_tracker());
    }
  }
}

TEST(Resume, RejectsStateThatDoesNotFit) {
  Graph g = zoo::build({});
  TrainConfig tc;
  tc.epochs = 2;
  Trainer t(g, tc);
  TrainState s;
  s.epoch = 2;  // already finished
  EXPECT_THROW(t.resume(s), Error);
  s.epoch = 1;
  EXPECT_THROW(t.resume(s), Error);  // no optimizer moments
  s.loss_scaler = GradScaler().state_json();
  EXPECT_THROW(t.resume(s), Error);  // fp32 runs have no scaler
}

}  // namespace
}  // namespace nimble::train
