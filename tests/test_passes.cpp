// Graph passes keep what a graph computes: batch-norm + ReLU and add + ReLU fusion in train mode
// (outputs and every gradient), batch-norm folding that carries a fused ReLU into the convolution, and
// residual adds fused into convolutions in inference sessions.
#include <gtest/gtest.h>

#include <cstring>

#include "nimble/graph/passes.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

int count(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

Graph zoo_model(const char* name, double width, int64_t depth) {
  zoo::ModelConfig mc;
  mc.name = name;
  mc.width = width;
  mc.depth = depth;
  return zoo::build(mc);
}

// Nodes of kind `op` carrying the fused activation `act`.
int count_fused(const Graph& g, OpKind op, const std::string& act) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op && node.attr_str("activation", "none") == act;
  return n;
}

TEST(Passes, FuseBatchnormReluRemovesTheReluAndKeepsParametersShared) {
  Graph g = zoo::build({});  // cnn: conv, bn, relu twice
  Graph f = passes::fuse_batchnorm_relu(g);
  EXPECT_EQ(count(g, OpKind::relu), 3);
  EXPECT_EQ(count(f, OpKind::relu), 1);  // the one after the linear layer stays
  for (const Node& n : f.nodes())
    if (n.op == OpKind::batch_norm2d) {
      EXPECT_EQ(n.attr_str("activation", "none"), "relu");
    }
  EXPECT_EQ(f.named_params()[0].second.get(), g.named_params()[0].second.get());
}

TEST(Passes, FuseBatchnormReluTakesReLU6Too) {
  Graph g = zoo_model("mobilenet_v2", 0.5, 0);
  Graph f = passes::fuse_batchnorm_relu(g);
  EXPECT_GT(count(g, OpKind::relu6), 10);
  EXPECT_EQ(count(f, OpKind::relu6), 0);
  EXPECT_EQ(count_fused(f, OpKind::batch_norm2d, "relu6"), count(g, OpKind::relu6));
}

// ResNet's shortcut: conv, batch-norm, add, ReLU; the ReLU moves into the add (the one that ends
// each block) and into the batch-norms inside the blocks.
TEST(Passes, TrainingFusionMovesTheShortcutReluIntoTheAdd) {
  Graph g = zoo_model("resnet", 1.0, 8);
  Graph f = passes::fuse_training_activations(g);
  EXPECT_EQ(count(g, OpKind::relu), 7);
  EXPECT_EQ(count(f, OpKind::relu), 0);
  EXPECT_EQ(count_fused(f, OpKind::add, "relu"), 3);
  // A ReLU that is not the add's only reader stays where it is.
  Graph h;
  const int x = h.add_input("x", {4, 3, 3});
  const int sum = h.add_node(OpKind::add, "sum", {x, x});
  const int r = h.add_node(OpKind::relu, "relu", {sum});
  h.set_output(h.add_node(OpKind::add, "again", {r, sum}));
  EXPECT_EQ(count(passes::fuse_training_activations(h), OpKind::relu), 1);
}

// Train sessions with and without the fusion: same logits, same gradients, same running stats.
TEST(Passes, FusedTrainSessionComputesWhatTheUnfusedOneDoes) {
  for (const char* model : {"cnn", "resnet", "mobilenet_v2"}) {
    zoo::ModelConfig mc;
    mc.name = model;
    mc.depth = 8;
    mc.width = 0.5;
    Graph g = zoo::build(mc);
    Rng rng(3);
    Tensor x = random_tensor({8, 1, 28, 28}, rng), r = random_tensor({8, 10}, rng);
    std::vector<Tensor> grads[2];
    Tensor logits[2];
    std::vector<Tensor> initial;
    for (auto& [name, p] : g.named_params()) initial.push_back(p->data.clone());
    for (int k = 0; k < 2; ++k) {
      for (size_t i = 0; i < initial.size(); ++i)  // each run starts from the same running statistics
        std::memcpy(g.named_params()[i].second->data.raw(), initial[i].raw(), initial[i].nbytes());
      Session s(g, {8, Mode::train, /*optimize=*/k == 1});
      logits[k] = s.forward(x).clone();
      s.backward(r);
      for (auto& [name, p] : g.named_params()) grads[k].push_back(p->trainable ? p->grad.clone() : p->data.clone());
    }
    EXPECT_TRUE(all_close(logits[1], logits[0], 1e-5f, 1e-5f)) << model;
    for (size_t i = 0; i < grads[0].size(); ++i)
      EXPECT_TRUE(all_close(grads[1][i], grads[0][i], 1e-5f, 1e-4f)) << model << " tensor " << i;
  }
}

TEST(Passes, FoldingABatchnormWithFusedReluMovesTheReluIntoTheConv) {
  Graph g = passes::fuse_batchnorm_relu(zoo::build({}));
  Graph folded = passes::fold_batchnorm(g);
  EXPECT_EQ(count(folded, OpKind::batch_norm2d), 0);
  for (const Node& n : folded.nodes())
    if (n.op == OpKind::conv2d) {
      EXPECT_EQ(n.attr_str("activation", "none"), "relu");
    }
  Rng rng(4);
  Tensor x = random_tensor({4, 1, 28, 28}, rng);
  Session plain(zoo::build({}), {4, Mode::eval, false});
  Session fused(g, {4, Mode::eval, true});
  EXPECT_TRUE(all_close(fused.forward(x), plain.forward(x), 1e-4f, 1e-4f));
}

TEST(Passes, ResidualAddsMoveIntoTheLaterConvolutionWithTheReluAfterThem) {
  for (int64_t depth : {8, 18}) {  // CIFAR layout (identity shortcuts) and ImageNet (1x1 downsample convolutions)
    zoo::ModelConfig mc;
    mc.name = "resnet";
    mc.depth = depth;
    mc.width = 0.25;
    mc.input = depth == 18 ? Shape{3, 64, 64} : Shape{1, 28, 28};
    const Graph g = zoo::build(mc);
    const Graph inference = passes::optimize_for_inference(g);
    const Graph fused = passes::optimize_for_session(g);
    ASSERT_GT(count(inference, OpKind::add), 0);
    EXPECT_EQ(count(fused, OpKind::add), 0) << "depth " << depth;
    EXPECT_EQ(count(fused, OpKind::relu), 0) << "depth " << depth;
    for (const Node& n : fused.nodes())
      if (n.inputs.size() == 2) {
        EXPECT_EQ(n.op, OpKind::conv2d);
        EXPECT_EQ(n.attr_str("activation", "none"), "relu");
        EXPECT_LT(fused.values()[size_t(n.inputs[1])].producer, int(&n - fused.nodes().data()));
      }
  }
}

// The fused session (residuals summed in place, over buffers they share with the convolution's
// output) computes what the unfused graph does, and again on a second call.
TEST(Passes, FusedResidualSessionComputesWhatTheUnfusedGraphDoes) {
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    zoo::ModelConfig mc;
    mc.name = "resnet";
    mc.depth = 18;
    mc.width = 0.25;
    mc.input = Shape{3, 64, 64};
    const Graph g = zoo::build(mc);
    Rng rng(6);
    const Tensor x = random_tensor({2, 3, 64, 64}, rng), y = random_tensor({2, 3, 64, 64}, rng);
    Session plain(passes::optimize_for_inference(g), {2, Mode::eval, false, p});
    Session fused(g, {2, Mode::eval, true, p});
    ASSERT_EQ(count(fused.graph(), OpKind::add), 0);
    const float tol = p == Precision::fp32 ? 1e-4f : 3e-2f;
    for (const Tensor* in : {&x, &y, &x}) {
      const Tensor want = plain.forward(*in).clone();
      EXPECT_TRUE(all_close(fused.forward(*in), want, tol, tol)) << precision_name(p);
    }
  }
}

TEST(Passes, ResidualFusionLeavesInt8GraphsAlone) {
  Graph g;
  const int x = g.add_input("x", {4, 6, 6});
  const Attrs conv{
      {"out_channels", int64_t(4)}, {"kernel", std::vector<int64_t>{3, 3}}, {"padding", std::vector<int64_t>{1, 1}}};
  Rng rng(1);
  const int c = g.add_node(OpKind::conv2d, "conv", {x}, conv, &rng);
  const int sum = g.add_node(OpKind::add, "add", {c, x});
  const Attrs q{{"dtype", std::string("u8")}, {"scale", 0.1}, {"zero_point", int64_t(128)}};
  g.set_output(g.add_node(OpKind::dequantize, "dq", {g.add_node(OpKind::quantize, "q", {sum}, q)}, q));
  EXPECT_EQ(count(passes::fuse_residual_add(g), OpKind::add), 1);
  g.set_output(sum);  // the same graph without its int8 tail fuses
  EXPECT_EQ(count(passes::fuse_residual_add(passes::remove_unused_nodes(g)), OpKind::add), 0);
}

}  // namespace
}  // namespace nimble::testing
