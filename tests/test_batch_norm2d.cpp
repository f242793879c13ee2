#include <cmath>

#include "kernel_runner.hpp"
#include "nimble/core/dtype.hpp"
#include "nimble/runtime/session.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

Tensor round_to_bf16(Tensor t) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = bf16_to_f32(f32_to_bf16(t.data<float>()[i]));
  return t;
}

const Shape kShapes[] = {
    {1, 1, 13, 13},  // one channel, one sample
    {3, 4, 7, 9},    // non-square
    {2, 3, 1, 1},    // two values per channel: the smallest trainable case
    {1, 17, 5, 5},   // odd channel count
    {4, 16, 3, 3},   // a whole channel block
};

TEST(BatchNorm2d, ForwardMatchesReference) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::batch_norm2d, {}, {s});
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
  OpHarness h(OpKind::batch_norm2d, {{"eps", 1e-3}}, {{2, 5, 3, 3}});
  expect_matches_reference(h, Mode::eval, 5);
  expect_matches_reference(h, Mode::train, 6);
}

TEST(BatchNorm2d, GradientsMatchFiniteDifferences) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::batch_norm2d, {}, {s});
    expect_gradients_match_fd(h, 7, 1e-3f);
  }
}

// A ReLU or ReLU6 fused by passes::fuse_batchnorm_relu (oneDNN fuse_norm_relu; ReLU6 as an
// eltwise after the batch-norm), forward and backward.
TEST(BatchNorm2d, FusedReluMatchesReferenceAndFiniteDifferences) {
  for (const char* act : {"relu", "relu6"})
    for (const Shape& s : {Shape{3, 4, 7, 9}, Shape{4, 16, 3, 3}, Shape{1, 17, 5, 5}}) {
      SCOPED_TRACE(act);
      OpHarness h(OpKind::batch_norm2d, {{"activation", std::string(act)}}, {s});
      expect_matches_reference(h, Mode::eval, 3);
      expect_matches_reference(h, Mode::train, 4);
      expect_gradients_match_fd(h, 7, 1e-3f);
    }
  Graph g;
  const int x = g.add_input("x", {3, 4, 4});
  EXPECT_THROW(g.add_node(OpKind::batch_norm2d, "bn", {x}, {{"activation", std::string("sigmoid")}}), Error);
}

// running = (1 - m) * running + m * batch, with the unbiased batch variance for running_var
// (torch.nn.BatchNorm2d), applied once per train forward; eval forwards leave them alone.
TEST(BatchNorm2d, RunningStatsFollowPyTorch) {
  const Shape s{3, 5, 4, 6};
  const double m = 0.3;
  OpHarness h(OpKind::batch_norm2d, {{"momentum", m}}, {s});
  const int64_t c = s[1], hw = s[2] * s[3], count = s[0] * hw;
  std::vector<double> mean(h.node().param("running_mean").data.data<float>(),
                           h.node().param("running_mean").data.data<float>() + c);
  std::vector<double> var(h.node().param("running_var").data.data<float>(),
                          h.node().param("running_var").data.data<float>() + c);
  Rng rng(9);
  for (int step = 0; step < 3; ++step) {
    Tensor x = random_tensor(s, rng, -2.0f + step, 3.0f + step);
    const uint64_t version = h.node().param("running_mean").version;
    h.forward({x}, Mode::train);
    EXPECT_GT(h.node().param("running_mean").version, version) << "running stats changed without touch()";
    for (int64_t ch = 0; ch < c; ++ch) {
      double sum = 0, sq = 0;
      for (int64_t b = 0; b < s[0]; ++b)
        for (int64_t i = 0; i < hw; ++i) sum += x.data<float>()[(b * c + ch) * hw + i];
      const double mu = sum / double(count);
      for (int64_t b = 0; b < s[0]; ++b)
        for (int64_t i = 0; i < hw; ++i) sq += std::pow(x.data<float>()[(b * c + ch) * hw + i] - mu, 2);
      mean[ch] = (1 - m) * mean[ch] + m * mu;
      var[ch] = (1 - m) * var[ch] + m * sq / double(count - 1);
      EXPECT_NEAR(h.node().param("running_mean").data.data<float>()[ch], mean[ch], 1e-5) << "step " << step;
      EXPECT_NEAR(h.node().param("running_var").data.data<float>()[ch], var[ch], 1e-5) << "step " << step;
    }
  }
  const float before = h.node().param("running_var").data.data<float>()[0];
  h.forward({random_tensor(s, rng)}, Mode::eval);
  EXPECT_EQ(h.node().param("running_var").data.data<float>()[0], before);
}

// The reference's train mode uses batch statistics without touching the running ones.
TEST(BatchNorm2d, ReferenceDoesNotMutate) {
  OpHarness h(OpKind::batch_norm2d, {}, {{2, 3, 4, 4}});
  Tensor before = h.node().param("running_mean").data.clone();
  Rng rng(2);
  h.reference({random_tensor({2, 3, 4, 4}, rng)}, true);
  EXPECT_TRUE(all_close(h.node().param("running_mean").data, before, 0, 0));
}

// Blocked input (17 channels padded to 32): same results and gradients as plain, layout kept.
TEST(BatchNorm2d, BlockedLayoutMatchesPlain) {
  const Shape s{2, 17, 5, 3};
  for (Mode mode : {Mode::eval, Mode::train}) {
    OpHarness h(OpKind::batch_norm2d, {}, {s});
    KernelRunner run(h.node(), {s}, {layout(s, kernels::tag::nChw16c)}, mode);
    EXPECT_EQ(run.dst_desc(), run.src_desc(0));
    Rng rng(4);
    Tensor x = random_tensor(s, rng);
    EXPECT_TRUE(all_close(run.forward({x}), h.reference({x}, mode == Mode::train), 1e-4f, 1e-4f));
    if (mode == Mode::train) {
      Tensor r = random_tensor(s, rng);
      Tensor dx = run.backward(r)[0];
      Tensor dscale = h.node().param("scale").grad.clone();
      EXPECT_TRUE(all_close(dx, h.backward({x}, r)[0], 1e-5f, 1e-4f));
      EXPECT_TRUE(all_close(dscale, h.node().param("scale").grad, 1e-5f, 1e-4f));
    }
  }
}

// Training in nhwc, or nChw16c with whole 16-channel blocks, runs the hand-written kernels
// (kernels/batch_norm_training.hpp): output, input and parameter gradients and running statistics
// as the plain-layout oneDNN kernel gives them, without and with a fused ReLU or ReLU6; layout kept.
TEST(BatchNorm2d, HandWrittenTrainingKernelsMatchPlain) {
  for (const Shape& s : {Shape{3, 32, 5, 7}, Shape{3, 8, 5, 7}})  // 8: nhwc only, a masked channel group
    for (kernels::tag t : {kernels::tag::nhwc, kernels::tag::nChw16c})
      for (const char* act : {"none", "relu", "relu6"}) {
        SCOPED_TRACE(s.str() + " " + act + (t == kernels::tag::nhwc ? " nhwc" : " nChw16c"));
        OpHarness h(OpKind::batch_norm2d, {{"activation", std::string(act)}}, {s});
        KernelRunner run(h.node(), {s}, {layout(s, t)}, Mode::train);
        EXPECT_EQ(run.dst_desc(), run.src_desc(0));
        Rng rng(8);
        Tensor x = random_tensor(s, rng, 2.0f, 5.0f), r = random_tensor(s, rng);
        Param& running_var = *h.node().params.at("running_var");
        const Tensor var_before = running_var.data.clone();
        EXPECT_TRUE(all_close(run.forward({x}), h.reference({x}, true), 1e-4f, 1e-4f));
        const Tensor var_own = running_var.data.clone();
        Tensor dx = run.backward(r)[0];
        Tensor dscale = h.node().param("scale").grad.clone(), dshift = h.node().param("shift").grad.clone();
        running_var.data = var_before.clone();
        EXPECT_TRUE(all_close(dx, h.backward({x}, r)[0], 1e-5f, 1e-4f));
        EXPECT_TRUE(all_close(dscale, h.node().param("scale").grad, 1e-4f, 1e-4f));
        EXPECT_TRUE(all_close(dshift, h.node().param("shift").grad, 1e-4f, 1e-4f));
        EXPECT_TRUE(all_close(var_own, running_var.data, 1e-6f, 1e-5f));
      }
}

// bf16 training: nhwc runs the hand-written kernels, nChw16c oneDNN's (faster there); both agree
// with the fp32 reference to bf16 rounding, on inputs whose mean is large against their spread
// (where a one-pass variance cancels) and on a map the size of resnet's first stage.
TEST(BatchNorm2d, Bf16TrainingMatchesReferenceInEitherLayout) {
  for (const Shape& s : {Shape{3, 32, 5, 7}, Shape{16, 16, 28, 28}})
    for (kernels::tag t : {kernels::tag::nhwc, kernels::tag::nChw16c})
      for (const char* act : {"none", "relu", "relu6"}) {
        SCOPED_TRACE(s.str() + " " + act + (t == kernels::tag::nhwc ? " nhwc" : " nChw16c"));
        OpHarness h(OpKind::batch_norm2d, {{"activation", std::string(act)}}, {s});
        KernelRunner run(h.node(), {s}, {layout(s, t, kernels::dt::bf16)}, Mode::train, DType::bf16);
        EXPECT_EQ(run.dst_desc(), run.src_desc(0));
        Rng rng(8);
        // Rounded to bf16 first: the reference then sees the values the kernel does.
        Tensor x = round_to_bf16(random_tensor(s, rng, 2.0f, 5.0f)), r = round_to_bf16(random_tensor(s, rng));
        EXPECT_TRUE(all_close(run.forward({x}), h.reference({x}, true), 2e-2f, 1e-2f));
        Tensor dx = run.backward(r)[0];
        Tensor dscale = h.node().param("scale").grad.clone(), dshift = h.node().param("shift").grad.clone();
        EXPECT_TRUE(all_close(dx, h.backward({x}, r)[0], 2e-2f, 1e-2f));
        EXPECT_TRUE(all_close(dscale, h.node().param("scale").grad, 1e-2f, 1e-2f));
        EXPECT_TRUE(all_close(dshift, h.node().param("shift").grad, 1e-2f, 1e-2f));
      }
}

// Batch-norm right on the graph input: no input gradient wanted, parameter gradients still come.
TEST(BatchNorm2d, ParamGradientsWithoutInputGradient) {
  Graph g;
  Rng rng(6);
  int x = g.add_input("x", {3, 5, 5});
  g.add_node(OpKind::batch_norm2d, "bn", {x}, {}, &rng);
  Session session(g, {.batch = 4, .mode = Mode::train});
  Tensor in = random_tensor({4, 3, 5, 5}, rng), r = random_tensor({4, 3, 5, 5}, rng);
  session.forward(in);
  session.backward(r);
  // d shift = sum(r); d scale = sum(r * x_hat) per channel.
  const Node& bn = g.nodes()[0];
  Tensor x_hat = op_def(OpKind::batch_norm2d).reference(bn, {in}, true);  // scale 1, shift 0
  for (int64_t ch = 0; ch < 3; ++ch) {
    double dshift = 0, dscale = 0;
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t i = 0; i < 25; ++i) {
        const int64_t at = (b * 3 + ch) * 25 + i;
        dshift += r.data<float>()[at];
        dscale += double(r.data<float>()[at]) * x_hat.data<float>()[at];
      }
    EXPECT_NEAR(bn.param("shift").grad.data<float>()[ch], dshift, 1e-4);
    EXPECT_NEAR(bn.param("scale").grad.data<float>()[ch], dscale, 1e-4);
  }
}

TEST(BatchNorm2d, InitialisesLikePyTorch) {
  Node node;
  node.name = "bn";
  node.op = OpKind::batch_norm2d;
  Rng rng(1);
  op_def(OpKind::batch_norm2d).init_params(node, {{1, 6, 4, 4}}, rng);
  for (int64_t c = 0; c < 6; ++c) {
    EXPECT_EQ(node.param("scale").data.data<float>()[c], 1.0f);
    EXPECT_EQ(node.param("shift").data.data<float>()[c], 0.0f);
    EXPECT_EQ(node.param("running_mean").data.data<float>()[c], 0.0f);
    EXPECT_EQ(node.param("running_var").data.data<float>()[c], 1.0f);
  }
  EXPECT_TRUE(node.param("scale").trainable && node.param("shift").trainable);
  EXPECT_FALSE(node.param("running_mean").trainable || node.param("running_var").trainable);
}

TEST(BatchNorm2d, RejectsBadShapes) {
  Node node;
  node.name = "bn";
  node.op = OpKind::batch_norm2d;
  const OpDef& def = op_def(OpKind::batch_norm2d);
  EXPECT_THROW(def.infer(node, {{2, 3, 4}}), Error);  // rank 3
  Rng rng(1);
  def.init_params(node, {{2, 3, 4, 4}}, rng);
  EXPECT_NO_THROW(def.infer(node, {{7, 3, 2, 2}}));
  EXPECT_THROW(def.infer(node, {{7, 4, 2, 2}}), Error);  // parameters for 3 channels
  node.attrs["eps"] = 0.0;
  EXPECT_THROW(def.infer(node, {{7, 3, 2, 2}}), Error);

  // One value per channel has no batch variance (PyTorch refuses it too); eval is fine.
  OpHarness h(OpKind::batch_norm2d, {}, {{1, 3, 1, 1}});
  Rng r(2);
  Tensor x = random_tensor({1, 3, 1, 1}, r);
  EXPECT_THROW(h.forward({x}, Mode::train), Error);
  EXPECT_THROW(h.reference({x}, true), Error);
  EXPECT_NO_THROW(h.forward({x}, Mode::eval));
}

}  // namespace
}  // namespace nimble::testing
