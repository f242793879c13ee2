// Quantization-aware training: fake_quant forward equals its reference (round half to even,
// saturation), its gradient is straight-through inside the representable range and zero outside,
// its range follows the batches in training only; fake-quantized weights; and the QAT passes: a
// model with fake quantization computes what its int8 conversion computes.
#include <gtest/gtest.h>

#include <cmath>

#include "nimble/quant/qat.hpp"
#include "nimble/quant/quantize.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

Graph fake_quant_graph(const std::string& dtype, float lo, float hi, int64_t features) {
  Graph g;
  const int x = g.add_input("x", Shape({features}));
  Rng rng(1);
  g.set_output(g.add_node(OpKind::fake_quant, "fq", {x}, {{"dtype", dtype}, {"observes", std::string("")}}, &rng));
  float* r = g.nodes()[0].params.at("range")->data.data<float>();
  r[0] = lo, r[1] = hi;
  return g;
}

TEST(FakeQuant, ForwardRoundsHalfToEvenAndSaturates) {
  Graph g = fake_quant_graph("s8", -12.7f, 12.7f, 8);  // scale 0.1
  Tensor x({1, 8});
  const float xs[8] = {0.05f, 0.15f, -0.25f, 0.31f, 100.0f, -100.0f, 12.7f, 0.0f};
  std::copy(xs, xs + 8, x.data<float>());
  Session s(g, {1, Mode::eval, false});
  const Tensor y = s.forward(x).clone();
  const Tensor ref = op_def(OpKind::fake_quant).reference(g.nodes()[0], {x}, false);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y.data<float>()[i], ref.data<float>()[i]) << xs[i];
  // 0.05 / 0.1 = 0.5 -> 0; 100 -> 127 * 0.1; -100 -> -128 * 0.1.
  EXPECT_EQ(y.data<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[4], 12.7f);
  EXPECT_FLOAT_EQ(y.data<float>()[5], -12.8f);
  // Random values: kernel and reference agree exactly.
  Rng rng(2);
  Tensor big = random_tensor({4, 8}, rng, -20.0f, 20.0f);
  Session s4(g, {4, Mode::eval, false});
  EXPECT_TRUE(all_close(s4.forward(big), op_def(OpKind::fake_quant).reference(g.nodes()[0], {big}, false), 0, 0));
}

TEST(FakeQuant, GradientIsStraightThroughInsideTheRangeAndZeroOutside) {
  // u8, scale 0.01: representable [0, 2.55]. The gradient reaching the input shows in the
  // weight gradient of an identity linear layer in front.
  Tensor x({1, 6});
  const float xs[6] = {-0.5f, 0.0f, 1.234f, 2.55f, 2.56f, 7.0f};
  std::copy(xs, xs + 6, x.data<float>());
  Tensor dy({1, 6});
  for (int i = 0; i < 6; ++i) dy.data<float>()[i] = float(i + 1);
  Graph h;
  const int in = h.add_input("x", Shape({6}));
  Rng rng(1);
  const int lin = h.add_node(OpKind::linear, "id", {in}, {{"out_features", int64_t(6)}, {"bias", int64_t(0)}}, &rng);
  Tensor& w = h.nodes()[0].params.at("weights")->data;
  for (int64_t i = 0; i < 36; ++i) w.data<float>()[i] = i % 7 == 0 ? 1.0f : 0.0f;  // identity
  h.set_output(h.add_node(OpKind::fake_quant, "fq", {lin}, {{"dtype", std::string("u8")}, {"momentum", 1e-9}}, &rng));
  float* r = h.nodes()[1].params.at("range")->data.data<float>();
  r[0] = 0.0f, r[1] = 2.55f;
  Session t(h, {1, Mode::train, false});
  t.forward(x);
  t.backward(dy);
  // dL/dw[i][i] = dy_i * x_i where x_i is representable, 0 where it was clipped.
  const Tensor& gw = h.nodes()[0].params.at("weights")->grad;
  const bool inside[6] = {false, true, true, true, false, false};
  for (int i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(gw.data<float>()[i * 7], inside[i] ? dy.data<float>()[i] * xs[i] : 0.0f) << "x = " << xs[i];
}

TEST(FakeQuant, RangeFollowsBatchesInTrainingOnly) {
  Graph g = fake_quant_graph("s8", -1.0f, 1.0f, 4);
  g.nodes()[0].attrs["momentum"] = 0.5;
  Tensor x({1, 4});
  const float xs[4] = {-3.0f, 0.0f, 1.0f, 5.0f};
  std::copy(xs, xs + 4, x.data<float>());
  const float* r = g.nodes()[0].params.at("range")->data.data<float>();
  Session e(g, {1, Mode::eval, false});
  e.forward(x);
  EXPECT_EQ(r[0], -1.0f);
  EXPECT_EQ(r[1], 1.0f);
  Session t(g, {1, Mode::train, false});
  t.forward(x);
  EXPECT_FLOAT_EQ(r[0], -1.0f + 0.5f * (-3.0f + 1.0f));  // EMA toward the batch min -3
  EXPECT_FLOAT_EQ(r[1], 1.0f + 0.5f * (5.0f - 1.0f));
}

TEST(FakeQuant, WeightsAreRoundedPerChannelInForward) {
  Tensor w({2, 4}), out;
  const float v[8] = {1.0f, 0.5f, 0.25f, 0.004f, -2.0f, 0.01f, 0.0f, 1.0f};
  std::copy(v, v + 8, w.data<float>());
  fake_quantize_weights(out, w);
  // channel 0: scale 1/127; channel 1: scale 2/127.
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out.data<float>()[i], std::nearbyint(v[i] * 127.0f) / 127.0f) << i;
  for (int i = 4; i < 8; ++i)
    EXPECT_FLOAT_EQ(out.data<float>()[i], (2.0f / 127.0f) * std::nearbyint(v[i] / (2.0f / 127.0f))) << i;
}

data::ImageSet random_images(const Shape& s, int64_t n, uint64_t seed) {
  data::ImageSet set;
  set.images = Tensor({n, s[0], s[1], s[2]}, DType::u8);
  Rng rng(seed);
  for (int64_t i = 0; i < set.images.numel(); ++i) set.images.data<uint8_t>()[i] = uint8_t(rng.uniform(0.0f, 255.99f));
  for (int64_t i = 0; i < n; ++i) set.labels.push_back(int32_t(i % 10));
  set.num_classes = 10;
  return set;
}

// What QAT trains is what the int8 graph runs: after a few training steps the fake-quantized model
// (eval) and its int8 conversion give nearly the same logits — much closer than the float model.
TEST(Qat, FakeQuantizedModelComputesWhatItsInt8ConversionComputes) {
  for (const char* model : {"cnn", "resnet"}) {
    SCOPED_TRACE(model);
    zoo::ModelConfig mc;
    mc.name = model;
    mc.depth = 8;
    mc.width = 0.5;
    const Graph g = zoo::build(mc);
    const data::ImageSet set = random_images(g.input_shape(), 256, 3);
    const data::Normalization norm = data::compute_normalization(set);
    const Graph prepared = quant::prepare(g);
    const auto params = quant::calibrate(prepared, set, norm, quant::ObserverKind::minmax).params();
    Graph fq = quant::insert_fake_quant(g, prepared, params, {});
    int fq_nodes = 0;
    for (const Node& n : fq.nodes()) fq_nodes += n.op == OpKind::fake_quant;
    EXPECT_GE(fq_nodes, 4);
    train::TrainConfig tc;
    tc.epochs = 1;
    tc.batch = 64;
    tc.progress = false;
    tc.schedule.lr = 0.01f;
    train::Trainer(fq, tc).fit(set, {}, norm);

    quant::ObservedRanges ranges;
    const Graph tuned = quant::prepare(quant::strip_fake_quant(fq, ranges));
    EXPECT_TRUE(ranges.count(""));  // the input was observed
    for (const Node& n : tuned.nodes()) EXPECT_NE(n.op, OpKind::fake_quant);
    const auto fallback = quant::calibrate(tuned, set, norm, quant::ObserverKind::minmax).params();
    const Graph q = quant::convert(tuned, quant::qat_params(tuned, ranges, fallback));

    data::BatchLoader loader(set, norm, 32, false, false, {}, 0);
    data::Batch b;
    loader.next(b);
    Session sf(fq, {32, Mode::eval, true}), sq(q, {32, Mode::eval, false}), st(tuned, {32, Mode::eval, false});
    const Tensor yf = sf.forward(b.images).clone(), yq = sq.forward(b.images).clone(),
                 yt = st.forward(b.images).clone();
    double dq = 0, dt = 0, mag = 0;
    for (int64_t i = 0; i < yf.numel(); ++i) {
      dq = std::max(dq, double(std::fabs(yf.data<float>()[i] - yq.data<float>()[i])));
      dt = std::max(dt, double(std::fabs(yf.data<float>()[i] - yt.data<float>()[i])));
      mag = std::max(mag, double(std::fabs(yf.data<float>()[i])));
    }
    EXPECT_LT(dq, 0.05 * mag) << "fake-quant vs int8 " << dq << ", vs float " << dt << ", |logits| " << mag;
    EXPECT_LT(dq, dt) << "the int8 model should match the fake-quantized one better than the float one does";
  }
}

}  // namespace
}  // namespace nimble::testing
