// Post-training quantization: observers against hand-computed thresholds, per-channel weight
// quantization, the convert pass on the zoo (structure, outputs close to fp32, int8 files that
// reload bit-exactly without calibration), and the accuracy-aware fallback on a model made
// sensitive on purpose.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "importer_ops_graph.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/quant/layer_selection.hpp"
#include "nimble/quant/quantize.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

using quant::Observer;
using quant::ObserverKind;
using V = std::vector<int64_t>;

Observer observed(const std::vector<std::vector<float>>& batches, bool histogram) {
  Observer o;
  for (const auto& b : batches) o.observe_range(b.data(), int64_t(b.size()));
  if (histogram)
    for (const auto& b : batches) o.observe_histogram(b.data(), int64_t(b.size()));
  return o;
}

TEST(Observers, MinMaxAndEmaMatchHandComputedRanges) {
  Observer o = observed({{-2.0f, 1.0f, 0.5f}, {0.25f, 1.5f}}, false);
  EXPECT_EQ(o.threshold(ObserverKind::minmax), 2.0);
  QParams q = o.result(ObserverKind::minmax);
  EXPECT_EQ(q.dtype, DType::s8);  // saw a negative value
  EXPECT_FLOAT_EQ(q.scale, 2.0f / 127);
  EXPECT_EQ(q.zero_point, 0);
  // EMA with constant 0.1 from the first batch: min -2 -> -2 + 0.1 * (0.25 + 2) = -1.775;
  // max 1 -> 1 + 0.1 * (1.5 - 1) = 1.05; threshold max(|min|, max).
  EXPECT_NEAR(o.threshold(ObserverKind::ema_minmax), 1.775, 1e-12);

  Observer u = observed({{0.0f, 3.0f}, {1.0f}}, false);
  QParams qu = u.result(ObserverKind::minmax);
  EXPECT_EQ(qu.dtype, DType::u8);  // never negative: the full 0..255 range
  EXPECT_FLOAT_EQ(qu.scale, 3.0f / 255);
  Observer zero = observed({{0.0f, 0.0f}}, false);
  EXPECT_EQ(zero.result(ObserverKind::minmax).scale, 1.0f);
}

TEST(Observers, PercentileIgnoresARareOutlier) {
  // 100,000 values uniform in [0, 1) and one at 1000: minmax follows the outlier, the 99.99th
  // percentile is the end of the histogram bin holding 0.9999.
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) / float(v.size());
  v[12345] = 1000.0f;
  Observer o = observed({v}, true);
  EXPECT_EQ(o.threshold(ObserverKind::minmax), 1000.0);
  const double bin = 1000.0 / Observer::kBins;
  EXPECT_NEAR(o.threshold(ObserverKind::percentile), std::ceil(0.9999 / bin) * bin, 1e-9);
  // Entropy cannot resolve a bulk that fits in 3 of 2048 bins: it stops at its smallest
  // candidate, one bin per u8 level (256 bins).
  EXPECT_NEAR(o.threshold(ObserverKind::entropy), 256 * bin, 1e-9);
  EXPECT_THROW(quant::observer_from_name("kl"), Error);
}

TEST(Observers, EntropyAndMseClipTheTailsOfAGaussian) {
  std::vector<float> v(200000);
  Rng rng(1);
  for (float& x : v) x = rng.normal();
  Observer o = observed({v}, true);
  const double amax = o.threshold(ObserverKind::minmax);
  ASSERT_GT(amax, 4.0);
  for (ObserverKind k : {ObserverKind::entropy, ObserverKind::mse}) {
    SCOPED_TRACE(quant::observer_name(k));
    const double t = o.threshold(k);
    EXPECT_GT(t, 2.0);         // keeps the bulk (95 % of the mass is within 2 sigma)
    EXPECT_LT(t, amax - 0.2);  // but clips the sparse tails
    EXPECT_EQ(o.result(k).dtype, DType::s8);
    EXPECT_FLOAT_EQ(o.result(k).scale, float(t / 127));
  }
  // mse picks the threshold whose expected squared error is smallest: no other bin edge beats it.
  const auto& h = o.histogram();
  const double width = amax / Observer::kBins;
  auto cost = [&](double t) {
    double c = 0;
    for (int b = 0; b < Observer::kBins; ++b) {
      const double centre = (b + 0.5) * width, step = t / 127;
      c += h[size_t(b)] * (centre > t ? (centre - t) * (centre - t) : step * step / 12);
    }
    return c;
  };
  const double best = cost(o.threshold(ObserverKind::mse));
  for (int i = 1; i <= Observer::kBins; i += 7) EXPECT_LE(best, cost(i * width) * (1 + 1e-12)) << i;
}

TEST(Quantize, WeightsArePerChannelSymmetricAndRoundHalfToEven) {
  Tensor w({2, 3});
  const float vals[6] = {127.0f, -63.5f, 0.5f, 0.0f, 0.0f, 0.0f};  // channel 1 all zero
  std::copy(vals, vals + 6, w.data<float>());
  Tensor q, s;
  quant::quantize_weights(q, s, w);
  EXPECT_EQ(s.data<float>()[0], 1.0f);  // max |w| 127 -> scale 1
  EXPECT_EQ(s.data<float>()[1], 1.0f);  // all-zero channel: scale 1, weights 0
  EXPECT_EQ(q.data<int8_t>()[0], 127);
  EXPECT_EQ(q.data<int8_t>()[1], -64);  // -63.5 -> -64 (even)
  EXPECT_EQ(q.data<int8_t>()[2], 0);    // 0.5 -> 0 (even)
  EXPECT_EQ(q.data<int8_t>()[3], 0);
}

// Random u8 images of the model's input shape, as calibration data.
data::ImageSet random_images(const Shape& per_sample, int64_t n, uint64_t seed) {
  data::ImageSet set;
  set.images = Tensor({n, per_sample[0], per_sample[1], per_sample[2]}, DType::u8);
  Rng rng(seed);
  for (int64_t i = 0; i < set.images.numel(); ++i) set.images.data<uint8_t>()[i] = uint8_t(rng.uniform(0.0f, 255.99f));
  set.labels.assign(size_t(n), 0);
  set.num_classes = 10;
  return set;
}

// Images like Fashion-MNIST's: mostly one background value, a sparse bright foreground.
data::ImageSet spiky_images(const Shape& per_sample, int64_t n, uint64_t seed) {
  data::ImageSet set = random_images(per_sample, n, seed);
  Rng rng(seed + 1);
  for (int64_t i = 0; i < set.images.numel(); ++i)
    if (rng.uniform(0.0f, 1.0f) < 0.85f) set.images.data<uint8_t>()[i] = 0;
  return set;
}

int count(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

Tensor outputs(const Graph& g, const Tensor& x) {
  Session s(g, {x.shape()[0], Mode::eval, false, Precision::fp32});
  return s.forward(x).clone();
}

Tensor normalised_batch(const data::ImageSet& set, const data::Normalization& norm, int64_t n) {
  data::BatchLoader loader(set, norm, n, false, false, {}, 0);
  data::Batch b;
  loader.next(b);
  return b.images;
}

TEST(Calibration, TheInputKeepsItsWholeRangeUnderEntropyAndMse) {
  zoo::ModelConfig mc;
  mc.name = "cnn";
  mc.width = 0.25;
  const Graph p = quant::prepare(zoo::build(mc));
  const data::ImageSet calib = spiky_images(p.input_shape(), 64, 3);
  const data::Normalization norm = data::compute_normalization(calib);
  for (ObserverKind k : {ObserverKind::entropy, ObserverKind::mse}) {
    SCOPED_TRACE(quant::observer_name(k));
    const quant::Calibration cal = quant::calibrate(p, calib, norm, k, 32);
    const Observer& in = cal.values[size_t(p.input())];
    // What entropy alone does to these pixels: clip the sparse foreground (mse keeps it here).
    if (k == ObserverKind::entropy) {
      EXPECT_LT(in.threshold(k), 0.9 * in.threshold(ObserverKind::minmax));
    }
    const QParams q = cal.params()[size_t(p.input())];
    EXPECT_FLOAT_EQ(q.scale, in.result(ObserverKind::minmax).scale);
    // Activations still get the observer's threshold.
    size_t clipped = 0;
    for (size_t v = 0; v < cal.values.size(); ++v)
      if (int(v) != p.input() && cal.values[v].seen())
        clipped += cal.params()[v].scale < cal.values[v].result(ObserverKind::minmax).scale;
    EXPECT_GT(clipped, 0u);
  }
}

TEST(Quantize, ZooModelsConvertToInt8AndStayCloseToFp32) {
  for (const char* model : {"cnn", "resnet", "mobilenet_v2"}) {
    SCOPED_TRACE(model);
    zoo::ModelConfig mc;
    mc.name = model;
    mc.depth = 8;
    mc.width = 0.5;
    const Graph g = zoo::build(mc);
    const Graph p = quant::prepare(g);
    const data::ImageSet calib = random_images(g.input_shape(), 64, 1);
    const data::Normalization norm = data::compute_normalization(calib);
    const quant::Calibration cal = quant::calibrate(p, calib, norm, ObserverKind::minmax, 32);
    const Graph q = quant::convert(p, cal.params());
    EXPECT_EQ(count(q, OpKind::conv2d) + count(q, OpKind::linear), 0);
    EXPECT_EQ(count(q, OpKind::qconv2d), count(p, OpKind::conv2d));
    EXPECT_EQ(count(q, OpKind::qadd), count(p, OpKind::add));
    EXPECT_EQ(count(q, OpKind::quantize), 1);  // the graph input only
    EXPECT_LE(count(q, OpKind::dequantize), 1);
    // Same inputs as calibration: int8 logits within a few percent of the fp32 ones.
    const Tensor x = normalised_batch(calib, norm, 16);
    const Tensor a = outputs(p, x), b = outputs(q, x);
    double err = 0, mag = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      err = std::max(err, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
      mag = std::max(mag, double(std::fabs(a.data<float>()[i])));
    }
    EXPECT_LT(err, 0.1 * mag) << "max error " << err << " against max |logit| " << mag;

    // Saved with int8 weights, it reloads and computes bit-identically without calibration.
    const std::string path = (std::filesystem::temp_directory_path() / "nimble_test_int8.nimble").string();
    io::save_checkpoint(q, path);
    const io::Checkpoint ck = io::load_checkpoint(path);
    std::filesystem::remove(path);
    const Tensor c = outputs(ck.graph, x);
    EXPECT_EQ(0, std::memcmp(b.raw(), c.raw(), b.nbytes()));
    int64_t fp32_bytes = 0, int8_bytes = 0;
    for (auto& [n, prm] : g.named_params()) fp32_bytes += int64_t(prm->data.nbytes());
    for (auto& [n, prm] : ck.graph.named_params()) int8_bytes += int64_t(prm->data.nbytes());
    EXPECT_GT(double(fp32_bytes) / double(int8_bytes), 3.5);
  }
}

// An inference session moves each qadd into the qconv2d producing one of its operands (one
// rounding of the sum instead of two, in the residual's buffer where nothing reads it later):
// identity shortcuts (CIFAR layout) and 1x1 downsample convolutions (ImageNet layout) alike. The
// fused session's logits stay within the unfused graph's rounding, and repeat exactly on a
// second call after another input.
TEST(Quantize, SessionsFuseInt8ResidualAddsIntoTheirConvolutions) {
  for (int64_t depth : {8, 18}) {
    SCOPED_TRACE(depth);
    zoo::ModelConfig mc;
    mc.name = "resnet";
    mc.depth = depth;
    mc.width = 0.5;
    mc.input = depth == 18 ? Shape{3, 64, 64} : Shape{1, 28, 28};
    const Graph p = quant::prepare(zoo::build(mc));
    const data::ImageSet calib = random_images(p.input_shape(), 64, 2);
    const data::Normalization norm = data::compute_normalization(calib);
    const Graph q = quant::convert(p, quant::calibrate(p, calib, norm, ObserverKind::minmax, 32).params());
    ASSERT_GT(count(q, OpKind::qadd), 0);
    const Graph fused = passes::optimize_for_session(q);
    EXPECT_EQ(count(fused, OpKind::qadd), 0);
    int with_residual = 0;
    for (const Node& n : fused.nodes()) with_residual += n.op == OpKind::qconv2d && n.inputs.size() == 2;
    EXPECT_EQ(with_residual, count(q, OpKind::qadd));

    Rng rng(3);
    const Tensor x = normalised_batch(calib, norm, 8),
                 y = random_tensor({8, mc.input[0], mc.input[1], mc.input[2]}, rng);
    const Tensor want = outputs(q, x);
    Session s(q, {8, Mode::eval, true, Precision::fp32});
    ASSERT_EQ(count(s.graph(), OpKind::qadd), 0);
    const Tensor got = s.forward(x).clone();
    double err = 0, mag = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      err = std::max(err, double(std::fabs(want.data<float>()[i] - got.data<float>()[i])));
      mag = std::max(mag, double(std::fabs(want.data<float>()[i])));
    }
    EXPECT_LT(err, 0.05 * mag) << "max error " << err << " against max |logit| " << mag;
    s.forward(y);
    const Tensor again = s.forward(x);
    EXPECT_EQ(0, std::memcmp(got.raw(), again.raw(), got.nbytes()));
  }
}

// The ONNX importer's ops through prepare / calibrate / convert: silu fuses into its conv and
// runs in the int8 epilogue, the pool (four-value padding) and the slices stay int8, mul and
// hardsigmoid run in float; the int8 graph stays close to fp32.
TEST(Quantize, GraphsWithTheImporterOps) {
  const Graph g = importer_ops_graph();
  const Graph p = quant::prepare(g);
  EXPECT_EQ(count(p, OpKind::silu), 0);  // fused into stem.conv
  const data::ImageSet calib = random_images(g.input_shape(), 64, 1);
  const data::Normalization norm = data::compute_normalization(calib);
  const quant::Calibration cal = quant::calibrate(p, calib, norm, ObserverKind::minmax, 32);
  const Graph q = quant::convert(p, cal.params());
  EXPECT_EQ(count(q, OpKind::conv2d), 0);
  EXPECT_EQ(count(q, OpKind::mul), 1);
  EXPECT_EQ(count(q, OpKind::slice), 2);
  for (const Node& n : q.nodes()) {
    if (n.op == OpKind::qconv2d && n.name == "stem.conv") {
      EXPECT_EQ(n.attr_str("activation", "none"), "silu");
    }
  }
  const Tensor x = normalised_batch(calib, norm, 16);
  const Tensor a = outputs(p, x), b = outputs(q, x);
  double err = 0, mag = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    err = std::max(err, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    mag = std::max(mag, double(std::fabs(a.data<float>()[i])));
  }
  EXPECT_LT(err, 0.1 * mag) << "max error " << err << " against max |logit| " << mag;
}

TEST(Quantize, KeepingALayerInFloatConvertsAroundIt) {
  const Graph p = quant::prepare(zoo::build({}));  // cnn: conv0, conv1, fc0, fc1
  const data::ImageSet calib = random_images(p.input_shape(), 32, 2);
  const quant::Calibration cal =
      quant::calibrate(p, calib, data::compute_normalization(calib), ObserverKind::minmax, 32);
  const quant::Converted c = quant::convert_layers(p, cal.params(), {{"conv1"}});
  EXPECT_EQ(count(c.graph, OpKind::conv2d), 1);
  EXPECT_EQ(count(c.graph, OpKind::qconv2d), 1);
  // conv0 -> pool in int8, dequantized for the float conv1, quantized again for fc0.
  EXPECT_EQ(count(c.graph, OpKind::dequantize), 1);
  EXPECT_EQ(count(c.graph, OpKind::quantize), 2);
  for (const Node& n : c.graph.nodes()) {
    if (n.op == OpKind::quantize || n.op == OpKind::dequantize || n.op == OpKind::qconv2d || n.op == OpKind::qlinear) {
      EXPECT_TRUE(c.layer_of.count(n.name)) << n.name << " is charged to no layer";
    }
  }
  EXPECT_THROW(quant::convert(p, cal.params(), {{"no_such_layer"}}), Error);
}

TEST(Quantize, DynamicConvertsLinearLayersOnly) {
  const Graph p = quant::prepare(zoo::build({}));  // cnn: two convolutions, two linear layers
  const Graph q = quant::convert_dynamic(p, {"fc1"});
  EXPECT_EQ(count(q, OpKind::dqlinear), 1);
  EXPECT_EQ(count(q, OpKind::linear), 1);  // fc1, kept
  EXPECT_EQ(count(q, OpKind::conv2d), 2);
  Rng rng(4);
  const Tensor x = random_tensor({8, 1, 28, 28}, rng);
  const Tensor a = outputs(p, x), b = outputs(q, x);
  double err = 0, mag = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    err = std::max(err, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    mag = std::max(mag, double(std::fabs(a.data<float>()[i])));
  }
  EXPECT_LT(err, 0.05 * mag);
  EXPECT_THROW(quant::convert_dynamic(p, {"no_such_layer"}), Error);
  Graph convs;  // nothing to convert
  Rng r2(1);
  const int in = convs.add_input("x", Shape({1, 8, 8}));
  convs.set_output(convs.add_node(OpKind::conv2d, "c", {in}, {{"out_channels", int64_t(4)}}, &r2));
  EXPECT_THROW(quant::convert_dynamic(convs), Error);
}

// conv_a's output has one channel ~1000x larger than the others, so its per-tensor scale
// flattens the rest to zero for whichever layer reads it in int8 (conv_b); keeping conv_b in
// float (conv_a then writes f32) restores the outputs. The accuracy function: top-1 agreement
// with the fp32 model on fixed inputs.
TEST(Quantize, AccuracyAwareFallbackRestoresAModelMadeSensitive) {
  Graph g;
  Rng rng(3);
  int x = g.add_input("x", Shape({3, 8, 8}));
  x = g.add_node(OpKind::conv2d, "conv_a", {x},
                 {{"out_channels", int64_t(8)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}}, &rng);
  g.nodes().back().params.at("bias")->data.data<float>()[0] = 1000.0f;
  x = g.add_node(OpKind::relu, "relu_a", {x});
  x = g.add_node(OpKind::conv2d, "conv_b", {x},
                 {{"out_channels", int64_t(8)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}}, &rng);
  Tensor& wb = g.nodes().back().params.at("weights")->data;
  for (int64_t o = 0; o < 8; ++o)  // conv_b ignores the outlier channel 0
    for (int64_t k = 0; k < 9; ++k) wb.data<float>()[(o * 8 + 0) * 9 + k] = 0.0f;
  x = g.add_node(OpKind::relu, "relu_b", {x});
  x = g.add_node(OpKind::flatten, "flatten", {x});
  x = g.add_node(OpKind::linear, "fc", {x}, {{"out_features", int64_t(10)}}, &rng);
  g.set_output(x);

  const Graph p = quant::prepare(g);
  const data::ImageSet calib = random_images(g.input_shape(), 64, 4);
  const data::Normalization norm = data::compute_normalization(calib);
  const quant::Calibration cal = quant::calibrate(p, calib, norm, ObserverKind::minmax, 64);
  const Tensor inputs = normalised_batch(random_images(g.input_shape(), 200, 5), norm, 200);
  const Tensor ref = outputs(p, inputs);
  auto argmax_agreement = [&](const Graph& m) {
    const Tensor y = outputs(m, inputs);
    int agree = 0;
    for (int64_t r = 0; r < 200; ++r) {
      const float* a = ref.data<float>() + r * 10;
      const float* b = y.data<float>() + r * 10;
      agree += std::max_element(a, a + 10) - a == std::max_element(b, b + 10) - b;
    }
    return agree / 200.0;
  };
  const double all_int8 = argmax_agreement(quant::convert(p, cal.params()));
  ASSERT_LT(all_int8, 0.8) << "the model is not sensitive enough to test the fallback";

  quant::SelectionOptions so;
  so.speed = false;
  so.accuracy = argmax_agreement;
  so.max_drop_points = 2.0;
  const quant::Selection sel = quant::select_layers(p, cal.params(), so);
  EXPECT_TRUE(sel.tolerance_met);
  EXPECT_TRUE(sel.keep_float.count("conv_b"));
  EXPECT_FALSE(sel.keep_float.count("conv_a"));  // harmless alone: it stays int8
  EXPECT_GE(argmax_agreement(quant::convert(p, cal.params(), {sel.keep_float})), 0.98);
  EXPECT_NEAR(sel.int8_accuracy, argmax_agreement(quant::convert(p, cal.params(), {sel.keep_float})), 1e-12);
  for (const quant::LayerReport& r : sel.layers) {
    if (r.name == "conv_b") {
      EXPECT_GT(r.accuracy_drop_alone, 20.0);
    }
  }

  // Within a loose tolerance nothing goes back to float and no sensitivity is measured, unless
  // asked for (the optimize report's per-layer table): then every layer has its drop alone.
  so.max_drop_points = 100.0;
  const quant::Selection loose = quant::select_layers(p, cal.params(), so);
  EXPECT_TRUE(loose.keep_float.empty());
  for (const quant::LayerReport& r : loose.layers) EXPECT_EQ(r.accuracy_drop_alone, -1) << r.name;
  so.measure_sensitivity = true;
  const quant::Selection measured = quant::select_layers(p, cal.params(), so);
  EXPECT_TRUE(measured.keep_float.empty());
  for (const quant::LayerReport& r : measured.layers) {
    EXPECT_GE(r.accuracy_drop_alone, r.name == "conv_b" ? 20.0 : -100.0) << r.name;
    EXPECT_LE(r.accuracy_drop_alone, 100.0) << r.name;
  }
}

}  // namespace
}  // namespace nimble::testing
