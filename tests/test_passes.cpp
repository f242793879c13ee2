// Graph passes keep what a graph computes: batch-norm + ReLU fusion in train mode (outputs and
// every gradient), and batch-norm folding that carries a fused ReLU into the convolution.
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
  zoo::ModelConfig mc;
  mc.name = "mobilenet_v2";
  mc.width = 0.5;
  Graph g = zoo::build(mc);
  Graph f = passes::fuse_batchnorm_relu(g);
  EXPECT_GT(count(g, OpKind::relu6), 10);
  EXPECT_EQ(count(f, OpKind::relu6), 0);
  int fused = 0;
  for (const Node& n : f.nodes()) fused += n.op == OpKind::batch_norm2d && n.attr_str("activation", "none") == "relu6";
  EXPECT_EQ(fused, count(g, OpKind::relu6));
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

}  // namespace
}  // namespace nimble::testing
