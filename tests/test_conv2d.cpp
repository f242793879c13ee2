#include "op_harness.hpp"

namespace nimble::testing {
namespace {

struct ConvCase {
  int64_t n, ic, h, w, oc, k, stride, pad, dilation, groups;
  bool bias;
};

Attrs attrs_of(const ConvCase& c) {
  return {{"out_channels", c.oc},
          {"kernel", std::vector<int64_t>{c.k, c.k}},
          {"stride", std::vector<int64_t>{c.stride, c.stride}},
          {"padding", std::vector<int64_t>{c.pad, c.pad}},
          {"dilation", std::vector<int64_t>{c.dilation, c.dilation}},
          {"groups", c.groups},
          {"bias", int64_t(c.bias)}};
}

const ConvCase kCases[] = {
    {1, 1, 13, 13, 3, 3, 1, 1, 1, 1, true},   // single channel, odd size
    {3, 4, 7, 9, 5, 3, 2, 1, 1, 1, false},    // stride 2, no bias, non-square
    {2, 6, 11, 11, 6, 3, 1, 1, 1, 6, true},   // depthwise
    {1, 8, 9, 9, 4, 1, 1, 0, 1, 2, true},     // grouped 1x1
    {2, 3, 13, 13, 7, 3, 1, 2, 2, 1, true},   // dilation 2
    {1, 17, 5, 5, 13, 5, 1, 2, 1, 1, true},   // 5x5, odd channel counts
    {5, 48, 2, 2, 48, 3, 1, 1, 1, 48, true},  // depthwise on a map smaller than the kernel:
                                              // nimble's own backward-weights loop
};

TEST(Conv2d, ForwardMatchesReference) {
  for (const ConvCase& c : kCases) {
    OpHarness h(OpKind::conv2d, attrs_of(c), {{c.n, c.ic, c.h, c.w}});
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

TEST(Conv2d, FusedActivationMatchesReference) {
  for (const char* act : {"relu", "relu6", "hardswish", "sigmoid", "silu"}) {
    Attrs a = attrs_of(kCases[0]);
    a["activation"] = std::string(act);
    OpHarness h(OpKind::conv2d, a, {{2, 1, 13, 13}});
    expect_matches_reference(h, Mode::eval, 5);
  }
}

// A residual fused by passes::fuse_residual_add: y = activation(conv(x) + r), summed by the kernel.
TEST(Conv2d, ResidualInputMatchesReference) {
  for (const ConvCase& c : {kCases[1], kCases[3], kCases[5]})
    for (const char* act : {"none", "relu"}) {
      Attrs a = attrs_of(c);
      a["activation"] = std::string(act);
      const Shape out = OpHarness(OpKind::conv2d, attrs_of(c), {{c.n, c.ic, c.h, c.w}}).out_shape();
      OpHarness h(OpKind::conv2d, a, {{c.n, c.ic, c.h, c.w}, out});
      EXPECT_EQ(h.out_shape(), out);
      expect_matches_reference(h, Mode::eval, 8);
    }
}

TEST(Conv2d, ResidualInputIsRefusedInTrainingAndMustMatchTheOutput) {
  const ConvCase& c = kCases[1];
  const Shape out = OpHarness(OpKind::conv2d, attrs_of(c), {{c.n, c.ic, c.h, c.w}}).out_shape();
  OpHarness h(OpKind::conv2d, attrs_of(c), {{c.n, c.ic, c.h, c.w}, out});
  Rng rng(2);
  EXPECT_THROW(h.forward({random_tensor({c.n, c.ic, c.h, c.w}, rng), random_tensor(out, rng)}, Mode::train), Error);
  Node node = h.node();
  EXPECT_THROW(op_def(OpKind::conv2d).infer(node, {{c.n, c.ic, c.h, c.w}, {c.n, c.oc + 1, out[2], out[3]}}), Error);
}

TEST(Conv2d, GradientsMatchFiniteDifferences) {
  for (const ConvCase& c : kCases) {
    OpHarness h(OpKind::conv2d, attrs_of(c), {{c.n, c.ic, c.h, c.w}});
    expect_gradients_match_fd(h, 7);
  }
}

TEST(Conv2d, RejectsBadShapes) {
  Node node;
  node.name = "c";
  node.op = OpKind::conv2d;
  node.attrs = {{"out_channels", int64_t(4)}, {"kernel", std::vector<int64_t>{5, 5}}, {"groups", int64_t(3)}};
  EXPECT_THROW(op_def(OpKind::conv2d).infer(node, {{1, 4, 8, 8}}), Error);  // 4 % 3 != 0
  node.attrs["groups"] = int64_t(1);
  EXPECT_THROW(op_def(OpKind::conv2d).infer(node, {{1, 4, 3, 3}}), Error);  // too small
  EXPECT_THROW(op_def(OpKind::conv2d).infer(node, {{4, 8, 8}}), Error);     // rank 3
}

}  // namespace
}  // namespace nimble::testing
