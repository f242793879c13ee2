// Mixed precision: the precision choice, every op computed in bf16 and (emulated) fp16 against
// the fp32 reference kernels, gradients through each op against fp32, whole zoo models, and a
// short training run whose loss curve must track fp32's.
#include <gtest/gtest.h>

#include <map>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <dnnl.hpp>

#include "nimble/data/dataset.hpp"
#include "nimble/runtime/precision_probe.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

using V = std::vector<int64_t>;

// Relative error bound per low-precision dtype: bf16 keeps 8 mantissa bits, fp16 11.
float tolerance(Precision p) { return p == Precision::bf16 ? 3e-2f : 4e-3f; }

float max_abs(const Tensor& t) {
  float m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data<float>()[i]));
  return m;
}

// |a - b| measured against the size of b: max error / max |b|.
double relative_error(const Tensor& a, const Tensor& b) {
  double err = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    err = std::max(err, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  return err / std::max(1e-6f, max_abs(b));
}

TEST(Precision, AutoNeverPicksAnEmulatedPrecision) {
  PrecisionChoice c = choose_precision(Precision::automatic);
  EXPECT_FALSE(c.emulated);
  EXPECT_EQ(c.precision, precision_support(Precision::bf16).native ? Precision::bf16 : Precision::fp32);
  EXPECT_FALSE(c.reason.empty());
  // oneDNN 2.6 has no CPU fp16 kernels: fp16 is always emulated and says so.
  PrecisionChoice h = choose_precision(Precision::fp16);
  EXPECT_TRUE(h.emulated);
  EXPECT_NE(h.reason.find("emulated"), std::string::npos);
  EXPECT_FALSE(choose_precision(Precision::fp32).emulated);
  EXPECT_THROW(precision_from_name("fp8"), Error);
  EXPECT_EQ(precision_from_name("auto"), Precision::automatic);
  EXPECT_EQ(precision_from_name(precision_name(Precision::bf16)), Precision::bf16);
}

// `auto` by measurement: an explicit precision is never second-guessed, and the low precision is
// kept exactly when its measured step is at least 5 % faster, as the reason reports.
TEST(Precision, AutoKeepsBf16OnlyWhereItMeasuresFaster) {
  Graph g = zoo::build({});
  const std::vector<Tensor> before = [&] {
    std::vector<Tensor> v;
    for (auto& [n, p] : g.named_params()) v.push_back(p->data.clone());
    return v;
  }();
  PrecisionChoice fixed = choose_precision_for(Precision::fp32, g, 32, Mode::train);
  EXPECT_EQ(fixed.precision, Precision::fp32);
  EXPECT_EQ(fixed.reason.find("measured"), std::string::npos);

  PrecisionChoice c = choose_precision_for(Precision::automatic, g, 32, Mode::train);
  EXPECT_FALSE(c.emulated);
  if (!precision_support(Precision::bf16).native) {
    EXPECT_EQ(c.precision, Precision::fp32);
  } else {
    double low = 0, fp32 = 0;
    const size_t at = c.reason.find("bf16 ");
    ASSERT_NE(at, std::string::npos) << c.reason;
    ASSERT_EQ(std::sscanf(c.reason.c_str() + c.reason.rfind("bf16 "), "bf16 %lf ms, fp32 %lf ms", &low, &fp32), 2)
        << c.reason;
    EXPECT_EQ(c.precision == Precision::bf16, low < 0.95 * fp32) << c.reason;
  }
  // Timing ran on a copy: parameters and batch-norm running statistics are untouched.
  size_t i = 0;
  for (auto& [n, p] : g.named_params()) {
    const Tensor& b = before[i++];
    EXPECT_EQ(0, std::memcmp(b.raw(), p->data.raw(), b.nbytes())) << n;
  }
}

TEST(Precision, PolicyKeepsSoftmaxInFp32) {
  Node softmax, stem, conv, relu, bn;
  softmax.op = OpKind::softmax;
  stem.op = conv.op = OpKind::conv2d;
  relu.op = OpKind::relu;
  bn.op = OpKind::batch_norm2d;
  EXPECT_EQ(op_precision_rule(Precision::bf16, softmax, {{2, 10}}), OpPrecisionRule::fp32);
  EXPECT_EQ(op_precision_rule(Precision::fp16, softmax, {{2, 10}}), OpPrecisionRule::fp32);
  EXPECT_EQ(op_precision_rule(Precision::fp32, conv, {{2, 8, 5, 5}}), OpPrecisionRule::fp32);
  EXPECT_EQ(op_precision_rule(Precision::fp16, conv, {{2, 8, 5, 5}}), OpPrecisionRule::emulated);
  if (precision_support(Precision::bf16).native) {
    // The one-channel stem computes in fp32 on its own kernel but stores bf16 (or falls back to
    // oneDNN's fp32): conv2d's kernel decides, the policy marks it low like every convolution.
    EXPECT_EQ(op_precision_rule(Precision::bf16, stem, {{2, 1, 28, 28}}), OpPrecisionRule::low);
    EXPECT_EQ(op_precision_rule(Precision::bf16, conv, {{2, 8, 5, 5}}), OpPrecisionRule::low);
    EXPECT_EQ(op_precision_rule(Precision::bf16, relu, {{2, 8, 5, 5}}), OpPrecisionRule::follow);
    // Batch-norm may write bf16 from an fp32 input (after the stem).
    EXPECT_EQ(op_precision_rule(Precision::bf16, bn, {{2, 32, 5, 5}}), OpPrecisionRule::low);
  }
  EXPECT_FALSE(precision_policy_table(Precision::bf16).empty());
}

struct OpCase {
  OpKind op;
  Attrs attrs;
  bool two_inputs = false;  // the op takes the producer's output twice (add, concat, mul)
};

std::vector<OpCase> op_cases() {
  return {
      {OpKind::conv2d, {{"out_channels", int64_t(8)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}}},
      {OpKind::conv2d,
       {{"out_channels", int64_t(8)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}, {"groups", int64_t(8)}}},
      {OpKind::conv2d, {{"out_channels", int64_t(6)}, {"kernel", V{1, 1}}, {"stride", V{2, 2}}, {"bias", int64_t(0)}}},
      {OpKind::batch_norm2d, {}},
      {OpKind::relu, {}},
      {OpKind::relu6, {}},
      {OpKind::hardswish, {}},
      {OpKind::sigmoid, {}},
      {OpKind::max_pool2d, {{"kernel", V{2, 2}}, {"stride", V{2, 2}}}},
      {OpKind::avg_pool2d, {{"kernel", V{3, 3}}, {"stride", V{1, 1}}, {"padding", V{1, 1}}}},
      {OpKind::global_avg_pool, {}},
      {OpKind::add, {}, true},
      {OpKind::concat, {}, true},
      {OpKind::flatten, {}},
      {OpKind::dropout, {{"p", 0.3}}},
      {OpKind::silu, {}},
      {OpKind::hardsigmoid, {}},
      {OpKind::mul, {}, true},
      {OpKind::slice, {{"start", int64_t(2)}, {"end", int64_t(7)}}},
      {OpKind::channel_shuffle, {{"groups", int64_t(2)}}},
      // ceil_mode on an odd image; windows that do not overlap (overlapping 3x3 windows route a
      // near-tied maximum's gradient elsewhere in bf16, padded or not: min cosine 0.994)
      {OpKind::max_pool2d, {{"kernel", V{2, 2}}, {"stride", V{2, 2}}, {"padding", V{0, 0, 1, 1}}}},
      {OpKind::avg_pool2d, {{"kernel", V{2, 2}}, {"padding", V{0, 0, 1, 1}}}},
  };
}

// x (8x9x9) -> conv "pre" (trainable, 8 channels so its kernel is low precision) -> op -> flatten
// -> linear "head". Gradients of `pre` pass through the op's backward in the session's precision.
Graph graph_around(const OpCase& c, Rng& rng) {
  Graph g;
  int x = g.add_input("x", {8, 9, 9});
  int pre = g.add_node(OpKind::conv2d, "pre", {x},
                       {{"out_channels", int64_t(8)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}}, &rng);
  std::vector<int> ins = c.two_inputs ? std::vector<int>{pre, pre} : std::vector<int>{pre};
  int y = g.add_node(c.op, "op", ins, c.attrs, &rng);
  if (g.values()[y].shape.rank() > 1) y = g.add_node(OpKind::flatten, "flat", {y});
  g.add_node(OpKind::linear, "head", {y}, {{"out_features", int64_t(10)}}, &rng);
  return g;
}

// Forward in eval mode (no fusion, so each op runs as itself) against the fp32 session, which the
// per-op tests already hold to the reference kernels.
TEST(Precision, EveryOpForwardMatchesFp32) {
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    for (const OpCase& c : op_cases()) {
      Rng rng(7);
      Graph g = graph_around(c, rng);
      Tensor x = random_tensor({4, 8, 9, 9}, rng);
      Session ref(g, {4, Mode::eval, false, Precision::fp32});
      Session low(g, {4, Mode::eval, false, p});
      Tensor want = ref.forward(x).clone();
      const Tensor& got = low.forward(x);
      EXPECT_LT(relative_error(got, want), tolerance(p)) << precision_name(p) << " " << op_name(c.op);
    }
  }
}

// Gradient agreement of two runs, per parameter tensor: cosine similarity and norm ratio. Tensors
// whose true gradient is ~0 (a conv bias right before batch-norm, which subtracts it again) hold
// only rounding noise and are skipped.
struct GradientAgreement {
  double min_cosine = 1, max_norm_error = 0;
  int compared = 0;
};
GradientAgreement agreement(const std::vector<Tensor>& want, const std::vector<Tensor>& got) {
  GradientAgreement a;
  std::vector<double> norms;
  for (const Tensor& t : want) {
    double n = 0;
    for (int64_t j = 0; j < t.numel(); ++j) n += double(t.data<float>()[j]) * t.data<float>()[j];
    norms.push_back(std::sqrt(n));
  }
  const double largest = *std::max_element(norms.begin(), norms.end());
  for (size_t i = 0; i < want.size(); ++i) {
    if (norms[i] < 1e-3 * largest) continue;
    double dot = 0, n1 = 0;
    for (int64_t j = 0; j < want[i].numel(); ++j) {
      const double a0 = want[i].data<float>()[j], b = got[i].data<float>()[j];
      dot += a0 * b, n1 += b * b;
    }
    a.min_cosine = std::min(a.min_cosine, dot / (norms[i] * std::sqrt(n1) + 1e-30));
    a.max_norm_error = std::max(a.max_norm_error, std::fabs(std::sqrt(n1) / norms[i] - 1));
    ++a.compared;
  }
  return a;
}

// Forward then backward of sum(logits * r) in a train-mode session; returns the trainable
// parameters' gradients. fp16 runs scale r by 2^10 and unscale the gradients, as the loss scaler
// does: unscaled, gradients of ~1e-6 fall below fp16's smallest normal (6e-5) and flush.
std::vector<Tensor> gradients(const Graph& g, Precision p, const Tensor& x, const Tensor& r, Tensor* logits = nullptr) {
  const float scale = p == Precision::fp16 ? 1024.0f : 1.0f;
  Tensor scaled = r.clone();
  for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] *= scale;
  Session s(g, {x.shape()[0], Mode::train, true, p});
  const Tensor& y = s.forward(x);
  if (logits) *logits = y.clone();
  s.backward(scaled);
  std::vector<Tensor> out;
  for (auto& [name, param] : g.named_params())
    if (param->trainable) {
      out.push_back(param->grad.clone());
      for (int64_t i = 0; i < out.back().numel(); ++i) out.back().data<float>()[i] /= scale;
    }
  return out;
}

// Thresholds from the development machine, with margin (min cosine / max norm error measured):
// single ops bf16 >= 0.995; cnn and resnet8 bf16 0.987 / 0.025 and 0.981 / 0.073, fp16 0.994 /
// 0.016 and 0.998 / 0.027 — batch-norm's backward subtracts means, so rounding errors do not
// average out. A wrong dtype, a wrong layout or a lost gradient gives cosines near 0.
TEST(Precision, EveryOpBackwardMatchesFp32) {
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    for (const OpCase& c : op_cases()) {
      if (c.op == OpKind::dropout) continue;  // its mask differs between sessions by design
      Rng rng(11);
      Graph g = graph_around(c, rng);
      Tensor x = random_tensor({4, 8, 9, 9}, rng);
      Tensor r = random_tensor({4, 10}, rng);
      GradientAgreement a = agreement(gradients(g, Precision::fp32, x, r), gradients(g, p, x, r));
      EXPECT_GE(a.compared, 2);
      EXPECT_GT(a.min_cosine, p == Precision::bf16 ? 0.995 : 0.9995) << precision_name(p) << " " << op_name(c.op);
      EXPECT_LT(a.max_norm_error, p == Precision::bf16 ? 0.03 : 0.003) << precision_name(p) << " " << op_name(c.op);
    }
  }
}

// Whole zoo models, train mode: logits and every parameter gradient against fp32. mobilenet_v2 is
// left to the training test below: at random init in train mode its ~150 layers amplify rounding
// steadily (logits off by ~1 % after 20 layers, ~20 % at the end in bf16, 3 % in fp16), so a
// one-batch comparison says little about it.
TEST(Precision, ZooModelsGradientsTrackFp32) {
  for (const char* model : {"cnn", "resnet"}) {
    zoo::ModelConfig mc;
    mc.name = model;
    mc.depth = 8;
    mc.width = std::string(model) == "cnn" ? 1.0 : 0.5;
    Graph g = zoo::build(mc);
    Rng rng(5);
    Tensor x = random_tensor({16, 1, 28, 28}, rng);
    Tensor r = random_tensor({16, 10}, rng);
    Tensor want_logits, got_logits;
    std::vector<Tensor> want = gradients(g, Precision::fp32, x, r, &want_logits);
    for (Precision p : {Precision::bf16, Precision::fp16}) {
      GradientAgreement a = agreement(want, gradients(g, p, x, r, &got_logits));
      EXPECT_LT(relative_error(got_logits, want_logits), 4 * tolerance(p)) << model << " " << precision_name(p);
      EXPECT_GT(a.compared, 4);
      EXPECT_GT(a.min_cosine, p == Precision::bf16 ? 0.97 : 0.99) << model << " " << precision_name(p);
      EXPECT_LT(a.max_norm_error, p == Precision::bf16 ? 0.1 : 0.05) << model << " " << precision_name(p);
      std::printf("%s %s: min cosine %.5f, max norm error %.4f over %d tensors\n", model, precision_name(p),
                  a.min_cosine, a.max_norm_error, a.compared);
    }
  }
}

// Whether oneDNN lays out a bf16 1x1 convolution's tensors as nhwc on this CPU, the precondition
// of conv2d's forward and backward-data matmul forms. It does where it runs the convolution on
// AMX; avx512_core_bf16 (e.g. AMD Zen 4) picks the blocked nChw16c. (The backward-weights matmul
// converts blocked tensors to nhwc copies, so it runs on both.)
bool bf16_pointwise_conv_is_nhwc(int64_t n, int64_t ic, int64_t oc, int64_t hw) {
  using md = dnnl::memory::desc;
  const auto bf16 = dnnl::memory::data_type::bf16;
  const auto any = dnnl::memory::format_tag::any;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          md({n, ic, hw, hw}, bf16, any), md({oc, ic, 1, 1}, bf16, any),
                                          md({n, oc, hw, hw}, bf16, any), {1, 1}, {0, 0}, {0, 0});
  const dnnl::convolution_forward::primitive_desc pd(d, eng);
  return pd.src_desc() == md({n, ic, hw, hw}, bf16, dnnl::memory::format_tag::nhwc);
}

// A 1x1 convolution's forward, backward-weights and backward-data as matmuls over the nhwc tensors
// (conv2d.cpp takes each where it times faster) against oneDNN's convolution passes, each
// forced with NIMBLE_KERNEL_CHOICE, in a small graph whose 1x1 layers run nhwc in bf16: both agree
// with fp32 to bf16 accuracy, and with each other more closely, and the two runs differ where the
// matmuls were taken. x -> 3x3 conv 8->32 -> 1x1 32->48 (no bias) -> relu -> 1x1 48->16 (no bias)
// -> flatten -> linear.
TEST(Precision, MatmulPassesMatchTheConvolutions) {
  Rng rng(3);
  Graph g;
  int y = g.add_input("x", {8, 12, 12});
  y = g.add_node(OpKind::conv2d, "c3", {y}, {{"out_channels", int64_t(32)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}},
                 &rng);
  y = g.add_node(OpKind::conv2d, "expand", {y},
                 {{"out_channels", int64_t(48)}, {"kernel", V{1, 1}}, {"bias", int64_t(0)}}, &rng);
  y = g.add_node(OpKind::relu, "act", {y});
  y = g.add_node(OpKind::conv2d, "project", {y},
                 {{"out_channels", int64_t(16)}, {"kernel", V{1, 1}}, {"bias", int64_t(0)}}, &rng);
  y = g.add_node(OpKind::flatten, "flat", {y});
  g.add_node(OpKind::linear, "head", {y}, {{"out_features", int64_t(10)}}, &rng);
  Tensor x = random_tensor({64, 8, 12, 12}, rng), r = random_tensor({64, 10}, rng);
  const std::vector<Tensor> want = gradients(g, Precision::fp32, x, r);
  setenv("NIMBLE_KERNEL_CHOICE", "first", 1);
  const std::vector<Tensor> conv = gradients(g, Precision::bf16, x, r);
  setenv("NIMBLE_KERNEL_CHOICE", "last", 1);
  const std::vector<Tensor> matmul = gradients(g, Precision::bf16, x, r);
  unsetenv("NIMBLE_KERNEL_CHOICE");
  for (const auto* got : {&conv, &matmul}) {
    const GradientAgreement a = agreement(want, *got);
    EXPECT_EQ(a.compared, 6);  // c3 weights and bias, expand, project, head weights and bias
    EXPECT_GT(a.min_cosine, 0.999) << (got == &conv ? "convolutions" : "matmuls");
    EXPECT_LT(a.max_norm_error, 0.02) << (got == &conv ? "convolutions" : "matmuls");  // measured 0.011 both
  }
  const GradientAgreement between = agreement(conv, matmul);
  EXPECT_GT(between.min_cosine, 0.9999);
  // The 1x1 layers' weight gradients come from the matmuls; c3's from its diff_dst, which is the
  // 1x1 expand's backward-data. (Forward matmuls can round exactly as the convolutions do.)
  std::map<std::string, int> differing;
  size_t i = 0;
  for (auto& [name, param] : g.named_params()) {
    if (!param->trainable) continue;
    for (int64_t j = 0; j < conv[i].numel(); ++j)
      differing[name] += conv[i].data<float>()[j] != matmul[i].data<float>()[j];
    ++i;
  }
  EXPECT_GT(differing["expand.weights"] + differing["project.weights"], 0)
      << "the backward-weights matmul was not taken";
  // The backward-data matmul needs nhwc tensors: where oneDNN lays them out blocked, both runs
  // take the convolution, and c3's gradient must come out bit for bit the same.
  if (bf16_pointwise_conv_is_nhwc(64, 32, 48, 12))
    EXPECT_GT(differing["c3.weights"], 0) << "the backward-data matmul was not taken";
  else
    EXPECT_EQ(differing["c3.weights"], 0) << "blocked layouts took a backward-data path other than the convolution";
}

// 3,000 Fashion-MNIST images, two epochs: bf16's and fp16's per-epoch training loss stays close
// to fp32's from the same seed (bounds below), and fp16 (loss-scaled) takes no overflow steps at
// these magnitudes. On oneDNN's own kernel choices: the timed ones (convolution or matmul for each
// 1x1 layer, cached per machine) change every run's rounding, and one set of them moved fp16's
// mobilenet_v2 to 4 overflow steps and an epoch-2 loss 15 % above fp32's (AMD Zen 5; fresh
// choices and oneDNN's passed), so the test would pass or fail with the machine's timings.
TEST(Precision, ShortTrainingRunTracksFp32) {
  setenv("NIMBLE_KERNEL_CHOICE", "first", 1);
  struct Unset {
    ~Unset() { unsetenv("NIMBLE_KERNEL_CHOICE"); }
  } unset;
  data::IdxData d = data::load_idx_dir("/usr/share/datasets/fashion-mnist");
  data::ImageSet train = data::take(d.train, 3000);
  data::ImageSet val = data::take(d.test, 500);
  data::Normalization norm = data::compute_normalization(train);
  for (const char* model : {"cnn", "mobilenet_v2"}) {
    std::vector<double> losses[3];
    const Precision ps[3] = {Precision::fp32, Precision::bf16, Precision::fp16};
    for (int k = 0; k < 3; ++k) {
      zoo::ModelConfig mc;
      mc.name = model;
      mc.width = 0.5;
      Graph g = zoo::build(mc);
      train::TrainConfig tc;
      tc.epochs = 2;
      tc.batch = 64;
      tc.schedule.lr = 0.05f;
      tc.progress = false;
      tc.precision = ps[k];
      train::Trainer t(g, tc);
      train::TrainResult res = t.fit(train, val, norm);
      for (auto& e : res.epochs) {
        losses[k].push_back(e.train_loss);
        EXPECT_EQ(e.skipped_steps, 0) << model << " " << precision_name(ps[k]);
        std::printf("%s %s epoch %lld: loss %.4f val %.4f\n", model, precision_name(ps[k]), (long long)e.epoch,
                    e.train_loss, e.val_accuracy);
      }
      EXPECT_GT(res.best_val_accuracy, 0.65) << model << " " << precision_name(ps[k]);
    }
    // Two epochs of training are chaotic: any perturbation moves the curve by several percent.
    // The fp32 run alone: mobilenet_v2's epoch-2 loss is 0.629 on 2 threads and 0.699 on 1, and
    // bf16's moved from 0.623 to 0.581 (1 thread) when the stem started storing bf16. A broken
    // low-precision path lands far above these bounds (an untrained model's loss is 2.3, ~4x the
    // epoch-2 values), so the band is tight above fp32's loss and wider below it.
    for (int k = 1; k < 3; ++k)
      for (size_t e = 0; e < losses[0].size(); ++e) {
        const double above = e == 0 ? 0.15 : 0.12, below = 0.25;
        EXPECT_LT(losses[k][e], (1 + above) * losses[0][e])
            << model << " " << precision_name(ps[k]) << " epoch " << e + 1;
        EXPECT_GT(losses[k][e], (1 - below) * losses[0][e])
            << model << " " << precision_name(ps[k]) << " epoch " << e + 1;
      }
    EXPECT_LT(losses[0][1], losses[0][0]) << model;  // and it did learn
  }
}

}  // namespace
}  // namespace nimble::testing
