// Pruning: masks by magnitude / N:M, dependency-aware channel pruning whose physical removal
// computes exactly what the masked model computes (residuals, depthwise, concatenation), masks
// that survive optimizer steps, the cubic schedule, the taylor criterion against finite
// differences, bitmask-compressed checkpoints, and a pruned model that quantizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "data_test_util.hpp"
#include "importer_ops_graph.hpp"
#include "io/sparse_encoding.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/prune/gradual.hpp"
#include "nimble/prune/taylor.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"
#include "nimble/train/loss.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

namespace fs = std::filesystem;

// A zoo model whose batch-norms are not the identity, so that zeroed channels and removal
// really go through non-trivial statistics.
Graph model(const std::string& name, double width = 1.0, int64_t depth = 8) {
  zoo::ModelConfig c;
  c.name = name;
  c.width = width;
  c.depth = depth;
  c.seed = 3;
  Graph g = zoo::build(c);
  Rng rng(11);
  for (Node& n : g.nodes()) {
    if (n.op != OpKind::batch_norm2d) continue;
    for (const char* key : {"scale", "shift", "running_mean"}) {
      Tensor& t = n.params.at(key)->data;
      t = random_tensor(t.shape(), rng, key == std::string("scale") ? 0.5f : -0.3f,
                        key == std::string("scale") ? 1.5f : 0.3f);
    }
    Tensor& var = n.params.at("running_var")->data;
    var = random_tensor(var.shape(), rng, 0.5f, 2.0f);
  }
  return g;
}

Tensor eval_output(const Graph& g, const Tensor& x) {
  Session s(g, {x.shape()[0], Mode::eval, true, Precision::fp32});
  return s.forward(x).clone();
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, double(std::fabs(t.data<float>()[i])));
  return m;
}

// Prunes `ratio` of the channels by `crit`, then checks the removed graph against the masked one.
void expect_removal_is_exact(const Graph& g, double ratio, prune::Criterion crit, double min_mac_reduction) {
  const prune::ChannelGraph cg(g);
  Graph masked = g.clone();
  prune::apply_masks(masked, prune::channel_masks(masked, cg, prune::plan_channels(g, cg, ratio, crit)));
  const Graph small = prune::remove_channels(masked);
  EXPECT_GE(double(g.macs()) / double(small.macs()), min_mac_reduction);
  EXPECT_LT(small.param_count(), g.param_count());
  EXPECT_EQ(small.input_shape(), g.input_shape());
  EXPECT_EQ(small.output_shape(), g.output_shape());
  for (const Node& n : small.nodes()) {
    if (n.op == OpKind::conv2d && n.attr_int("groups", 1) > 1) {  // depthwise stays depthwise
      EXPECT_EQ(n.attr_int("groups", 1), n.attr_int("out_channels", 0)) << n.name;
    }
  }
  Rng rng(5);
  const Shape in = g.input_shape();
  const Tensor x = random_tensor({4, in[0], in[1], in[2]}, rng);
  const Tensor ym = eval_output(masked, x), ys = eval_output(small, x);
  ASSERT_EQ(ym.shape(), ys.shape());
  const double scale = std::max(1.0, max_abs(ym));
  EXPECT_TRUE(all_close(ys, ym, float(1e-5 * scale), 1e-5f));
  // The masked model really differs from the original: pruning did something.
  EXPECT_FALSE(all_close(eval_output(g, x), ym, 1e-3f, 1e-3f));
}

TEST(ChannelPruning, RemovalComputesWhatTheMaskedModelComputes) {
  expect_removal_is_exact(model("cnn"), 0.5, prune::Criterion::l1, 3.0);
  expect_removal_is_exact(model("resnet", 1.0, 8), 0.5, prune::Criterion::l2, 3.0);      // residual adds
  expect_removal_is_exact(model("mobilenet_v2", 0.5), 0.5, prune::Criterion::bn, 2.0);   // depthwise + residuals
  expect_removal_is_exact(model("mobilenet_v1", 0.25), 0.3, prune::Criterion::l1, 1.5);  // depthwise chains
}

// A model fresh from removal trains as it is (every parameter has its gradient buffer): the
// per-layer planner fine-tunes candidates before any is saved. The cnn's convolutions have biases.
TEST(ChannelPruning, ARemovedModelTrainsWithoutASaveInBetween) {
  const Graph g = model("cnn");
  Graph small = prune::prune_channels(g, 0.5, prune::Criterion::l1);
  for (const Node& n : small.nodes())
    for (const auto& [key, p] : n.params) EXPECT_EQ(p->grad.shape(), p->data.shape()) << n.name << "." << key;
  Session s(small, {8, Mode::train});
  Rng rng(3);
  const Shape in = small.input_shape();
  s.forward(random_tensor({8, in[0], in[1], in[2]}, rng));
  Tensor diff(Shape{8, 10});
  for (int64_t i = 0; i < diff.numel(); ++i) diff.data<float>()[i] = 0.01f * float(i % 7);
  s.backward(diff);
  double norm = 0;
  for (const Node& n : small.nodes())
    if (n.op == OpKind::conv2d) norm += max_abs(n.param("bias").grad);
  EXPECT_GT(norm, 0.0);
}

// A graph with the ONNX importer's ops: slice and channel_shuffle keep their channels (mixes), the
// squeeze-excitation mul ties both inputs and its hardsigmoid gate fixes them; the branch inside
// (1x1 -> depthwise -> 1x1) is still pruned, and removal computes what the masked graph computes.
TEST(ChannelPruning, GraphsWithTheImporterOps) {
  const Graph g = importer_ops_graph();
  const prune::ChannelGraph cg(g);
  int prunable = 0;
  for (const prune::ChannelSpace& sp : cg.spaces) prunable += sp.prunable;
  EXPECT_GE(prunable, 1);
  expect_removal_is_exact(g, 0.5, prune::Criterion::l1, 1.1);
  const Graph small = prune::prune_channels(g, 0.5, prune::Criterion::l1);
  for (const Node& n : small.nodes()) {
    if (n.name == "branch.pw1") {
      EXPECT_EQ(n.attr_int("out_channels", 0), 8);
    } else if (n.name == "stem.conv" || n.name == "branch.pw2" || n.name == "se.expand") {
      EXPECT_EQ(n.attr_int("out_channels", 0), n.name == "branch.pw2" ? 8 : 16) << n.name;
    }
  }
}

TEST(ChannelPruning, ConcatenationAndResidualChannelsArePrunedTogether) {
  // x -> a(8), b(8) -> concat(16) -> bn -> relu -> c(16) -> + bn(c) -> gap -> flatten -> fc
  Graph g;
  Rng rng(1);
  const int x = g.add_input("x", Shape({3, 8, 8}));
  auto conv = [&](const char* name, int in, int64_t oc) {
    return g.add_node(
        OpKind::conv2d, name, {in},
        {{"out_channels", oc}, {"kernel", std::vector<int64_t>{3, 3}}, {"padding", std::vector<int64_t>{1, 1}}}, &rng);
  };
  const int a = conv("a", x, 8), b = conv("b", x, 8);
  const int cat = g.add_node(OpKind::concat, "cat", {a, b}, {}, &rng);
  const int bn = g.add_node(OpKind::batch_norm2d, "bn", {cat}, {}, &rng);
  const int r = g.add_node(OpKind::relu, "relu", {bn}, {}, &rng);
  const int c = conv("c", r, 16);
  const int sum = g.add_node(OpKind::add, "res", {c, r}, {}, &rng);
  const int gap = g.add_node(OpKind::global_avg_pool, "gap", {sum}, {}, &rng);
  const int flat = g.add_node(OpKind::flatten, "flat", {gap}, {}, &rng);
  g.set_output(g.add_node(OpKind::linear, "fc", {flat}, {{"out_features", int64_t(5)}}, &rng));

  const prune::ChannelGraph cg(g);
  // One prunable space holds a, b, the concatenation, c and the residual sum: 16 classes.
  int spaces_with_cat = 0;
  for (const prune::ChannelSpace& sp : cg.spaces)
    if (std::find(sp.values.begin(), sp.values.end(), cat) != sp.values.end()) {
      ++spaces_with_cat;
      EXPECT_TRUE(sp.prunable);
      EXPECT_EQ(sp.classes.size(), 16u);
      for (int v : {a, b, c, sum}) EXPECT_NE(std::find(sp.values.begin(), sp.values.end(), v), sp.values.end());
    }
  EXPECT_EQ(spaces_with_cat, 1);
  // Pruning half of them (multiple_of 1: no rounding) keeps the add's inputs equal and a, b non-empty.
  Graph masked = g.clone();
  prune::apply_masks(masked,
                     prune::channel_masks(masked, cg, prune::plan_channels(g, cg, 0.5, prune::Criterion::l1, 1)));
  const Graph small = prune::remove_channels(masked);
  const auto shapes = small.infer_shapes(1);
  EXPECT_EQ(shapes[cat][1], 8);
  EXPECT_EQ(shapes[c][1], 8);
  EXPECT_GE(shapes[a][1], 1);
  EXPECT_GE(shapes[b][1], 1);
  EXPECT_EQ(shapes[a][1] + shapes[b][1], 8);
  Rng xr(2);
  const Tensor in = random_tensor({2, 3, 8, 8}, xr);
  EXPECT_TRUE(all_close(eval_output(small, in), eval_output(masked, in), 1e-5f, 1e-5f));
}

TEST(ChannelPruning, NeverEmptiesALayerRoundsToBlocksAndLeavesFixedChannels) {
  const Graph g = model("resnet", 1.0, 8);
  const Graph tiny = prune::prune_channels(g, 0.99, prune::Criterion::l1);
  const auto shapes = tiny.infer_shapes(1);
  for (size_t v = 0; v < shapes.size(); ++v) EXPECT_GE(shapes[v][1], 1) << tiny.values()[v].name;
  EXPECT_EQ(tiny.output_shape(), g.output_shape());
  EXPECT_EQ(tiny.input_shape(), g.input_shape());
  // 16 / 32 / 64-channel spaces at ratio 0.3 keep 16 / 24 / 48: multiples of 8.
  const Graph mid = prune::prune_channels(g, 0.3, prune::Criterion::l1);
  for (const Node& n : mid.nodes()) {
    if (n.op == OpKind::conv2d) {
      EXPECT_EQ(n.attr_int("out_channels", 0) % 8, 0) << n.name;
    }
  }
  // A model whose last linear feeds the output: the logits keep all classes whatever the ratio.
  EXPECT_EQ(prune::prune_channels(model("cnn"), 0.9, prune::Criterion::l1).output_shape()[0], 10);
}

TEST(ChannelPruning, TheLeastImportantChannelsGo) {
  Graph g = model("cnn");
  // Make conv0's channel 5 by far the weakest filter: it must be the first to go.
  Node& conv0 = g.nodes()[0];
  ASSERT_EQ(conv0.op, OpKind::conv2d);
  Tensor& w = conv0.params.at("weights")->data;
  const int64_t len = w.numel() / w.shape()[0];
  for (int64_t i = 0; i < len; ++i) w.data<float>()[5 * len + i] *= 1e-4f;
  const prune::ChannelGraph cg(g);
  const prune::ChannelPlan plan = prune::plan_channels(g, cg, 1.0 / 32, prune::Criterion::l1, 1);
  const int member = cg.first_member[conv0.output] + 5;
  EXPECT_TRUE(plan[cg.class_of[member]]);
  int pruned = 0;
  for (bool p : plan) pruned += p;
  EXPECT_EQ(pruned, 1 + 2 + 4);  // one of 32 (conv0), two of 64 (conv1), four of 128 (fc0)
}

int64_t zeros_in(const Tensor& mask) {
  int64_t zeros = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) zeros += mask.data<float>()[i] == 0.0f;
  return zeros;
}

TEST(Unstructured, MagnitudeMasksHitTheTargetPerLayerAndGlobally) {
  Graph g = model("cnn");
  const prune::Masks layer = prune::magnitude_masks(g, 0.8, prune::Scope::layer);
  ASSERT_EQ(layer.size(), 4u);  // conv0, conv1, fc0, fc1
  // conv0 (3x3 on one channel: 9 weights per filter) stays dense; the other three share one rate
  // that brings the model's total to 80%.
  int64_t total = 0, zeros_total = 0, small = 0;
  for (const auto& [name, m] : layer) total += m.numel(), small += name == "conv0.weights" ? m.numel() : 0;
  const double rate = 0.8 * double(total) / double(total - small);
  for (const auto& [name, m] : layer) {
    const int64_t zeros = zeros_in(m);
    EXPECT_EQ(zeros, name == "conv0.weights" ? 0 : std::llround(rate * m.numel())) << name;
    zeros_total += zeros;
  }
  EXPECT_NEAR(double(zeros_total), 0.8 * double(total), 2.0);
  Graph gg = g.clone();
  prune::apply_masks(gg, prune::magnitude_masks(gg, 0.8, prune::Scope::global));
  const prune::Sparsity s = prune::weight_sparsity(gg);
  EXPECT_EQ(s.zeros, std::llround(0.8 * s.total));
  // Global: every surviving weight is at least as large as every pruned one.
  float largest_pruned = 0, smallest_kept = 1e9f;
  const auto before = g.named_params(), after = gg.named_params();
  for (size_t k = 0; k < before.size(); ++k) {
    if (before[k].first.find(".weights") == std::string::npos) continue;
    const Tensor &w = before[k].second->data, &pruned = after[k].second->data;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const float v = std::fabs(w.data<float>()[i]);
      if (pruned.data<float>()[i] == 0.0f)
        largest_pruned = std::max(largest_pruned, v);
      else
        smallest_kept = std::min(smallest_kept, v);
    }
  }
  EXPECT_LE(largest_pruned, smallest_kept);
}

TEST(Unstructured, PerLayerMagnitudeLeavesSmallFiltersDense) {
  Graph g = model("mobilenet_v2", 0.5);
  const prune::Masks masks = prune::magnitude_masks(g, 0.8, prune::Scope::layer);
  int depthwise = 0, small = 0;
  int64_t total = 0, zeros_total = 0;
  for (const Node& n : g.nodes()) {
    if (!masks.count(n.name + ".weights")) continue;
    const Tensor& m = masks.at(n.name + ".weights");
    const int64_t zeros = zeros_in(m);
    total += m.numel(), zeros_total += zeros;
    const bool few = m.numel() / m.shape()[0] <= 9;  // weights per output filter
    EXPECT_EQ(few, prune::small_filters(n.param("weights").data)) << n.name;
    depthwise += n.attr_int("groups", 1) > 1;
    if (few) {
      ++small;
      EXPECT_EQ(zeros, 0) << n.name;
    } else {
      EXPECT_GT(double(zeros), 0.8 * double(m.numel())) << n.name;  // takes up the small layers' share
    }
  }
  EXPECT_GT(depthwise, 10);
  EXPECT_GT(small, depthwise);  // and the one-channel stem and the 8-channel expansion
  EXPECT_NEAR(double(zeros_total) / double(total), 0.8, 0.001);

  // Where the other layers cannot take up the share, every layer is pruned at the target.
  const prune::Masks all = prune::magnitude_masks(g, 0.995, prune::Scope::layer);
  for (const auto& [name, m] : all) {
    const int64_t zeros = zeros_in(m);
    EXPECT_EQ(zeros, std::min<int64_t>(std::llround(0.995 * m.numel()), m.numel() - 1)) << name;
  }
}

TEST(Unstructured, NmMasksKeepNOfEveryMInputChannels) {
  Graph g = model("cnn");
  const prune::Masks masks = prune::nm_masks(g, 2, 4);
  const Tensor& m = masks.at("conv1.weights");  // (64, 32, 3, 3)
  const Tensor& w = g.nodes()[4].params.at("weights")->data;
  ASSERT_EQ(g.nodes()[4].name, "conv1");
  for (int64_t o = 0; o < 64; ++o)
    for (int64_t k = 0; k < 9; ++k)
      for (int64_t i0 = 0; i0 < 32; i0 += 4) {
        int kept = 0;
        float min_kept = 1e9f, max_dropped = 0;
        for (int64_t i = i0; i < i0 + 4; ++i) {
          const int64_t at = (o * 32 + i) * 9 + k;
          const float v = std::fabs(w.data<float>()[at]);
          if (m.data<float>()[at] == 1.0f)
            ++kept, min_kept = std::min(min_kept, v);
          else
            max_dropped = std::max(max_dropped, v);
        }
        ASSERT_EQ(kept, 2);
        ASSERT_LE(max_dropped, min_kept);
      }
  // conv0 has one input channel: groups of one keep their weight.
  const Tensor& m0 = masks.at("conv0.weights");
  for (int64_t i = 0; i < m0.numel(); ++i) EXPECT_EQ(m0.data<float>()[i], 1.0f);
  EXPECT_NE(data::testing::error_of([&] { prune::nm_masks(g, 3, 2); }).find("N:M"), std::string::npos);
}

TEST(Schedule, CubicValuesAtChosenSteps) {
  prune::CubicSchedule s;
  s.initial = 0.0, s.target = 0.8, s.begin = 0, s.end = 100, s.every = 10;
  EXPECT_DOUBLE_EQ(s.at(0), 0.0);
  EXPECT_DOUBLE_EQ(s.at(25), 0.8 - 0.8 * 0.75 * 0.75 * 0.75);  // 0.4625
  EXPECT_DOUBLE_EQ(s.at(50), 0.7);
  EXPECT_NEAR(s.at(90), 0.8 - 0.8 * 0.001, 1e-12);
  EXPECT_DOUBLE_EQ(s.at(100), 0.8);
  EXPECT_DOUBLE_EQ(s.at(1000), 0.8);
  EXPECT_TRUE(s.is_update_step(0));
  EXPECT_TRUE(s.is_update_step(30));
  EXPECT_FALSE(s.is_update_step(31));
  EXPECT_TRUE(s.is_update_step(100));
  EXPECT_FALSE(s.is_update_step(110));
  s.end = 95;
  EXPECT_TRUE(s.is_update_step(95));  // the end is an update step off the grid too
  // No ramp: the target from the start.
  s.begin = s.end = 0;
  EXPECT_DOUBLE_EQ(s.at(0), 0.8);
}

train::TrainConfig short_run() {
  train::TrainConfig tc;
  tc.epochs = 2;
  tc.batch = 32;
  tc.progress = false;
  tc.optimizer.momentum = 0.9f;
  tc.optimizer.weight_decay = 5e-3f;  // both would revive pruned weights if masks were not re-applied
  tc.schedule.lr = 0.05f;
  return tc;
}

TEST(GradualPruning, MasksSurviveMomentumAndWeightDecay) {
  const data::ImageSet set = data::testing::quadrant_set(256);
  const data::Normalization norm = data::compute_normalization(set);
  for (prune::Method method : {prune::Method::magnitude, prune::Method::channel}) {
    Graph g = model("cnn");
    prune::PruneConfig cfg;
    cfg.method = method;
    cfg.amount = 0.75;
    auto hook = std::make_shared<prune::GradualPruning>(cfg, 0.5, 4);
    train::Trainer t(g, short_run());
    t.add_hook(hook);
    t.fit(set, {}, norm);
    // Every masked element is exactly zero after the last optimizer step.
    ASSERT_FALSE(hook->masks().empty());
    for (auto& [name, p] : g.named_params()) {
      auto it = hook->masks().find(name);
      if (it == hook->masks().end()) continue;
      for (int64_t i = 0; i < p->data.numel(); ++i) {
        if (it->second.data<float>()[i] == 0.0f) {
          ASSERT_EQ(p->data.data<float>()[i], 0.0f) << name << "[" << i << "]";
        }
      }
    }
    if (method == prune::Method::magnitude) {
      const prune::Sparsity s = prune::weight_sparsity(g);
      EXPECT_NEAR(s.fraction(), 0.75, 0.001);
    } else {
      EXPECT_LT(prune::remove_channels(g).macs() * 3, g.macs());  // the zeroed channels are removable
    }
  }
  // The check above can fail: masks applied once and not re-applied are undone by the optimizer.
  Graph g = model("cnn");
  prune::apply_masks(g, prune::magnitude_masks(g, 0.75, prune::Scope::layer));
  train::Trainer t(g, short_run());
  t.fit(set, {}, norm);
  EXPECT_LT(prune::weight_sparsity(g).fraction(), 0.5);
}

// The taylor criterion: scores are the first-order loss change of removing a channel (checked
// against finite differences of the loss), plans follow them, and the gradual-pruning hook ranks
// by the fine-tuning's own gradients.
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
  const data::ImageSet set = data::testing::quadrant_set(32);
  const data::Normalization norm = data::compute_normalization(set);
  const Graph g = model("cnn", 0.25);
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
  for (int k = 0; k < 6; ++k) {  // the classes that matter most, where the difference is far above rounding
    const int cls = order[size_t(k)];
    Graph moved = g.clone();
    scale_class(moved, cg, cls, 1.0f - eps);
    const double derivative = (train_loss(moved, b) - base) / eps;  // d loss / d t along p -> (1 - t) p
    EXPECT_NEAR(derivative * derivative, scores[size_t(cls)], 0.15 * scores[size_t(cls)]) << "class " << cls;
  }
  // The graph it was given is untouched: its batch-norm statistics did not move.
  const Graph fresh = model("cnn", 0.25);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (g.nodes()[i].op != OpKind::batch_norm2d) continue;
    EXPECT_TRUE(
        all_close(g.nodes()[i].param("running_mean").data, fresh.nodes()[i].param("running_mean").data, 0.0f, 0.0f));
  }
}

TEST(TaylorScores, PlansPruneTheLowestScoresAndNeedThem) {
  const Graph g = model("cnn");
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

TEST(TaylorScores, GradualPruningRanksByTheFineTuningsGradients) {
  const data::ImageSet set = data::testing::quadrant_set(256);
  const data::Normalization norm = data::compute_normalization(set);
  prune::PruneConfig cfg;
  cfg.method = prune::Method::channel;
  cfg.criterion = prune::Criterion::taylor;
  cfg.amount = 0.5;
  {
    Graph g = model("cnn", 0.5);
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
    EXPECT_EQ(size_t(sums->second.numel()),
              2 * prune::ChannelGraph(g).space_of_class.size());  // double sums as float pairs
  }
  {  // Cut at the first step, before any gradient, the criterion has nothing to rank by.
    Graph g = model("cnn", 0.5);
    train::Trainer t(g, short_run());
    t.add_hook(std::make_shared<prune::GradualPruning>(cfg, 0.0, 1));
    EXPECT_THROW(t.fit(set, {}, norm), Error);
  }
  {  // Given scores measured before training, it cuts at once.
    Graph g = model("cnn", 0.5);
    prune::PruneConfig given = cfg;
    given.class_scores = prune::taylor_scores(g, set, norm, 128, 32);
    train::Trainer t(g, short_run());
    t.add_hook(std::make_shared<prune::GradualPruning>(given, 0.0, 1));
    t.fit(set, {}, norm);
    EXPECT_LT(prune::remove_channels(g).macs() * 3, g.macs());
  }
}

TEST(SparseCheckpoint, RoundTripsBitExactlyAndShrinksWithSparsity) {
  Graph g = model("cnn");
  const std::string dense_path =
      (fs::temp_directory_path() / ("nimble_prune_dense_" + std::to_string(getpid()))).string();
  const std::string sparse_path = dense_path + "_sparse";
  io::save_checkpoint(g, dense_path);
  prune::apply_masks(g, prune::magnitude_masks(g, 0.8, prune::Scope::layer));
  // Values whose bits matter: -0.0 (stored, not zero), a NaN payload, a denormal.
  float* w = g.nodes()[4].params.at("weights")->data.data<float>();
  w[0] = -0.0f;
  uint32_t nan_bits = 0x7fc12345u;
  std::memcpy(&w[1], &nan_bits, 4);
  w[2] = 1e-42f;
  io::save_checkpoint(g, sparse_path);
  const io::Checkpoint back = io::load_checkpoint(sparse_path);
  const auto a = g.named_params(), b = back.graph.named_params();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].second->data.nbytes(), b[i].second->data.nbytes());
    EXPECT_EQ(std::memcmp(a[i].second->data.raw(), b[i].second->data.raw(), a[i].second->data.nbytes()), 0)
        << a[i].first;
  }
  const double ratio = double(fs::file_size(dense_path)) / double(fs::file_size(sparse_path));
  EXPECT_GE(ratio, 3.0);
  fs::remove(dense_path);
  fs::remove(sparse_path);
}

TEST(SparseCheckpoint, InconsistentEncodingsAreRejected) {
  Tensor t({20});
  t.data<float>()[3] = 1.5f;
  t.data<float>()[17] = -2.0f;
  uint64_t nnz = 0;
  const std::vector<uint8_t> enc = io::detail::encode_bitmask(t, nnz);
  ASSERT_EQ(nnz, 2u);
  ASSERT_EQ(enc.size(), 3u + 8u);
  Tensor out({20});
  io::detail::decode_bitmask(enc.data(), enc.size(), nnz, out);
  EXPECT_EQ(std::memcmp(out.raw(), t.raw(), t.nbytes()), 0);
  std::vector<uint8_t> bad = enc;
  bad[0] |= 1;  // one more bit than nnz
  EXPECT_NE(
      data::testing::error_of([&] { io::detail::decode_bitmask(bad.data(), bad.size(), nnz, out); }).find("bits set"),
      std::string::npos);
  bad = enc;
  bad[2] |= 0x80;            // element 23 of 20
  bad[2] &= uint8_t(~0x02);  // keep the count: drop element 17
  EXPECT_NE(data::testing::error_of([&] { io::detail::decode_bitmask(bad.data(), bad.size(), nnz, out); }).find("past"),
            std::string::npos);
  // A dense tensor is not worth encoding.
  Tensor dense({20});
  dense.fill(1.0f);
  EXPECT_TRUE(io::detail::encode_bitmask(dense, nnz).empty());
}

TEST(PruneThenQuantize, APrunedModelQuantizesAndRuns) {
  const Graph small = prune::prune_channels(model("resnet", 1.0, 8), 0.5, prune::Criterion::l1);
  const data::ImageSet calib = data::testing::quadrant_set(64);
  quant::QuantizeOptions qo;
  qo.selection.speed = false;  // every layer int8: the point is that it converts and runs
  const quant::QuantizedModel q = quant::quantize(small, calib, data::compute_normalization(calib), qo);
  int int8_convs = 0;
  for (const Node& n : q.graph.nodes()) int8_convs += n.op == OpKind::qconv2d;
  EXPECT_GT(int8_convs, 5);
  Rng rng(3);
  const Tensor x = random_tensor({2, 1, 28, 28}, rng);
  const Tensor yq = eval_output(q.graph, x), yf = eval_output(small, x);
  ASSERT_EQ(yq.shape(), yf.shape());
  for (int64_t i = 0; i < yq.numel(); ++i) ASSERT_TRUE(std::isfinite(yq.data<float>()[i]));
}

}  // namespace
}  // namespace nimble::testing
