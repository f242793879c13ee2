#include <cmath>
#include <limits>

#include "kernel_runner.hpp"
#include "nimble/runtime/session.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

Attrs attrs_of(double p, int64_t seed = 0) { return {{"p", p}, {"seed", seed}}; }

const Shape kShapes[] = {{1, 1}, {3, 13}, {2, 3, 13, 13}, {1, 127}, {2, 5, 3, 7, 3}};

TEST(Dropout, EvalIsIdentity) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::dropout, attrs_of(0.5), {s});
    Rng rng(3);
    Tensor x = random_tensor(s, rng);
    EXPECT_TRUE(all_close(h.forward({x}, Mode::eval), x, 0, 0));
    expect_matches_reference(h, Mode::eval, 3, 0, 0);
  }
}

// The reference reproduces a fresh kernel's first draw on a plain input.
TEST(Dropout, TrainMatchesReference) {
  for (double p : {0.0, 0.2, 0.5, 0.9, 1.0})
    for (const Shape& s : kShapes) {
      OpHarness h(OpKind::dropout, attrs_of(p, 17), {s});
      expect_matches_reference(h, Mode::train, 4, 1e-7f, 1e-6f);
    }
}

// About 1 - p of the elements survive, scaled by 1 / (1 - p); the rest are exactly 0.
TEST(Dropout, KeptFractionAndScale) {
  const Shape s{8, 16, 28, 28};  // 100,352 elements: a binomial std of at most 0.0016
  for (double p : {0.1, 0.5, 0.8}) {
    OpHarness h(OpKind::dropout, attrs_of(p), {s});
    Rng rng(4);
    Tensor x = random_tensor(s, rng, 0.5f, 1.5f);  // never 0, so a 0 output means dropped
    Tensor y = h.forward({x}, Mode::train);
    int64_t kept = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = y.data<float>()[i];
      if (v == 0.0f) continue;
      ++kept;
      ASSERT_NEAR(v, x.data<float>()[i] / (1.0 - p), 1e-6) << "element " << i;
    }
    EXPECT_NEAR(double(kept) / double(x.numel()), 1.0 - p, 0.01) << "p = " << p;
  }
}

// Backward multiplies by the mask of the forward before it, times the same scale.
TEST(Dropout, BackwardUsesForwardMask) {
  const Shape s{3, 7, 5, 5};
  const float p = 0.4f;
  OpHarness h(OpKind::dropout, attrs_of(p, 5), {s});
  KernelRunner run(h.node(), {s}, {kernels::plain_desc(s)}, Mode::train);
  Rng rng(6);
  Tensor x = random_tensor(s, rng, 0.5f, 1.5f), r = random_tensor(s, rng);
  run.forward({x});             // a first draw...
  Tensor y = run.forward({x});  // ...and the one backward must use
  Tensor dx = run.backward(r)[0];
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool kept = y.data<float>()[i] != 0.0f;
    const float want = kept ? r.data<float>()[i] / (1.0f - p) : 0.0f;
    ASSERT_NEAR(dx.data<float>()[i], want, 1e-6f) << "element " << i;
  }
}

// Each forward draws a new mask; the same seed and node name replay the same sequence.
TEST(Dropout, MaskAdvancesPerCallAndIsReproducible) {
  const Shape s{4, 64};
  OpHarness a(OpKind::dropout, attrs_of(0.5, 42), {s}), other_seed(OpKind::dropout, attrs_of(0.5, 43), {s});
  KernelRunner run1(a.node(), {s}, {kernels::plain_desc(s)}, Mode::train);
  KernelRunner run2(a.node(), {s}, {kernels::plain_desc(s)}, Mode::train);
  KernelRunner run3(other_seed.node(), {s}, {kernels::plain_desc(s)}, Mode::train);
  Rng rng(1);
  Tensor x = random_tensor(s, rng, 0.5f, 1.5f);
  Tensor first = run1.forward({x}), second = run1.forward({x});
  EXPECT_FALSE(all_close(first, second, 0, 0)) << "the mask did not change between calls";
  EXPECT_TRUE(all_close(run2.forward({x}), first, 0, 0));
  EXPECT_TRUE(all_close(run2.forward({x}), second, 0, 0));
  EXPECT_FALSE(all_close(run3.forward({x}), first, 0, 0)) << "another seed gave the same mask";

  // Two sessions of the same graph give the same training run.
  Graph g;
  int in = g.add_input("x", {64});
  g.add_node(OpKind::dropout, "drop", {in}, attrs_of(0.5, 42));
  Session s1(g, {.batch = 4, .mode = Mode::train}), s2(g, {.batch = 4, .mode = Mode::train});
  for (int step = 0; step < 3; ++step) EXPECT_TRUE(all_close(s1.forward(x).clone(), s2.forward(x), 0, 0));
}

// Mask per physical element in a blocked layout: the layout is kept and the padding stays 0.
TEST(Dropout, KeepsBlockedLayoutAndZeroPadding) {
  const Shape s{2, 3, 5, 7};
  const float p = 0.3f;
  OpHarness h(OpKind::dropout, attrs_of(p), {s});
  KernelRunner run(h.node(), {s}, {layout(s, kernels::tag::nChw16c)}, Mode::train);
  EXPECT_EQ(run.dst_desc(), run.src_desc(0));
  float* dst = static_cast<float*>(run.dst().get_data_handle());
  std::fill(dst, dst + run.dst_desc().get_size() / sizeof(float), std::numeric_limits<float>::quiet_NaN());
  Rng rng(2);
  Tensor x = random_tensor(s, rng, 0.5f, 1.5f);
  Tensor y = run.forward({x});
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = y.data<float>()[i];
    if (v != 0.0f) {
      ++kept;
      ASSERT_NEAR(v, x.data<float>()[i] / (1.0f - p), 1e-6f);
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, x.numel());
  std::vector<float> phys = physical(run.dst());  // (N, C/16, H, W, 16)
  for (size_t i = 0; i < phys.size(); ++i)
    if (i % 16 >= 3) {
      ASSERT_EQ(phys[i], 0.0f) << "padding element " << i;
    }
  Tensor r = random_tensor(s, rng);
  Tensor dx = run.backward(r)[0];
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_NEAR(dx.data<float>()[i], y.data<float>()[i] != 0.0f ? r.data<float>()[i] / (1.0f - p) : 0.0f, 1e-6f);
}

// bf16 activations (mixed-precision training) stay bf16: the same mask as the fp32 kernel draws
// for the same layout, kept values x * scale rounded once to bf16, and the same for gradients.
TEST(Dropout, Bf16MatchesFp32WithTheSameMask) {
  const Shape s{4, 20, 3, 5};
  const float p = 0.4f;
  OpHarness h(OpKind::dropout, attrs_of(p, 3), {s});
  const kernels::md f32 = layout(s, kernels::tag::nChw16c);
  const kernels::md bf16(f32.dims(), kernels::dt::bf16, kernels::tag::nChw16c);
  KernelRunner wide(h.node(), {s}, {f32}, Mode::train), narrow(h.node(), {s}, {bf16}, Mode::train);
  EXPECT_EQ(narrow.dst_desc(), bf16);
  Rng rng(6);
  Tensor x = random_tensor(s, rng, 0.5f, 1.5f), r = random_tensor(s, rng);
  // Inputs already bf16 values, so both kernels see the same numbers.
  for (Tensor* t : {&x, &r})
    for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = bf16_to_f32(f32_to_bf16(t->data<float>()[i]));
  const Tensor want = wide.forward({x}).clone(), got = narrow.forward({x}).clone();
  const Tensor want_dx = wide.backward(r)[0].clone(), got_dx = narrow.backward(r)[0].clone();
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(want.data<float>()[i] == 0.0f, got.data<float>()[i] == 0.0f) << "mask differs at " << i;
    kept += got.data<float>()[i] != 0.0f;
    ASSERT_EQ(got.data<float>()[i], bf16_to_f32(f32_to_bf16(want.data<float>()[i]))) << i;
    ASSERT_EQ(got_dx.data<float>()[i], bf16_to_f32(f32_to_bf16(want_dx.data<float>()[i]))) << i;
  }
  EXPECT_GT(kept, x.numel() / 3);
  EXPECT_LT(kept, x.numel());
}

// Finite differences need a fixed mask: p = 0 (identity), and p = 0.5, where every harness forward
// compiles a fresh kernel and so replays the same first draw.
TEST(Dropout, GradientsMatchFiniteDifferences) {
  for (double p : {0.0, 0.5})
    for (const Shape& s : kShapes) {
      OpHarness h(OpKind::dropout, attrs_of(p, 9), {s});
      expect_gradients_match_fd(h, 7, 1e-2f, 1e-3f, 1e-3f);
    }
}

TEST(Dropout, RejectsBadProbability) {
  Node node;
  node.name = "d";
  node.op = OpKind::dropout;
  const OpDef& def = op_def(OpKind::dropout);
  EXPECT_EQ(def.infer(node, {{2, 3}}), Shape({2, 3}));
  node.attrs["p"] = 1.5;
  EXPECT_THROW(def.infer(node, {{2, 3}}), Error);
  node.attrs["p"] = -0.1;
  EXPECT_THROW(def.infer(node, {{2, 3}}), Error);
  node.attrs["p"] = 0.5;
  EXPECT_THROW(def.infer(node, {Shape{}}), Error);
}

}  // namespace
}  // namespace nimble::testing
