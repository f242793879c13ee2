// Dynamic loss scaling (PyTorch GradScaler semantics): the scale's state machine, unscaling, and
// the skipped step that must leave parameters and optimizer state bitwise unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/train/grad_scaler.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::train {
namespace {

TEST(GradScaler, StartsAt2To16AndGrowsAfter2000FiniteSteps) {
  GradScaler s;
  EXPECT_EQ(s.scale(), 65536.0f);
  for (int i = 0; i < 1999; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 65536.0f);
  EXPECT_EQ(s.growth_tracker(), 1999);
  s.update(false);
  EXPECT_EQ(s.scale(), 131072.0f);
  EXPECT_EQ(s.growth_tracker(), 0);
}

TEST(GradScaler, BacksOffOnInfAndRestartsTheInterval) {
  GradScaler s({.init_scale = 8, .growth_factor = 2, .backoff_factor = 0.5, .growth_interval = 3});
  s.update(false);
  s.update(false);
  s.update(true);  // an overflow two steps into the interval
  EXPECT_EQ(s.scale(), 4.0f);
  EXPECT_EQ(s.growth_tracker(), 0);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 4.0f);  // the count restarted: two finite steps are not three
  s.update(false);
  EXPECT_EQ(s.scale(), 8.0f);
  s.update(true);
  s.update(true);
  EXPECT_EQ(s.scale(), 2.0f);
}

TEST(GradScaler, NeverGrowsToInfinity) {
  GradScaler s({.init_scale = 3e38f, .growth_factor = 2, .backoff_factor = 0.5, .growth_interval = 1});
  s.update(false);
  EXPECT_EQ(s.scale(), 3e38f);
}

TEST(GradScaler, RejectsBadConfigurations) {
  EXPECT_THROW(GradScaler({.init_scale = 0}), Error);
  EXPECT_THROW(GradScaler({.init_scale = 1, .growth_factor = 1}), Error);
  EXPECT_THROW(GradScaler({.init_scale = 1, .growth_factor = 2, .backoff_factor = 1}), Error);
  EXPECT_THROW(GradScaler({.init_scale = 1, .growth_factor = 2, .backoff_factor = 0.5, .growth_interval = 0}), Error);
}

Graph small_model() {
  zoo::ModelConfig c;
  c.name = "resnet";
  c.depth = 8;
  c.width = 0.25;
  c.input = {1, 8, 8};
  return zoo::build(c);
}

void fill_grads(const std::vector<ParamPtr>& params, float value) {
  for (const ParamPtr& p : params) {
    p->grad = Tensor(p->data.shape());
    for (int64_t i = 0; i < p->grad.numel(); ++i) p->grad.data<float>()[i] = value * float(1 + i % 7);
  }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), size_t(a.nbytes())) == 0;
}

TEST(GradScaler, UnscaleDividesByTheScale) {
  Graph g = small_model();
  Optimizer opt(g, {});
  GradScaler s({.init_scale = 1024});
  fill_grads(opt.params(), 1024.0f);
  EXPECT_TRUE(s.unscale(opt.params()));
  for (const ParamPtr& p : opt.params())
    for (int64_t i = 0; i < p->grad.numel(); ++i) ASSERT_EQ(p->grad.data<float>()[i], float(1 + i % 7));
}

// Inf, then NaN, in each gradient tensor in turn: every such step is skipped without touching a
// parameter or an optimizer moment, for SGD (momentum, Nesterov, weight decay) and AdamW.
TEST(GradScaler, SkippedStepLeavesParamsAndOptimizerStateBitwiseUnchanged) {
  for (const char* kind : {"sgd", "adamw"}) {
    Graph g = small_model();
    OptimizerConfig oc;
    oc.kind = kind;
    oc.weight_decay = 5e-4f;
    Optimizer opt(g, oc);
    GradScaler s({.init_scale = 1048576.0f, .growth_factor = 2, .backoff_factor = 0.5, .growth_interval = 1000});
    fill_grads(opt.params(), 0.001f * s.scale());
    ASSERT_TRUE(scaled_step(s, opt, 0.1f));  // moments are non-zero from here on
    ASSERT_EQ(opt.steps(), 1);
    for (size_t k = 0; k < opt.params().size(); ++k) {
      for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
        fill_grads(opt.params(), 0.001f * s.scale());
        Tensor& grad = opt.params()[k]->grad;
        grad.data<float>()[grad.numel() / 2] = bad;
        std::vector<Tensor> before, m1, m2;
        std::vector<uint64_t> versions;
        for (size_t i = 0; i < opt.params().size(); ++i) {
          before.push_back(opt.params()[i]->data.clone());
          versions.push_back(opt.params()[i]->version);
          m1.push_back(opt.first_moments()[i].clone());
          if (opt.second_moments()[i].defined()) m2.push_back(opt.second_moments()[i].clone());
        }
        const float scale = s.scale();
        EXPECT_FALSE(scaled_step(s, opt, 0.1f)) << kind << " param " << k;
        EXPECT_EQ(s.scale(), scale * 0.5f);
        EXPECT_EQ(opt.steps(), 1);
        for (size_t i = 0; i < opt.params().size(); ++i) {
          ASSERT_TRUE(same_bytes(opt.params()[i]->data, before[i])) << kind << ": param " << i << " changed";
          ASSERT_EQ(opt.params()[i]->version, versions[i]);
          ASSERT_TRUE(same_bytes(opt.first_moments()[i], m1[i])) << kind << ": moment of " << i << " changed";
          if (!m2.empty()) {
            ASSERT_TRUE(same_bytes(opt.second_moments()[i], m2[i]));
          }
        }
      }
    }
    fill_grads(opt.params(), 0.001f * s.scale());
    EXPECT_TRUE(scaled_step(s, opt, 0.1f));  // and a finite step after them still steps
    EXPECT_EQ(opt.steps(), 2);
  }
}

TEST(GradScaler, StateRoundTripsThroughACheckpoint) {
  GradScaler s({.init_scale = 1024, .growth_factor = 4, .backoff_factor = 0.25, .growth_interval = 50});
  for (int i = 0; i < 17; ++i) s.update(false);
  s.update(true);
  for (int i = 0; i < 9; ++i) s.update(false);
  Graph g = small_model();
  const std::string path = ::testing::TempDir() + "/scaler.nimble";
  io::save_checkpoint(g, path, "{\"loss_scaler\":" + s.state_json() + "}");
  io::Checkpoint ck = io::load_checkpoint(path);
  const std::string key = "\"loss_scaler\":";
  const size_t at = ck.extra_json.find(key);
  ASSERT_NE(at, std::string::npos);
  GradScaler r;
  r.load_state_json(ck.extra_json.substr(at + key.size(), ck.extra_json.size() - at - key.size() - 1));
  EXPECT_EQ(r.scale(), 256.0f);
  EXPECT_EQ(r.growth_tracker(), 9);
  EXPECT_EQ(r.config().growth_factor, 4.0f);
  EXPECT_EQ(r.config().backoff_factor, 0.25f);
  EXPECT_EQ(r.config().growth_interval, 50);
  // The restored scaler behaves like the original from here on.
  for (int i = 0; i < 41; ++i) {
    s.update(false);
    r.update(false);
  }
  EXPECT_EQ(r.scale(), s.scale());
  EXPECT_EQ(r.scale(), 1024.0f);
  EXPECT_THROW(r.load_state_json("{\"scale\": 1}"), Error);
  EXPECT_THROW(r.load_state_json("not json"), Error);
  EXPECT_THROW(r.load_state_json(
                   R"({"scale":-1,"growth_tracker":0,"growth_factor":2,"backoff_factor":0.5,"growth_interval":10})"),
               Error);
  EXPECT_THROW(r.load_state_json(
                   R"({"scale":1,"growth_tracker":10,"growth_factor":2,"backoff_factor":0.5,"growth_interval":10})"),
               Error);
}

}  // namespace
}  // namespace nimble::train
