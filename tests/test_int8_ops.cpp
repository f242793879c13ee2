// Int8 ops against their references: quantize / dequantize round half to even and saturate;
// qconv2d and qlinear accumulate exactly like an int32 reference (odd shapes, extreme values,
// several zero points, groups), with oneDNN's default kernel and with the one timing picks; requantized outputs, fused
// activations and qadd agree with the reference to within one quantization step.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/ops/pool_common.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/runtime/session.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

using V = std::vector<int64_t>;

Attrs qattrs(Attrs a, const std::string& prefix, double scale, int64_t zp, const std::string& dtype) {
  a[prefix + "dtype"] = dtype;
  if (dtype != "f32") {
    a[prefix + "scale"] = scale;
    a[prefix + "zero_point"] = zp;
  }
  return a;
}

// A one-op int8 graph behind f32 -> int8 quantize node(s) (scale 1: the f32 input holds the
// integers), ending in a dequantize (scale 1) when the op writes int8: outputs are the integers.
struct Int8Graph {
  Graph g;
  std::vector<int> quantizers;
  int op = -1;

  // timed: oneDNN's fastest implementation by timing (what bench and quantize compile), which
  // may be another kernel than its default.
  Tensor run(const Tensor& x, bool timed = false) {
    Session s(g, {x.shape()[0], Mode::eval, false, Precision::fp32, timed});
    return s.forward(x).clone();
  }
  // The same through the ops' reference kernels.
  Tensor reference(const Tensor& x) {
    std::vector<Tensor> vals(g.values().size());
    vals[g.input()] = x;
    for (const Node& n : g.nodes()) {
      std::vector<Tensor> in;
      for (int v : n.inputs) in.push_back(vals[v]);
      vals[n.output] = op_def(n.op).reference(n, in, false);
    }
    return vals[g.output()];
  }
};

Int8Graph int8_graph(OpKind op, Attrs attrs, const Shape& per_sample, const std::vector<std::string>& in_dtypes) {
  Int8Graph t;
  const int x = t.g.add_input("x", per_sample);
  std::vector<int> ins;
  for (size_t i = 0; i < in_dtypes.size(); ++i)
    ins.push_back(t.g.add_node(OpKind::quantize, "q" + std::to_string(i), {x}, qattrs({}, "", 1.0, 0, in_dtypes[i])));
  Rng rng(1);
  int y = t.g.add_node(op, "op", ins, attrs, &rng);
  t.op = int(t.g.nodes().size()) - 1;
  const std::string dst = std::get<std::string>(attrs.at("dst_dtype"));
  if (dst != "f32") y = t.g.add_node(OpKind::dequantize, "dq", {y}, qattrs({}, "", 1.0, 0, dst));
  t.g.set_output(y);
  return t;
}

// Integers in [lo, hi] as floats, with the extremes planted at both ends.
Tensor integers(const Shape& s, Rng& rng, int lo, int hi) {
  Tensor t(s);
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    d[i] = float(lo + int(rng.uniform(0.0f, 1.0f) * float(hi - lo + 1) * 0.9999f));
  d[0] = float(hi);
  d[t.numel() - 1] = float(lo);
  return t;
}

void fill_weights(Node& n, Rng& rng, bool extreme) {
  Tensor& w = n.params.at("weights")->data;
  for (int64_t i = 0; i < w.numel(); ++i)
    w.data<int8_t>()[i] = extreme ? int8_t(-128) : int8_t(int(rng.uniform(0.0f, 1.0f) * 255.99f) - 128);
}

::testing::AssertionResult within_steps(const Tensor& a, const Tensor& b, float steps) {
  return all_close(a, b, steps, 0.0f);
}

TEST(Int8, QuantizeRoundsHalfToEvenAndSaturates) {
  // Scale 0.5, zero point 3: x / 0.5 = 2x.
  Graph g;
  const int x = g.add_input("x", Shape({8}));
  g.set_output(g.add_node(OpKind::dequantize, "dq",
                          {g.add_node(OpKind::quantize, "q", {x}, qattrs({}, "", 0.5, 3, "u8"))},
                          qattrs({}, "", 1.0, 0, "u8")));
  Tensor in({1, 8});
  const float xs[8] = {0.25f, 0.75f, 1.25f, -0.25f, -1.75f, -5.0f, 126.0f, 1000.0f};
  // 2x = 0.5, 1.5, 2.5, -0.5, -3.5 -> 0, 2, 2, -0, -4 (half to even); +3; -10+3 and 255 saturate.
  const float want[8] = {3, 5, 5, 3, 0, 0, 255, 255};
  std::copy(xs, xs + 8, in.data<float>());
  Session s(g, {1, Mode::eval, false});
  const Tensor& got = s.forward(in);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got.data<float>()[i], want[i]) << "x = " << xs[i];
  // The reference says the same.
  Tensor q = op_def(OpKind::quantize).reference(g.nodes()[0], {in}, false);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(float(q.data<uint8_t>()[i]), want[i]) << "x = " << xs[i];
  // s8 saturates at both ends; dequantize subtracts the zero point.
  Graph h;
  const int hx = h.add_input("x", Shape({4}));
  h.set_output(h.add_node(OpKind::dequantize, "dq",
                          {h.add_node(OpKind::quantize, "q", {hx}, qattrs({}, "", 1.0, -2, "s8"))},
                          qattrs({}, "", 0.25, -2, "s8")));
  Tensor hin({1, 4});
  const float hv[4] = {-500.0f, 500.0f, 3.5f, -0.5f};  // -> -128, 127, 4-2=2, -0-2=-2
  std::copy(hv, hv + 4, hin.data<float>());
  Session hs(h, {1, Mode::eval, false});
  const Tensor& hy = hs.forward(hin);
  const float hwant[4] = {0.25f * (-128 + 2), 0.25f * (127 + 2), 0.25f * 4, 0.25f * 0};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(hy.data<float>()[i], hwant[i]) << "x = " << hv[i];
}

struct ConvCase {
  const char* name;
  V in;  // C, H, W
  int64_t oc, k, stride, pad, groups;
  const char* src_dtype;
  int64_t src_zp;
  bool extreme;
};

// Raw accumulators: f32 output, unit scales, no bias: the kernel must equal the int32 sum exactly.
TEST(Int8, ConvAccumulatesExactlyLikeInt32) {
  const ConvCase cases[] = {
      {"odd shape u8", {5, 7, 9}, 11, 3, 2, 1, 1, "u8", 0, false},
      {"u8 zero point 128", {3, 6, 5}, 7, 3, 1, 1, 1, "u8", 128, false},
      {"u8 zero point 3", {16, 5, 5}, 32, 1, 1, 0, 1, "u8", 3, false},
      {"s8 zero point -5", {4, 8, 8}, 6, 3, 1, 0, 1, "s8", -5, false},
      {"extreme 255 x -128", {64, 3, 3}, 8, 3, 1, 1, 1, "u8", 0, true},
      {"depthwise", {24, 9, 7}, 24, 3, 2, 1, 24, "u8", 0, false},
      {"grouped", {8, 6, 6}, 12, 3, 1, 1, 4, "s8", 0, false},
      // Fewer input channels than one VNNI / AMX group of 4.
      {"one channel u8 zero point 7", {1, 9, 11}, 16, 3, 1, 1, 1, "u8", 7, false},
      {"two channels s8 zero point -3, stride 2", {2, 7, 7}, 8, 3, 2, 1, 1, "s8", -3, false},
      {"one channel extreme 255 x -128", {1, 3, 3}, 32, 3, 1, 1, 1, "u8", 0, true},
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    Attrs a = {{"out_channels", c.oc},       {"kernel", V{c.k, c.k}}, {"stride", V{c.stride, c.stride}},
               {"padding", V{c.pad, c.pad}}, {"groups", c.groups},    {"bias", int64_t(0)}};
    a = qattrs(qattrs(a, "src_", 1.0, c.src_zp, c.src_dtype), "dst_", 1.0, 0, "f32");
    Int8Graph t = int8_graph(OpKind::qconv2d, a, Shape(c.in), {c.src_dtype});
    Rng rng(7);
    fill_weights(t.g.nodes()[size_t(t.op)], rng, c.extreme);
    const bool u8 = std::string(c.src_dtype) == "u8";
    Tensor x = c.extreme ? integers(Shape({3, c.in[0], c.in[1], c.in[2]}), rng, 255, 255)
                         : integers(Shape({3, c.in[0], c.in[1], c.in[2]}), rng, u8 ? 0 : -128, u8 ? 255 : 127);
    const Tensor got = t.run(x), want = t.reference(x);
    EXPECT_TRUE(all_close(got, want, 0.0f, 0.0f));
    EXPECT_TRUE(all_close(t.run(x, true), want, 0.0f, 0.0f));
    if (c.extreme) {  // 255 * -128 * channels * 9 taps at an interior pixel
      EXPECT_EQ(got.data<float>()[1 * 3 + 1], 255.0f * -128.0f * float(c.in[0]) * 9);
    }
  }
}

TEST(Int8, LinearAccumulatesExactlyLikeInt32) {
  for (int64_t zp : {0, 7, 200}) {
    SCOPED_TRACE("zero point " + std::to_string(zp));
    Attrs a = qattrs(qattrs({{"out_features", int64_t(13)}, {"bias", int64_t(0)}}, "src_", 1.0, zp, "u8"), "dst_", 1.0,
                     0, "f32");
    Int8Graph t = int8_graph(OpKind::qlinear, a, Shape({37}), {"u8"});
    Rng rng(11);
    fill_weights(t.g.nodes()[size_t(t.op)], rng, false);
    Tensor x = integers(Shape({5, 37}), rng, 0, 255);
    EXPECT_TRUE(all_close(t.run(x), t.reference(x), 0.0f, 0.0f));
    EXPECT_TRUE(all_close(t.run(x, true), t.reference(x), 0.0f, 0.0f));
  }
}

void randomize_scales_and_bias(Node& n, Rng& rng) {
  Tensor& s = n.params.at("weight_scales")->data;
  for (int64_t i = 0; i < s.numel(); ++i) s.data<float>()[i] = rng.uniform(0.001f, 0.01f);
  if (ParamPtr b = n.param_ptr("bias"))
    for (int64_t i = 0; i < b->data.numel(); ++i) b->data.data<float>()[i] = rng.uniform(-2.0f, 2.0f);
}

// Requantized outputs with a fused activation: within one step of the reference (the kernel
// folds the bias into accumulator units, so float rounding may differ at exact ties).
TEST(Int8, ConvAndLinearRequantizeWithActivations) {
  for (const char* act : {"none", "relu", "relu6"}) {
    for (const char* dst : {"u8", "s8", "f32"}) {
      SCOPED_TRACE(std::string(act) + " -> " + dst);
      Attrs a = {
          {"out_channels", int64_t(16)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}, {"activation", std::string(act)}};
      a = qattrs(qattrs(a, "src_", 0.02, 0, "u8"), "dst_", 0.05, std::string(dst) == "u8" ? 10 : 0, dst);
      Int8Graph t = int8_graph(OpKind::qconv2d, a, Shape({8, 6, 6}), {"u8"});
      Rng rng(5);
      fill_weights(t.g.nodes()[size_t(t.op)], rng, false);
      randomize_scales_and_bias(t.g.nodes()[size_t(t.op)], rng);
      Tensor x = integers(Shape({2, 8, 6, 6}), rng, 0, 255);
      const Tensor got = t.run(x), want = t.reference(x);
      EXPECT_TRUE(std::string(dst) == "f32" ? all_close(got, want, 1e-4f, 1e-5f) : within_steps(got, want, 1.0f));

      Attrs l = qattrs(qattrs({{"out_features", int64_t(9)}, {"activation", std::string(act)}}, "src_", 0.03, 0, "s8"),
                       "dst_", 0.04, 0, dst);
      Int8Graph tl = int8_graph(OpKind::qlinear, l, Shape({20}), {"s8"});
      fill_weights(tl.g.nodes()[size_t(tl.op)], rng, false);
      randomize_scales_and_bias(tl.g.nodes()[size_t(tl.op)], rng);
      Tensor xl = integers(Shape({4, 20}), rng, -128, 127);
      const Tensor gl = tl.run(xl), wl = tl.reference(xl);
      EXPECT_TRUE(std::string(dst) == "f32" ? all_close(gl, wl, 1e-4f, 1e-5f) : within_steps(gl, wl, 1.0f));
    }
  }
}

// Max pooling on int8 values (2x2 stride 2 runs a hand-written nhwc kernel; others oneDNN's):
// exact against the float reference, u8 and s8 extremes, odd sizes whose last row and column
// are dropped, and asymmetric padding [top, left, bottom, right] (ceil_mode's extra bottom /
// right row: the unpadded 2x2 kernel must decline it and keep that row).
TEST(Int8, MaxPoolIsExactOnInt8Values) {
  struct Case {
    const char* dtype;
    V in;  // C, H, W
    int64_t k, stride;
    V pad;  // top, left, bottom, right
  };
  for (const Case& c : {Case{"u8", {3, 7, 9}, 2, 2, {0, 0, 0, 0}}, Case{"s8", {32, 28, 28}, 2, 2, {0, 0, 0, 0}},
                        Case{"u8", {16, 14, 14}, 2, 2, {0, 0, 0, 0}}, Case{"s8", {5, 9, 9}, 3, 2, {0, 0, 0, 0}},
                        Case{"u8", {16, 7, 9}, 2, 2, {0, 0, 1, 1}}, Case{"s8", {5, 9, 8}, 3, 2, {1, 0, 2, 2}}}) {
    SCOPED_TRACE(std::string(c.dtype) + " " + Shape(c.in).str() + " k" + std::to_string(c.k));
    Graph g;
    int y = g.add_input("x", Shape(c.in));
    y = g.add_node(OpKind::quantize, "q", {y}, qattrs({}, "", 1.0, 0, c.dtype));
    y = g.add_node(OpKind::max_pool2d, "pool", {y},
                   {{"kernel", V{c.k, c.k}}, {"stride", V{c.stride, c.stride}}, {"padding", c.pad}});
    y = g.add_node(OpKind::dequantize, "dq", {y}, qattrs({}, "", 1.0, 0, c.dtype));
    g.set_output(y);
    Rng rng(5);
    const bool u8 = std::string(c.dtype) == "u8";
    Tensor x = integers(Shape({2, c.in[0], c.in[1], c.in[2]}), rng, u8 ? 0 : -128, u8 ? 255 : 127);
    Session s(g, {2, Mode::eval, false, Precision::fp32});
    const Tensor got = s.forward(x).clone();
    const int64_t oh = (c.in[1] + c.pad[0] + c.pad[2] - c.k) / c.stride + 1;
    const int64_t ow = (c.in[2] + c.pad[1] + c.pad[3] - c.k) / c.stride + 1;
    const ops::PoolGeometry pg{2,   c.in[0],  c.in[1],  c.in[2],  oh,       ow,       c.k,
                               c.k, c.stride, c.stride, c.pad[0], c.pad[1], c.pad[2], c.pad[3]};
    ASSERT_EQ(got.shape(), (Shape{2, c.in[0], oh, ow}));
    EXPECT_TRUE(all_close(got, ops::pool_reference(pg, x, ops::PoolKind::max), 0.0f, 0.0f));
  }
}

TEST(Int8, AddScalesBothInputsAndSaturates) {
  for (const char* act : {"none", "relu"}) {
    for (const char* dst : {"s8", "u8", "f32"}) {
      SCOPED_TRACE(std::string(act) + " -> " + dst);
      Attrs a =
          qattrs(qattrs(qattrs({{"activation", std::string(act)}}, "src0_", 0.1, 0, "u8"), "src1_", 0.07, 0, "s8"),
                 "dst_", 0.12, 0, dst);
      Int8Graph t = int8_graph(OpKind::qadd, a, Shape({16, 5, 5}), {"u8", "s8"});
      Rng rng(9);
      Tensor x = integers(Shape({2, 16, 5, 5}), rng, 0, 127);  // fits both u8 and s8
      const Tensor got = t.run(x), want = t.reference(x);
      EXPECT_TRUE(std::string(dst) == "f32" ? all_close(got, want, 1e-5f, 1e-6f) : within_steps(got, want, 1.0f));
    }
  }
}

// qconv2d over one input channel (a grey-image stem) runs on the hand-written kernel where the CPU
// has AVX-512 (kernels/single_channel_conv.hpp), and on oneDNN with NIMBLE_PLAIN_KERNELS=1: both
// within one step of the reference, over zero points, signedness, activations, a channel tail,
// stride 2, a 5x5 kernel, and rows of 8 + 4 pixels (the kernel's packed 16-channel stores).
TEST(Int8, OneChannelStemMatchesTheReference) {
  struct Case {
    V in;  // 1, H, W
    int64_t oc, k, stride, pad;
    const char* src;
    int64_t src_zp;
    const char* dst;
    int64_t dst_zp;
    const char* act;
  };
  for (const Case& c : {Case{{1, 28, 28}, 16, 3, 1, 1, "u8", 0, "u8", 0, "relu"},
                        Case{{1, 13, 11}, 24, 3, 2, 0, "s8", -3, "s8", 0, "none"},
                        Case{{1, 9, 9}, 16, 5, 1, 2, "u8", 7, "u8", 10, "relu6"},
                        Case{{1, 10, 7}, 40, 3, 1, 1, "s8", 0, "u8", 3, "none"},
                        Case{{1, 12, 12}, 16, 3, 1, 1, "u8", 4, "s8", -2, "none"}}) {
    for (const bool plain : {false, true}) {
      SCOPED_TRACE(Shape(c.in).str() + " oc " + std::to_string(c.oc) + " k" + std::to_string(c.k) + " " + c.src +
                   " -> " + c.dst + " " + c.act + (plain ? " on oneDNN" : ""));
      Attrs a = {{"out_channels", c.oc},
                 {"kernel", V{c.k, c.k}},
                 {"stride", V{c.stride, c.stride}},
                 {"padding", V{c.pad, c.pad}},
                 {"activation", std::string(c.act)}};
      a = qattrs(qattrs(a, "src_", 0.02, c.src_zp, c.src), "dst_", 0.05, c.dst_zp, c.dst);
      Int8Graph t = int8_graph(OpKind::qconv2d, a, Shape(c.in), {c.src});
      Rng rng(11);
      fill_weights(t.g.nodes()[size_t(t.op)], rng, false);
      randomize_scales_and_bias(t.g.nodes()[size_t(t.op)], rng);
      const bool u8 = std::string(c.src) == "u8";
      Tensor x = integers(Shape({2, 1, c.in[1], c.in[2]}), rng, u8 ? 0 : -128, u8 ? 255 : 127);
      if (plain) setenv("NIMBLE_PLAIN_KERNELS", "1", 1);
      const Tensor got = t.run(x);
      unsetenv("NIMBLE_PLAIN_KERNELS");
      EXPECT_TRUE(within_steps(got, t.reference(x), 1.0f));
    }
  }
}

// A residual fused into qconv2d (what inference sessions make of qconv2d + qadd): summed in real
// units before the activation, u8 or s8 residual into u8 or s8 output, within one step of the
// reference; and the same with oneDNN's fastest kernel by timing.
TEST(Int8, ConvWithAResidualAddsItBeforeTheActivation) {
  for (const char* act : {"none", "relu"}) {
    for (const char* residual : {"u8", "s8"}) {
      for (const char* dst : {"u8", "s8"}) {
        SCOPED_TRACE(std::string(act) + ", " + residual + " residual -> " + dst);
        Attrs a = {
            {"out_channels", int64_t(16)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}, {"activation", std::string(act)}};
        a = qattrs(qattrs(qattrs(a, "src_", 0.02, 0, "u8"), "dst_", 0.05, 0, dst), "residual_", 0.03, 0, residual);
        Int8Graph t = int8_graph(OpKind::qconv2d, a, Shape({16, 7, 9}), {"u8", residual});
        Rng rng(8);
        fill_weights(t.g.nodes()[size_t(t.op)], rng, false);
        randomize_scales_and_bias(t.g.nodes()[size_t(t.op)], rng);
        Tensor x = integers(Shape({2, 16, 7, 9}), rng, 0, 127);  // fits both u8 and s8
        const Tensor want = t.reference(x);
        // The residual changes the result: the same graph without it differs.
        Graph plain = t.g.clone();
        plain.nodes()[size_t(t.op)].inputs.pop_back();
        EXPECT_FALSE(within_steps(Int8Graph{plain, t.quantizers, t.op}.reference(x), want, 1.0f));
        EXPECT_TRUE(within_steps(t.run(x), want, 1.0f));
        EXPECT_TRUE(within_steps(t.run(x, true), want, 1.0f));
      }
    }
  }
}

// Dynamic quantization: the batch's own scale (max |x| / 127), exact int32 accumulation, real
// bias and activation after scaling; kernel and reference agree to float rounding.
TEST(Int8, DynamicLinearQuantizesEachBatchWithItsOwnScale) {
  for (const char* act : {"none", "relu"}) {
    SCOPED_TRACE(act);
    Graph g;
    const int x = g.add_input("x", Shape({45}));
    Rng rng(3);
    g.set_output(g.add_node(OpKind::dqlinear, "dq", {x},
                            {{"out_features", int64_t(17)}, {"activation", std::string(act)}}, &rng));
    Node& n = g.nodes()[0];
    fill_weights(n, rng, false);
    randomize_scales_and_bias(n, rng);
    for (float magnitude : {0.01f, 1.0f, 300.0f}) {  // the scale follows the batch
      Tensor in = random_tensor({6, 45}, rng, -magnitude, magnitude);
      Session s(g, {6, Mode::eval, false});
      const Tensor got = s.forward(in).clone();
      const Tensor want = op_def(OpKind::dqlinear).reference(n, {in}, false);
      EXPECT_TRUE(all_close(got, want, 1e-5f, 1e-5f)) << "magnitude " << magnitude;
    }
  }
}

// global_avg_pool -> flatten -> qlinear in an eval session becomes one qlinear with global_pool
// (passes::fuse_global_pool_into_qlinear) on a hand-written kernel: the same values as that
// qlinear's reference (f32 logits to float rounding, int8 outputs exactly or within a step) and as
// the unfused session on oneDNN's pooling and matmul; u8 and s8, a channel tail (20 channels), an
// even pixel count (rounding ties), the plain loops too. A flatten with a second reader stays.
TEST(Int8, ClassifierHeadRunsAsOneKernelWithTheSameValues) {
  for (const char* src : {"u8", "s8"})
    for (const char* dst : {"f32", "u8"})
      for (const bool plain : {false, true}) {
        SCOPED_TRACE(std::string(src) + " -> " + dst + (plain ? ", plain loops" : ""));
        Graph g;
        Rng rng(4);
        const int x = g.add_input("x", Shape({20, 4, 6}));
        const int q = g.add_node(OpKind::quantize, "q", {x}, qattrs({}, "", 1.0, 0, src));
        const int flat = g.add_node(OpKind::flatten, "flat", {g.add_node(OpKind::global_avg_pool, "gap", {q})});
        const bool u8 = std::string(src) == "u8";
        Attrs a = {{"out_features", int64_t(7)}, {"activation", std::string(dst) == "u8" ? "relu" : "none"}};
        a = qattrs(qattrs(a, "src_", 0.02, u8 ? 5 : -3, src), "dst_", 0.05, 3, dst);
        int y = g.add_node(OpKind::qlinear, "fc", {flat}, a, &rng);
        const int fc = int(g.nodes().size()) - 1;
        if (std::string(dst) != "f32") y = g.add_node(OpKind::dequantize, "dq", {y}, qattrs({}, "", 1.0, 0, dst));
        g.set_output(y);
        fill_weights(g.nodes()[size_t(fc)], rng, false);
        randomize_scales_and_bias(g.nodes()[size_t(fc)], rng);

        const Graph fused = passes::fuse_global_pool_into_qlinear(g);
        ASSERT_EQ(fused.nodes().size(), g.nodes().size() - 2);
        EXPECT_EQ(fused.nodes()[1].attr_int("global_pool", 0), 1);
        EXPECT_EQ(fused.nodes()[1].inputs, std::vector<int>{fused.nodes()[0].output});

        const Tensor in = integers(Shape({3, 20, 4, 6}), rng, u8 ? 0 : -128, u8 ? 255 : 127);
        const Tensor want = Int8Graph{fused, {}, 1}.reference(in);
        if (plain) setenv("NIMBLE_PLAIN_KERNELS", "1", 1);
        Session one(g, {3, Mode::eval, true, Precision::fp32, false});
        Session three(g, {3, Mode::eval, false, Precision::fp32, false});
        unsetenv("NIMBLE_PLAIN_KERNELS");
        EXPECT_EQ(one.graph().nodes().size(), fused.nodes().size());
        EXPECT_EQ(three.graph().nodes().size(), g.nodes().size());
        const Tensor got = one.forward(in).clone(), unfused = three.forward(in).clone();
        if (std::string(dst) == "f32") {
          EXPECT_TRUE(all_close(got, want, 1e-5f, 1e-5f));
          EXPECT_TRUE(all_close(unfused, want, 1e-4f, 1e-5f));
        } else {
          EXPECT_TRUE(all_close(got, want, 0.0f, 0.0f));
          EXPECT_TRUE(within_steps(unfused, want, 1.0f));
        }
      }

  Graph g;
  const int x = g.add_input("x", Shape({16, 2, 2}));
  const int q = g.add_node(OpKind::quantize, "q", {x}, qattrs({}, "", 1.0, 0, "u8"));
  const int flat = g.add_node(OpKind::flatten, "flat", {g.add_node(OpKind::global_avg_pool, "gap", {q})});
  const Attrs a = qattrs(qattrs({{"out_features", int64_t(4)}}, "src_", 1.0, 0, "u8"), "dst_", 1.0, 0, "f32");
  Rng rng(2);
  const int y1 = g.add_node(OpKind::qlinear, "fc1", {flat}, a, &rng),
            y2 = g.add_node(OpKind::qlinear, "fc2", {flat}, a, &rng);
  g.set_output(g.add_node(OpKind::add, "sum", {y1, y2}));
  EXPECT_EQ(passes::fuse_global_pool_into_qlinear(g).nodes().size(), g.nodes().size());
}

TEST(Int8, OtherOpsRefuseInt8InputsAndInt8OpsRefuseTraining) {
  Graph g;
  const int x = g.add_input("x", Shape({4, 6, 6}));
  Rng rng(1);
  const int q = g.add_node(OpKind::quantize, "q", {x}, qattrs({}, "", 0.1, 0, "s8"));
  g.set_output(g.add_node(OpKind::relu, "r", {q}));
  EXPECT_THROW(Session(g, {1, Mode::eval, false}), Error);

  Graph h;
  const int hx = h.add_input("x", Shape({4}));
  h.set_output(h.add_node(OpKind::dequantize, "dq",
                          {h.add_node(OpKind::quantize, "q", {hx}, qattrs({}, "", 0.1, 0, "s8"))},
                          qattrs({}, "", 0.1, 0, "s8")));
  EXPECT_THROW(Session(h, {1, Mode::train, false}), Error);
  // Attributes out of range are refused when the node is made.
  EXPECT_THROW(h.add_node(OpKind::quantize, "bad", {hx}, qattrs({}, "", 0.1, 300, "u8")), Error);
  EXPECT_THROW(h.add_node(OpKind::quantize, "bad", {hx}, qattrs({}, "", -1.0, 0, "u8")), Error);
  EXPECT_THROW(h.add_node(OpKind::quantize, "bad", {hx}, qattrs({}, "", 1.0, 0, "f32")), Error);
}

}  // namespace
}  // namespace nimble::testing
