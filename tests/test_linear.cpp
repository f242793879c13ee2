#include <cmath>

#include "nimble/runtime/session.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

struct LinearCase {
  int64_t n, in, out;
  bool bias;
};

Attrs attrs_of(const LinearCase& c) { return {{"out_features", c.out}, {"bias", int64_t(c.bias)}}; }

const LinearCase kCases[] = {
    {1, 1, 1, true},     // smallest
    {3, 13, 7, false},   // no bias, odd sizes
    {2, 127, 13, true},  // long reduction
    {5, 64, 10, true},   // classifier head
    {1, 3, 127, true},   // wide output
};

TEST(Linear, ForwardMatchesReference) {
  for (const LinearCase& c : kCases) {
    OpHarness h(OpKind::linear, attrs_of(c), {{c.n, c.in}});
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

TEST(Linear, FusedActivationMatchesReference) {
  for (const char* act : {"relu", "relu6", "hardswish", "sigmoid", "silu"}) {
    Attrs a = attrs_of(kCases[2]);
    a["activation"] = std::string(act);
    OpHarness h(OpKind::linear, a, {{2, 127}});
    // Inputs in [-1, 1] with 127 terms: scale weights up so relu6/hardswish clip on both sides.
    for (auto& [key, p] : h.node().params) {
      for (int64_t i = 0; i < p->data.numel(); ++i) p->data.data<float>()[i] *= 8.0f;
      p->touch();
    }
    expect_matches_reference(h, Mode::eval, 5);
  }
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  for (const LinearCase& c : kCases) {
    OpHarness h(OpKind::linear, attrs_of(c), {{c.n, c.in}});
    expect_gradients_match_fd(h, 7);
  }
}

TEST(Linear, InitialisesLikePyTorchAndCountsMacs) {
  Node node;
  node.name = "fc";
  node.op = OpKind::linear;
  node.attrs = {{"out_features", int64_t(10)}};
  Rng rng(3);
  op_def(OpKind::linear).init_params(node, {{1, 25}}, rng);
  const Param& w = node.param("weights");
  ASSERT_EQ(w.data.shape(), Shape({10, 25}));
  ASSERT_EQ(node.param("bias").data.shape(), Shape({10}));
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < w.data.numel(); ++i) {
    lo = std::min(lo, w.data.data<float>()[i]);
    hi = std::max(hi, w.data.data<float>()[i]);
  }
  EXPECT_GE(lo, -0.2f);  // bound 1/sqrt(25)
  EXPECT_LE(hi, 0.2f);
  EXPECT_LT(lo, -0.1f);  // and actually spread over it
  EXPECT_GT(hi, 0.1f);
  EXPECT_EQ(op_def(OpKind::linear).macs(node, {{1, 25}}, {1, 10}), 250);

  node.attrs["bias"] = int64_t(0);
  node.params.clear();
  op_def(OpKind::linear).init_params(node, {{1, 25}}, rng);
  EXPECT_EQ(node.param_ptr("bias"), nullptr);
}

// In a train Session the parameters are shared with the graph: changing weights and calling
// touch() must reach the primitive's (possibly reordered) copy on the next forward.
TEST(Linear, SessionSeesTouchedWeights) {
  Graph g;
  Rng rng(5);
  int x = g.add_input("x", {37});
  g.add_node(OpKind::linear, "fc", {x}, {{"out_features", int64_t(19)}}, &rng);
  Session session(g, {.batch = 4, .mode = Mode::train});
  Tensor in = random_tensor({4, 37}, rng);
  const Node& fc = g.nodes()[0];
  Tensor first = session.forward(in).clone();
  EXPECT_TRUE(all_close(first, op_def(OpKind::linear).reference(fc, {in}, true), 1e-4f, 1e-4f));
  ParamPtr w = fc.param_ptr("weights");
  for (int64_t i = 0; i < w->data.numel(); ++i) w->data.data<float>()[i] *= -2.0f;
  w->touch();
  EXPECT_TRUE(all_close(session.forward(in), op_def(OpKind::linear).reference(fc, {in}, true), 1e-4f, 1e-4f));
  // Parameter gradients also arrive when the input needs none (it is the graph input).
  Tensor r = random_tensor({4, 19}, rng);
  session.backward(r);
  const float* gb = fc.param("bias").grad.data<float>();
  for (int64_t o = 0; o < 19; ++o) {
    double want = 0;
    for (int64_t b = 0; b < 4; ++b) want += r.data<float>()[b * 19 + o];
    EXPECT_NEAR(gb[o], want, 1e-5);
  }
  const float* gw = fc.param("weights").grad.data<float>();  // (O, I) = r^T x
  for (int64_t o = 0; o < 19; o += 5)
    for (int64_t i = 0; i < 37; i += 7) {
      double want = 0;
      for (int64_t b = 0; b < 4; ++b) want += double(r.data<float>()[b * 19 + o]) * in.data<float>()[b * 37 + i];
      EXPECT_NEAR(gw[o * 37 + i], want, 1e-5);
    }
}

TEST(Linear, RejectsBadShapes) {
  Node node;
  node.name = "fc";
  node.op = OpKind::linear;
  node.attrs = {{"out_features", int64_t(4)}};
  const OpDef& def = op_def(OpKind::linear);
  EXPECT_THROW(def.infer(node, {{2, 3, 4, 4}}), Error);  // rank 4: needs a flatten
  EXPECT_THROW(def.infer(node, {{8}}), Error);           // rank 1
  node.attrs["out_features"] = int64_t(0);
  EXPECT_THROW(def.infer(node, {{2, 8}}), Error);
  node.attrs["out_features"] = int64_t(4);
  Rng rng(1);
  def.init_params(node, {{2, 8}}, rng);
  EXPECT_NO_THROW(def.infer(node, {{5, 8}}));
  EXPECT_THROW(def.infer(node, {{5, 9}}), Error);  // weights (4, 8) meet 9 features

  // A fused activation has no backward: compiling it for training is refused.
  OpHarness h(OpKind::linear, {{"out_features", int64_t(3)}, {"activation", std::string("relu")}}, {{2, 5}});
  Rng r(2);
  EXPECT_THROW(h.forward({random_tensor({2, 5}, r)}, Mode::train), Error);
}

}  // namespace
}  // namespace nimble::testing
