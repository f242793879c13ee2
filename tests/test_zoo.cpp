#include <gtest/gtest.h>

#include "nimble/core/error.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble {
namespace {

zoo::ModelConfig config(const std::string& name, double width = 1.0) {
  zoo::ModelConfig c;
  c.name = name;
  c.width = width;
  return c;
}

// Parameter counts of the PyTorch models (peer CNN; torchvision MobileNetV2 with a 1-channel
// stem), printed by torch for the same configurations.
TEST(Zoo, ParameterCountsMatchPyTorch) {
  EXPECT_EQ(zoo::build(config("cnn")).param_count(), 421834);
  EXPECT_EQ(zoo::build(config("mobilenet_v2", 1.0)).param_count(), 2236106);
  EXPECT_EQ(zoo::build(config("mobilenet_v2", 0.5)).param_count(), 700202);
  EXPECT_EQ(zoo::build(config("mobilenet_v2", 0.35)).param_count(), 408650);
  // From 64 pixels on, resnet is torchvision's resnet18 (the default) or resnet34.
  zoo::ModelConfig r = config("resnet");
  r.input = Shape{3, 224, 224};
  r.classes = 1000;
  EXPECT_EQ(zoo::resnet_depth(r), 18);
  EXPECT_EQ(zoo::build(r).param_count(), 11689512);
  r.depth = 34;
  EXPECT_EQ(zoo::build(r).param_count(), 21797672);
}

TEST(Zoo, ResnetLayoutFollowsDepthAndDefaultDepthFollowsInput) {
  zoo::ModelConfig r = config("resnet");
  EXPECT_EQ(zoo::resnet_depth(r), 20);  // 28x28: CIFAR layout
  EXPECT_EQ(zoo::build(r).param_count(), 272186);
  r.input = Shape{3, 64, 64};
  r.depth = 20;  // CIFAR layout at a large input keeps its 16-channel stages
  const Graph cifar = zoo::build(r);
  r.depth = 0;
  const Graph imagenet = zoo::build(r);
  EXPECT_LT(cifar.param_count(), 300000);
  EXPECT_GT(imagenet.param_count(), 11000000);
}

TEST(Zoo, CnnMacsByHand) {
  // conv1 28*28*32*9, conv2 14*14*64*32*9, fc1 3136*128, fc2 128*10
  EXPECT_EQ(zoo::build(config("cnn")).macs(), 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10);
  // Width 0.5: 16 and 32 channels, 64 hidden units.
  EXPECT_EQ(zoo::build(config("cnn", 0.5)).macs(), 28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 1568 * 64 + 64 * 10);
}

TEST(Zoo, EveryModelRunsAtSeveralInputSizes) {
  for (const auto& info : zoo::models())
    for (const Shape& in : {Shape{1, 28, 28}, Shape{3, 32, 32}, Shape{3, 96, 96}}) {
      zoo::ModelConfig c = config(info.name, 0.5);
      c.input = in;
      c.classes = 7;
      Graph g = zoo::build(c);
      EXPECT_EQ(g.output_shape(), Shape{7}) << info.name;
      Session s(g, {2, Mode::eval});
      Tensor x({2, in[0], in[1], in[2]});
      const Tensor& y = s.forward(x);
      EXPECT_EQ(y.shape(), (Shape{2, 7}));
    }
}

TEST(Zoo, RejectsBadConfigs) {
  EXPECT_THROW(zoo::build(config("nope")), Error);
  EXPECT_THROW(zoo::build(config("cnn", -1)), Error);
  zoo::ModelConfig c = config("resnet");
  c.depth = 21;
  EXPECT_THROW(zoo::build(c), Error);
  c.depth = 19;
  EXPECT_THROW(zoo::build(c), Error);
  c = config("cnn");
  c.input = Shape{1, 28};
  EXPECT_THROW(zoo::build(c), Error);
}

TEST(Passes, InferenceOptimizationRemovesBatchNormActivationsAndDropout) {
  Graph g = zoo::build(config("mobilenet_v2", 0.5));
  Graph o = passes::optimize_for_inference(g);
  o.validate();
  for (const Node& n : o.nodes()) {
    EXPECT_NE(n.op, OpKind::batch_norm2d) << n.name;
    EXPECT_NE(n.op, OpKind::dropout) << n.name;
    EXPECT_NE(n.op, OpKind::relu6) << n.name;
  }
  EXPECT_LT(o.nodes().size(), g.nodes().size());
  // The original graph is untouched.
  int bns = 0;
  for (const Node& n : g.nodes()) bns += n.op == OpKind::batch_norm2d;
  EXPECT_GT(bns, 0);
}

}  // namespace
}  // namespace nimble
