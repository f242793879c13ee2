// The hand-written convolution over a one-channel input (kernels/single_channel_conv.hpp) against
// double-precision references: forward with bias and clamps, weight and bias gradients, in nhwc
// (with a masked group of channels) and nChw16c, fp32 and bf16, over strides, paddings, dilations
// and kernel sizes; and the conv2d op taking it in a training session and in a bf16 inference one.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/single_channel_conv.hpp"
#include "nimble/core/dtype.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/runtime/session.hpp"
#include "op_harness.hpp"

namespace nimble::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Case {
  int64_t n, h, w, oc, k, stride, pad, dilation;
  bool blocked;  // nChw16c (oc a multiple of 16) rather than nhwc
};

const Case kCases[] = {
    {3, 13, 11, 32, 3, 1, 1, 1, false},  // the cnn stem's shape, odd sizes
    {2, 12, 12, 32, 3, 1, 1, 1, true},   // nChw16c
    {1, 9, 10, 20, 3, 2, 0, 1, false},   // one image shared by both threads' rows; masked channels; stride 2
    {2, 11, 11, 16, 5, 1, 2, 1, false},  // 5x5
    {2, 10, 9, 48, 3, 1, 2, 2, true},    // dilation 2, three groups of 16 (a pair and a single)
    {3, 7, 7, 8, 1, 1, 0, 1, false},     // 1x1
    {2, 6, 8, 16, 2, 2, 1, 1, false},    // 2x2 with padding
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

SingleChannelConvGeometry geometry_of(const Case& c) {
  return {c.n,
          c.h,
          c.w,
          c.oc,
          out_size(c.h, c.k, c.stride, c.pad, c.dilation),
          out_size(c.w, c.k, c.stride, c.pad, c.dilation),
          c.k,
          c.k,
          c.stride,
          c.stride,
          c.pad,
          c.pad,
          c.dilation,
          c.dilation};
}

ChannelBlocks view_of(const Case& c, const SingleChannelConvGeometry& g) {
  return c.blocked ? ChannelBlocks{g.n, g.oc / 16, g.oh, g.ow, 16} : ChannelBlocks{g.n, 1, g.oh, g.ow, g.oc};
}

// The input value a tap reads, 0 outside the image.
double tap(const std::vector<float>& x, const SingleChannelConvGeometry& g, int64_t b, int64_t oy, int64_t ox,
           int64_t ky, int64_t kx) {
  const int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
  return iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw ? 0.0 : x[size_t((b * g.ih + iy) * g.iw + ix)];
}

std::vector<float> random_values(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

TEST(SingleChannelConv, ForwardAndWeightGradientsMatchDoubleReference) {
  if (!single_channel_conv_supported(geometry_of(kCases[0]))) GTEST_SKIP() << "no AVX-512 here";
  std::mt19937 rng(7);
  for (const Case& c : kCases)
    for (bool bf16 : {false, true})
      for (float upper : {kInf, 6.0f}) {
        const SingleChannelConvGeometry g = geometry_of(c);
        ASSERT_TRUE(single_channel_conv_supported(g));
        const ChannelBlocks v = view_of(c, g);
        const std::vector<float> x = random_values(size_t(g.n * g.ih * g.iw), rng);
        std::vector<float> w = random_values(size_t(g.oc * g.kh * g.kw), rng), bias = random_values(size_t(g.oc), rng);
        const float lower = upper == kInf ? -kInf : 0.0f;
        // Outputs past 6 exercise the upper clamp.
        for (float& e : w) e *= 4.0f;
        const size_t count = size_t(v.numel());
        std::vector<float> y32(count, NAN);
        std::vector<uint16_t> y16(count, 0x7fc0);
        single_channel_conv_forward(x.data(), w.data(), bias.data(), bf16 ? static_cast<void*>(y16.data()) : y32.data(),
                                    bf16, v, g, lower, upper);
        std::vector<float> dy = random_values(count, rng);
        std::vector<uint16_t> dy16(count);
        for (size_t i = 0; i < count; ++i) {
          dy16[i] = f32_to_bf16(dy[i]);
          if (bf16) dy[i] = bf16_to_f32(dy16[i]);  // the reference sees what the kernel reads
        }
        std::vector<float> dw(w.size(), NAN), db(bias.size(), NAN);
        single_channel_conv_backward_weights(x.data(), bf16 ? static_cast<const void*>(dy16.data()) : dy.data(), bf16,
                                             v, g, dw.data(), db.data());
        std::vector<double> want_dw(w.size(), 0.0), want_db(bias.size(), 0.0);
        double worst_y = 0;
        for (int64_t b = 0; b < g.n; ++b)
          for (int64_t oc = 0; oc < g.oc; ++oc)
            for (int64_t oy = 0; oy < g.oh; ++oy)
              for (int64_t ox = 0; ox < g.ow; ++ox) {
                double acc = bias[size_t(oc)];
                const size_t at = size_t(v.offset(b, oc, oy, ox));
                for (int64_t ky = 0; ky < g.kh; ++ky)
                  for (int64_t kx = 0; kx < g.kw; ++kx) {
                    const double xv = tap(x, g, b, oy, ox, ky, kx);
                    acc += xv * w[size_t((oc * g.kh + ky) * g.kw + kx)];
                    want_dw[size_t((oc * g.kh + ky) * g.kw + kx)] += xv * dy[at];
                  }
                want_db[size_t(oc)] += dy[at];
                const double want = std::min(std::max(acc, double(lower)), double(upper));
                const double got = bf16 ? bf16_to_f32(y16[at]) : y32[at];
                // fp32 accumulation of <= 25 terms; bf16 rounds the result to 8 bits.
                const double tol = bf16 ? std::fabs(want) / 128 + 1e-5 : 1e-5 * (1 + std::fabs(want));
                EXPECT_NEAR(got, want, tol) << "case " << &c - kCases << " bf16 " << bf16 << " at " << at;
                worst_y = std::max(worst_y, std::fabs(got - want));
              }
        for (size_t i = 0; i < dw.size(); ++i)
          EXPECT_NEAR(dw[i], want_dw[i], 1e-4 * (1 + std::fabs(want_dw[i]))) << "case " << &c - kCases << " dw " << i;
        for (size_t i = 0; i < db.size(); ++i)
          EXPECT_NEAR(db[i], want_db[i], 1e-4 * (1 + std::fabs(want_db[i]))) << "case " << &c - kCases << " db " << i;
      }
}

}  // namespace
}  // namespace nimble::kernels

namespace nimble::testing {
namespace {

// x (1 x 13 x 11) -> conv2d 1 -> `channels` (3x3, stride 2, padding 1): a session's own input, so
// in bf16 training the layer takes the hand-written kernel (oneDNN's in fp32). Its output and
// weight gradients against the op's reference kernel and a double-precision sum; bf16 inference
// stores bf16 with ReLU6 fused. 20 channels: written nhwc; 32: in the layout oneDNN's bf16
// convolutions read here (nChw16c without AMX).
Graph stem_graph(const std::string& activation, int64_t channels = 20) {
  Graph g;
  Rng rng(3);
  const int x = g.add_input("x", {1, 13, 11});
  g.add_node(OpKind::conv2d, "stem", {x},
             {{"out_channels", channels},
              {"kernel", std::vector<int64_t>{3, 3}},
              {"stride", std::vector<int64_t>{2, 2}},
              {"padding", std::vector<int64_t>{1, 1}},
              {"activation", activation}},
             &rng);
  return g;
}

TEST(SingleChannelConv, TrainingSessionMatchesTheReferenceKernel) {
  for (const int64_t channels : {20, 32}) {
    SCOPED_TRACE(channels);
    Graph g = stem_graph("none", channels);
    Rng rng(9);
    Tensor x({4, 1, 13, 11});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-1, 1);
    const Node& node = g.nodes()[0];
    const Tensor want = op_def(OpKind::conv2d).reference(node, {x}, true);
    for (Precision p : {Precision::fp32, Precision::bf16}) {
      if (p == Precision::bf16 && !precision_support(p).native) continue;
      Session s(g, {4, Mode::train, true, p});
      const Tensor& y = s.forward(x);
      EXPECT_TRUE(all_close(y, want, p == Precision::bf16 ? 1e-2f : 1e-5f, p == Precision::bf16 ? 1e-2f : 1e-5f))
          << precision_name(p);
      Tensor dy(y.shape());
      for (int64_t i = 0; i < dy.numel(); ++i) dy.data<float>()[i] = rng.uniform(-1, 1);
      s.backward(dy);
      // dW[oc][ky][kx] = sum over images and output pixels of dy * x at the tap, dB[oc] = sum of dy.
      const Tensor& dw = node.params.at("weights")->grad;
      const Tensor& db = node.params.at("bias")->grad;
      const int64_t oh = y.shape()[2], ow = y.shape()[3];
      for (int64_t oc = 0; oc < channels; ++oc) {
        double want_db = 0;
        for (int64_t ky = 0; ky < 3; ++ky)
          for (int64_t kx = 0; kx < 3; ++kx) {
            double want_dw = 0;
            for (int64_t b = 0; b < 4; ++b)
              for (int64_t oy = 0; oy < oh; ++oy)
                for (int64_t ox = 0; ox < ow; ++ox) {
                  const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                  if (iy < 0 || iy >= 13 || ix < 0 || ix >= 11) continue;
                  // bf16 training hands the layer a bf16 gradient: compare against what it read.
                  float d = dy.data<float>()[((b * channels + oc) * oh + oy) * ow + ox];
                  if (p == Precision::bf16) d = bf16_to_f32(f32_to_bf16(d));
                  want_dw += double(d) * x.data<float>()[(b * 13 + iy) * 11 + ix];
                }
            EXPECT_NEAR(dw.data<float>()[(oc * 3 + ky) * 3 + kx], want_dw, 1e-4 * (1 + std::fabs(want_dw)))
                << precision_name(p) << " oc " << oc;
          }
        for (int64_t b = 0; b < 4; ++b)
          for (int64_t i = 0; i < oh * ow; ++i) {
            float d = dy.data<float>()[(b * channels + oc) * oh * ow + i];
            if (p == Precision::bf16) d = bf16_to_f32(f32_to_bf16(d));
            want_db += d;
          }
        EXPECT_NEAR(db.data<float>()[oc], want_db, 1e-4 * (1 + std::fabs(want_db)))
            << precision_name(p) << " oc " << oc;
      }
    }
  }
}

TEST(SingleChannelConv, Bf16InferenceWithFusedReLU6MatchesTheReferenceKernel) {
  if (!precision_support(Precision::bf16).native) GTEST_SKIP() << "no native bf16 here";
  Graph g = stem_graph("relu6");
  Rng rng(4);
  Tensor x({2, 1, 13, 11});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-20, 20);  // past 6 and below 0
  const Tensor want = op_def(OpKind::conv2d).reference(g.nodes()[0], {x}, false);
  Session s(g, {2, Mode::eval, false, Precision::bf16});
  EXPECT_TRUE(all_close(s.forward(x), want, 1e-2f, 1e-2f));
}

}  // namespace
}  // namespace nimble::testing
