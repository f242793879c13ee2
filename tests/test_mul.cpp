#include <cmath>
#include <map>

#include "layout_harness.hpp"
#include "nimble/prune/channel.hpp"
#include "nimble/prune/masks.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct MulCase {
  Shape src0, src1;
};

const MulCase kCases[] = {
    {{1, 1, 1, 1}, {1, 1, 1, 1}},       {{2, 3, 13, 13}, {2, 3, 13, 13}}, {{3, 127}, {3, 127}},
    {{2, 3, 5, 7, 3}, {2, 3, 5, 7, 3}}, {{2, 3, 13, 13}, {2, 3, 1, 1}},   {{3, 17, 5, 7}, {3, 17, 1, 1}},
    {{1, 32, 1, 9}, {1, 32, 1, 1}},     {{2, 40, 7, 7}, {2, 40, 1, 1}},
};

TEST(Mul, ForwardMatchesReference) {
  for (const MulCase& c : kCases) {
    OpHarness h(OpKind::mul, {}, {c.src0, c.src1});
    EXPECT_EQ(h.out_shape(), c.src0);
    expect_matches_reference(h, Mode::eval, 3, 1e-6f, 1e-6f);
    expect_matches_reference(h, Mode::train, 4, 1e-6f, 1e-6f);
  }
}

// The reference itself against hand-computed products: same shape, and a gate per (n, c).
TEST(Mul, ReferenceBroadcastsTheGateOverHW) {
  OpHarness h(OpKind::mul, {}, {{2, 2, 1, 3}, {2, 2, 1, 1}});
  Tensor x({2, 2, 1, 3}), gate({2, 2, 1, 1});
  for (int64_t i = 0; i < 12; ++i) x.data<float>()[i] = float(i + 1);
  const float g[] = {2.0f, -1.0f, 0.5f, 0.0f};
  std::copy(g, g + 4, gate.data<float>());
  const float want[] = {2, 4, 6, -4, -5, -6, 3.5f, 4, 4.5f, 0, 0, 0};
  for (const Tensor& y : {h.reference({x, gate}, false), h.forward({x, gate}, Mode::eval)})
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << i;
}

TEST(Mul, GradientsMatchFiniteDifferences) {
  for (const MulCase& c : kCases) {
    OpHarness h(OpKind::mul, {}, {c.src0, c.src1});
    expect_gradients_match_fd(h, 7);
  }
}

// The gate's gradient is the sum over H, W of diff_dst * x: checked by hand on one case.
TEST(Mul, GateGradientSumsOverHW) {
  OpHarness h(OpKind::mul, {}, {{1, 2, 2, 2}, {1, 2, 1, 1}});
  Tensor x({1, 2, 2, 2}), gate({1, 2, 1, 1}), r({1, 2, 2, 2});
  for (int64_t i = 0; i < 8; ++i) x.data<float>()[i] = float(i), r.data<float>()[i] = float(8 - i);
  gate.data<float>()[0] = 3.0f, gate.data<float>()[1] = -2.0f;
  std::vector<Tensor> d = h.backward({x, gate}, r);
  EXPECT_EQ(d[1].data<float>()[0], 0 * 8 + 1 * 7 + 2 * 6 + 3 * 5);
  EXPECT_EQ(d[1].data<float>()[1], 4 * 4 + 5 * 3 + 6 * 2 + 7 * 1);
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(d[0].data<float>()[i], r.data<float>()[i] * (i < 4 ? 3.0f : -2.0f));
}

// Inputs from producers that chose different layouts: the output keeps input 0's, gradients come
// back in each input's own layout (diff_src starts as NaN, so accumulating would show).
TEST(Mul, MixedAndBlockedLayouts) {
  struct LayoutCase {
    MulCase shapes;
    tag t0, t1;
  };
  const LayoutCase cases[] = {
      {{{2, 3, 13, 13}, {2, 3, 13, 13}}, tag::nChw16c, tag::nchw},
      {{{3, 17, 5, 7}, {3, 17, 5, 7}}, tag::nhwc, tag::nChw8c},
      {{{2, 3, 13, 13}, {2, 3, 1, 1}}, tag::nChw16c, tag::nchw},
      {{{3, 17, 5, 7}, {3, 17, 1, 1}}, tag::nChw16c, tag::nChw16c},
      {{{3, 17, 5, 7}, {3, 17, 1, 1}}, tag::nhwc, tag::nchw},
      {{{2, 40, 7, 7}, {2, 40, 1, 1}}, tag::nChw8c, tag::nhwc},
      {{{2, 40, 7, 7}, {2, 40, 1, 1}}, tag::nchw, tag::nChw16c},
  };
  for (const LayoutCase& c : cases) {
    OpHarness h(OpKind::mul, {}, {c.shapes.src0, c.shapes.src1});
    Rng rng(11);
    Tensor x0 = random_tensor(c.shapes.src0, rng), x1 = random_tensor(c.shapes.src1, rng);
    Tensor r = random_tensor(c.shapes.src0, rng);
    LayoutRun run = run_in_layouts(h.node(), {x0, x1}, {c.t0, c.t1}, Mode::train, &r);
    EXPECT_TRUE(all_close(run.dst, h.reference({x0, x1}, true), 1e-6f, 1e-6f)) << c.shapes.src1.str();
    EXPECT_TRUE(run.dst_desc == desc_of(c.shapes.src0, c.t0)) << "mul must produce input 0's layout";
    std::vector<Tensor> want = h.backward({x0, x1}, r);
    EXPECT_TRUE(all_close(run.diff_src[0], want[0], 1e-6f, 1e-6f)) << c.shapes.src1.str();
    EXPECT_TRUE(all_close(run.diff_src[1], want[1], 1e-5f, 1e-5f)) << c.shapes.src1.str();
  }
}

// Squeeze-excitation in a training Session: x -> conv -> [gap -> conv -> hardsigmoid] * x -> gap,
// fp32 and bf16 / fp16 against the fp32 reference chain; the input gradient against fp32's.
TEST(Mul, SqueezeExcitationInASessionInEveryPrecision) {
  Rng rng(5);
  Graph g;
  const int x = g.add_input("x", {3, 9, 9});
  const int feat = g.add_node(OpKind::conv2d, "conv", {x},
                              {{"out_channels", int64_t(24)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  const int pooled = g.add_node(OpKind::global_avg_pool, "squeeze", {feat});
  const int fc = g.add_node(OpKind::conv2d, "excite", {pooled},
                            {{"out_channels", int64_t(24)}, {"kernel", std::vector<int64_t>{1, 1}}}, &rng);
  const int gate = g.add_node(OpKind::hardsigmoid, "gate", {fc});
  const int scaled = g.add_node(OpKind::mul, "scale", {feat, gate});
  g.add_node(OpKind::global_avg_pool, "gap", {scaled});
  const Tensor in = random_tensor({2, 3, 9, 9}, rng, -2.0f, 2.0f);
  std::vector<Tensor> v{in};
  for (const Node& n : g.nodes()) {
    std::vector<Tensor> ins;
    for (int i : n.inputs) ins.push_back(v[size_t(i)]);
    v.push_back(op_def(n.op).reference(n, ins, true));
  }
  const Tensor& want = v.back();
  Tensor ones(want.shape());
  ones.fill(1.0f);
  Session ref(g, {.batch = 2, .mode = Mode::train, .precision = Precision::fp32});
  ref.forward(in);
  ref.backward(ones);
  std::map<std::string, Tensor> grads;
  for (const Node& n : g.nodes())
    for (const auto& [key, p] : n.params) grads[n.name + "." + key] = p->grad.clone();
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16}) {
    Session s(g, {.batch = 2, .mode = Mode::train, .precision = p});
    const float tol = p == Precision::fp32 ? 1e-5f : 3e-2f;
    EXPECT_TRUE(all_close(s.forward(in), want, tol, tol)) << precision_name(p);
    EXPECT_TRUE(all_close(s.value(scaled), v[size_t(scaled)], tol, tol)) << precision_name(p);
    s.backward(ones);
    // The gate's conv gets its gradient only through mul's diff_src1.
    const Tensor& got = g.nodes()[2].param("weights").grad;
    const Tensor& exp = grads.at("excite.weights");
    double num = 0, den = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      num +=
          (double(got.data<float>()[i]) - exp.data<float>()[i]) * (double(got.data<float>()[i]) - exp.data<float>()[i]);
      den += double(exp.data<float>()[i]) * exp.data<float>()[i];
    }
    EXPECT_GT(den, 0.0);
    EXPECT_LT(std::sqrt(num / den), p == Precision::fp32 ? 1e-5 : 5e-2) << precision_name(p);
  }
}

// Channel pruning ties each channel of both inputs to the output's (as for add), and a gate from
// a sigmoid keeps the whole space: removal must not crash and must keep the graph valid.
TEST(Mul, ChannelPruningTiesBothInputs) {
  Rng rng(3);
  Graph g;
  const int x = g.add_input("x", {3, 8, 8});
  const int feat = g.add_node(OpKind::conv2d, "conv", {x},
                              {{"out_channels", int64_t(8)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  const int other = g.add_node(OpKind::conv2d, "other", {x},
                               {{"out_channels", int64_t(8)}, {"kernel", std::vector<int64_t>{3, 3}}}, &rng);
  const int prod = g.add_node(OpKind::mul, "mul", {feat, other});
  const int pooled = g.add_node(OpKind::global_avg_pool, "gap", {prod});
  const int flat = g.add_node(OpKind::flatten, "flat", {pooled});
  g.add_node(OpKind::linear, "head", {flat}, {{"out_features", int64_t(4)}}, &rng);
  const prune::ChannelGraph cg(g);
  const auto klass = [&](int v, int64_t c) { return cg.class_of[size_t(cg.first_member[size_t(v)] + c)]; };
  for (int64_t c = 0; c < 8; ++c) {
    EXPECT_EQ(klass(feat, c), klass(prod, c));
    EXPECT_EQ(klass(other, c), klass(prod, c));
  }
  Graph masked = g.clone();
  prune::apply_masks(masked,
                     prune::channel_masks(masked, cg, prune::plan_channels(g, cg, 0.5, prune::Criterion::l1, 1)));
  const Graph pruned = prune::remove_channels(masked);
  EXPECT_EQ(pruned.nodes()[0].attr_int("out_channels", 0), 4);
  EXPECT_EQ(pruned.nodes()[1].attr_int("out_channels", 0), 4);
  // Both convolutions lost the same channels, whose products were zero: same output as masked.
  const Tensor in = random_tensor({1, 3, 8, 8}, rng);
  Session before(masked, {.batch = 1, .mode = Mode::eval}), after(pruned, {.batch = 1, .mode = Mode::eval});
  EXPECT_TRUE(all_close(after.forward(in), before.forward(in), 1e-5f, 1e-5f));
}

TEST(Mul, RejectsBadShapes) {
  const OpDef& def = op_def(OpKind::mul);
  Node node;
  node.name = "gate";
  node.op = OpKind::mul;
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 4, 8, 8}}), Error);  // channels differ
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 1, 8}}), Error);  // broadcast over H only
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 1}}), Error);     // ranks differ
  EXPECT_THROW(def.infer(node, {{2, 3, 8, 8}, {1, 3, 1, 1}}), Error);  // batch differs
  EXPECT_THROW(def.infer(node, {{1, 3, 1, 1}, {1, 3, 8, 8}}), Error);  // the gate must be input 1
  EXPECT_THROW(def.infer(node, {{3, 8}, {3, 1}}), Error);              // broadcast only for (N, C, H, W)
  Graph g;
  int x = g.add_input("x", {3, 8, 8});
  EXPECT_THROW(g.add_node(OpKind::mul, "one_input", {x}), Error);
  EXPECT_THROW(g.add_node(OpKind::mul, "three_inputs", {x, x, x}), Error);
}

}  // namespace
}  // namespace nimble::testing
