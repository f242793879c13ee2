// ONNX import and export: zoo models exported and imported back compute what they computed;
// PyTorch's export patterns (channel shuffle, Shape arithmetic, Clip as ReLU6, x * Sigmoid(x),
// Pad before AveragePool, ceil-mode pooling, Split) built as small protos import to the ops they
// mean and match the reference; what nimble does not support is one error line naming the node.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/onnx/onnx_import.hpp"
#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / name).string(); }

Tensor run(const Graph& g, const Tensor& x) {
  Session s(g, {x.shape()[0], Mode::eval, true, Precision::fp32});
  return s.forward(x).clone();
}

double max_rel_error(const Tensor& a, const Tensor& b) {
  double err = 0, mag = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    err = std::max(err, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    mag = std::max(mag, double(std::fabs(b.data<float>()[i])));
  }
  return err / std::max(mag, 1e-30);
}

int count(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

TEST(OnnxExport, ZooModelsRoundTripThroughOnnx) {
  for (const char* name : {"cnn", "resnet", "mobilenet_v1", "mobilenet_v2"}) {
    SCOPED_TRACE(name);
    zoo::ModelConfig mc;
    mc.name = name;
    mc.input = {3, 32, 32};
    mc.width = 0.5;
    const Model m(zoo::build(mc));
    const std::string path = temp_path(std::string("nimble_rt_") + name + ".onnx");
    io::export_onnx(m, path);
    const Model back = io::import_onnx(path);
    fs::remove(path);
    EXPECT_EQ(back.input_shape(), m.input_shape());
    Rng rng(3);
    const Tensor x = random_tensor({3, 3, 32, 32}, rng);
    EXPECT_LT(max_rel_error(run(back.graph, x), run(m.graph, x)), 1e-5);
  }
}

// Exported for another model's input (pixels / 255, as an ONNX file given to nimble takes them),
// the file computes on those inputs what the model computes on its own normalised ones; where the
// preprocessings agree it adds no node.
TEST(OnnxExport, ExportsForAnotherModelsInput) {
  zoo::ModelConfig mc;
  mc.name = "cnn";
  mc.input = {3, 16, 16};
  mc.width = 0.25;
  Model m(zoo::build(mc));
  m.preprocessing.normalization = {{0.2f, 0.4f, 0.6f}, {0.5f, 0.25f, 0.3f}};
  const Preprocessing pixels;  // pixels / 255, no normalization
  const std::string path = temp_path("nimble_for_pixels.onnx");
  io::export_onnx(m, path, &pixels);
  const Model back = io::import_onnx(path);
  Rng rng(4);
  const Tensor x = random_tensor({2, 3, 16, 16}, rng, 0.0f, 1.0f);  // pixels / 255
  Tensor normalised = x.clone();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t c = size_t((i / 256) % 3);
    normalised.data<float>()[i] =
        (x.data<float>()[i] - m.preprocessing.normalization.mean[c]) / m.preprocessing.normalization.std[c];
  }
  EXPECT_LT(max_rel_error(run(back.graph, x), run(m.graph, normalised)), 1e-5);
  EXPECT_GT(max_rel_error(run(back.graph, normalised), run(m.graph, normalised)), 1e-3);  // the adapter is there

  io::export_onnx(m, path, &m.preprocessing);  // its own input: no adapter
  const size_t same = io::import_onnx(path).graph.nodes().size();
  io::export_onnx(m, path);
  EXPECT_EQ(same, io::import_onnx(path).graph.nodes().size());
  fs::remove(path);
}

// ---- small protos in PyTorch's export patterns ----

struct ProtoBuilder {
  onnx::ModelProto m;
  onnx::GraphProto* g = m.mutable_graph();
  int opset;

  explicit ProtoBuilder(int opset_version, const std::vector<int64_t>& input) : opset(opset_version) {
    m.set_ir_version(opset_version >= 14 ? 7 : 6);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset_version);
    g->set_name("test");
    value_info(g->add_input(), "x", input);
  }
  static void value_info(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out[0] + "_node");
    for (const auto& i : in) n->add_input(i);
    for (const auto& o : out) n->add_output(o);
    return n;
  }
  void ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
  }
  void floats(const std::string& name, const std::vector<int64_t>& dims, Rng& rng) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) t->add_dims(d), n *= d;
    for (int64_t i = 0; i < n; ++i) t->add_float_data(rng.uniform(-0.5f, 0.5f));
  }
  static void attr(onnx::NodeProto* n, const std::string& key, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr(onnx::NodeProto* n, const std::string& key, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  Model import(const std::string& out, const std::vector<int64_t>& out_dims) {
    value_info(g->add_output(), out, out_dims);
    io::check_onnx_model(m, "test");
    return io::import_onnx_proto(m, {}, "test.onnx");
  }
};

// ShuffleNetV2's unit tail at opset 13: Shape -> Gather -> Div arithmetic feeding Reshape,
// Transpose [0, 2, 1, 3, 4], Reshape back, then Slice of one half -> channel_shuffle + slice.
TEST(OnnxImport, ChannelShuffleFromShapeArithmetic) {
  ProtoBuilder b(13, {1, 8, 5, 5});
  b.node("Shape", {"x"}, {"shape"});
  b.ints("zero", {0});
  b.node("Gather", {"shape", "zero"}, {"batch"});
  b.ints("g", {2});
  b.ints("cg", {4});
  b.ints("hw", {5, 5});
  b.node("Concat", {"batch", "g", "cg", "hw"}, {"split_shape"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("axis");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(0);
    return a;
  }());
  b.node("Reshape", {"x", "split_shape"}, {"split"});
  ProtoBuilder::attr(b.node("Transpose", {"split"}, {"t"}), "perm", {0, 2, 1, 3, 4});
  b.ints("back", {-1, 8, 5, 5});
  b.node("Reshape", {"t", "back"}, {"shuffled"});
  b.ints("starts", {4});
  b.ints("ends", {8});
  b.ints("axes", {1});
  b.node("Slice", {"shuffled", "starts", "ends", "axes"}, {"y"});
  const Model m = b.import("y", {1, 4, 5, 5});
  EXPECT_EQ(count(m.graph, OpKind::channel_shuffle), 1);
  EXPECT_EQ(count(m.graph, OpKind::slice), 1);
  EXPECT_EQ(count(m.graph, OpKind::reshape), 0);
  Rng rng(1);
  const Tensor x = random_tensor({2, 8, 5, 5}, rng);
  const Tensor y = run(m.graph, x);
  // Channel c of the shuffle is input channel (c % 2) * 4 + c / 2; the slice keeps 4..7.
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 4; ++c) {
      const int64_t src = ((c + 4) % 2) * 4 + (c + 4) / 2;
      for (int64_t i = 0; i < 25; ++i)
        ASSERT_EQ(y.data<float>()[(n * 4 + c) * 25 + i], x.data<float>()[(n * 8 + src) * 25 + i]);
    }
}

// MobileNetV3 before opset 14: x * HardSigmoid(x) is HardSwish; EfficientNet: x * Sigmoid(x) is
// SiLU; Clip(0, 6) from opset 11 inputs is ReLU6; a squeeze-excitation gate multiplies channels.
TEST(OnnxImport, ActivationPatternsBecomeSingleOps) {
  ProtoBuilder b(13, {1, 4, 3, 3});
  auto* hs = b.node("HardSigmoid", {"x"}, {"hsig"});
  for (auto [k, v] : {std::pair<const char*, float>{"alpha", 1.0f / 6}, {"beta", 0.5f}}) {
    auto* a = hs->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  b.node("Mul", {"x", "hsig"}, {"hswish"});
  b.node("Sigmoid", {"hswish"}, {"sig"});
  b.node("Mul", {"sig", "hswish"}, {"silu"});
  Rng rng(2);
  b.floats("lo", {}, rng);
  b.g->mutable_initializer(b.g->initializer_size() - 1)->set_float_data(0, 0.0f);
  b.floats("hi", {}, rng);
  b.g->mutable_initializer(b.g->initializer_size() - 1)->set_float_data(0, 6.0f);
  b.node("Clip", {"silu", "lo", "hi"}, {"relu6"});
  b.node("GlobalAveragePool", {"relu6"}, {"pooled"});
  b.node("Sigmoid", {"pooled"}, {"gate"});
  b.node("Mul", {"relu6", "gate"}, {"y"});
  const Model m = b.import("y", {1, 4, 3, 3});
  EXPECT_EQ(count(m.graph, OpKind::hardswish), 1);
  EXPECT_EQ(count(m.graph, OpKind::silu), 1);
  EXPECT_EQ(count(m.graph, OpKind::relu6), 1);
  EXPECT_EQ(count(m.graph, OpKind::mul), 1);
  EXPECT_EQ(count(m.graph, OpKind::sigmoid), 1);  // the gate's; the SiLU's sigmoid is gone
  const Tensor x = random_tensor({2, 4, 3, 3}, rng, -4.0f, 4.0f);
  const Tensor y = run(m.graph, x);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 4; ++c) {
      double sum = 0;
      std::vector<double> act(9);
      for (int64_t i = 0; i < 9; ++i) {
        const double v = x.data<float>()[(n * 4 + c) * 9 + i];
        const double h = v * std::clamp(v / 6 + 0.5, 0.0, 1.0);
        act[size_t(i)] = std::clamp(h / (1 + std::exp(-h)), 0.0, 6.0);
        sum += act[size_t(i)];
      }
      const double gate = 1 / (1 + std::exp(-sum / 9));
      for (int64_t i = 0; i < 9; ++i) EXPECT_NEAR(y.data<float>()[(n * 4 + c) * 9 + i], act[size_t(i)] * gate, 1e-5);
    }
}

// DenseNet's transition (Pad then AveragePool), SqueezeNet's ceil-mode MaxPool, a Split into
// halves concatenated back in the other order, Flatten and Gemm with transB.
TEST(OnnxImport, PoolingPadSplitAndGemmMatchTheReference) {
  ProtoBuilder b(11, {1, 4, 7, 7});
  ProtoBuilder::attr(b.node("Split", {"x"}, {"a", "b"}), "axis", int64_t(1));
  auto* cat = b.node("Concat", {"b", "a"}, {"swapped"});
  ProtoBuilder::attr(cat, "axis", int64_t(1));
  b.ints("pads", {0, 0, 1, 1, 0, 0, 1, 1});
  b.node("Pad", {"swapped", "pads"}, {"padded"});
  auto* avg = b.node("AveragePool", {"padded"}, {"avg"});
  ProtoBuilder::attr(avg, "kernel_shape", {3, 3});
  ProtoBuilder::attr(avg, "strides", {2, 2});
  auto* mp = b.node("MaxPool", {"avg"}, {"mp"});
  ProtoBuilder::attr(mp, "kernel_shape", {2, 2});
  ProtoBuilder::attr(mp, "strides", {2, 2});
  ProtoBuilder::attr(mp, "ceil_mode", int64_t(1));
  b.node("Flatten", {"mp"}, {"flat"});
  Rng rng(4);
  b.floats("w", {3, 16}, rng);
  b.floats("bias", {3}, rng);
  ProtoBuilder::attr(b.node("Gemm", {"flat", "w", "bias"}, {"y"}), "transB", int64_t(1));
  // Old exporters list initializers among the graph inputs too: they stay constants.
  ProtoBuilder::value_info(b.g->add_input(), "w", {3, 16});
  ProtoBuilder::value_info(b.g->add_input(), "bias", {3});
  const Model m = b.import("y", {1, 3});
  EXPECT_EQ(m.graph.input_shape(), Shape({4, 7, 7}));
  const Tensor x = random_tensor({2, 4, 7, 7}, rng);
  const Tensor y = run(m.graph, x);
  // By hand: swap channel halves; avg 3x3 stride 2 over zero-padded 9x9 (/9) -> 4x4; max 2x2
  // stride 2 ceil -> 2x2; flatten 16; y = w flat + bias.
  const onnx::TensorProto &w = b.g->initializer(1), &bias = b.g->initializer(2);
  for (int64_t n = 0; n < 2; ++n) {
    std::vector<double> flat;
    for (int64_t c = 0; c < 4; ++c) {
      const int64_t src = (c + 2) % 4;
      auto at = [&](int64_t yy, int64_t xx) {
        return (yy < 0 || yy >= 7 || xx < 0 || xx >= 7) ? 0.0
                                                        : double(x.data<float>()[((n * 4 + src) * 7 + yy) * 7 + xx]);
      };
      double avgd[4][4];
      for (int oy = 0; oy < 4; ++oy)
        for (int ox = 0; ox < 4; ++ox) {
          double s = 0;
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) s += at(oy * 2 - 1 + ky, ox * 2 - 1 + kx);
          avgd[oy][ox] = s / 9;
        }
      for (int oy = 0; oy < 2; ++oy)
        for (int ox = 0; ox < 2; ++ox)
          flat.push_back(std::max(std::max(avgd[2 * oy][2 * ox], avgd[2 * oy][2 * ox + 1]),
                                  std::max(avgd[2 * oy + 1][2 * ox], avgd[2 * oy + 1][2 * ox + 1])));
    }
    for (int o = 0; o < 3; ++o) {
      double acc = bias.float_data(o);
      for (int i = 0; i < 16; ++i) acc += w.float_data(o * 16 + i) * flat[size_t(i)];
      EXPECT_NEAR(y.data<float>()[n * 3 + o], acc, 1e-5);
    }
  }
}

// ---- what is refused, and how ----

std::string import_error(const std::string& path) {
  try {
    io::import_onnx(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxImport, UnsupportedOperatorNamesNodeOpAndOpset) {
  ProtoBuilder b(13, {1, 4});
  auto* n = b.node("LeakyRelu", {"x"}, {"y"});
  n->set_name("act7");
  ProtoBuilder::value_info(b.g->add_output(), "y", {1, 4});
  try {
    io::import_onnx_proto(b.m, {}, "m.onnx");
    FAIL() << "imported an unsupported operator";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("node 'act7' (LeakyRelu, opset 13)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Conv"), std::string::npos) << msg;  // lists what is supported
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(OnnxImport, RefusesFilesThatAreNotValidOnnx) {
  const std::string path = temp_path("nimble_bad.onnx");
  { std::ofstream(path) << "this is not a protobuf at all"; }
  EXPECT_NE(import_error(path).find("not an ONNX model"), std::string::npos) << import_error(path);
  { std::ofstream f(path, std::ios::trunc); }
  EXPECT_NE(import_error(path).find("not an ONNX model"), std::string::npos) << import_error(path);
  EXPECT_NE(import_error(temp_path("nimble_missing.onnx")).find("cannot"), std::string::npos);

  // A model that parses but fails the checker (a node reading an undefined value).
  ProtoBuilder b(13, {1, 4});
  b.node("Relu", {"nowhere"}, {"y"});
  ProtoBuilder::value_info(b.g->add_output(), "y", {1, 4});
  {
    std::ofstream f(path, std::ios::binary);
    f << b.m.SerializeAsString();
  }
  EXPECT_NE(import_error(path).find("fails the ONNX checker"), std::string::npos) << import_error(path);

  // An opset past what nimble reads.
  ProtoBuilder c(18, {1, 4});
  c.node("Relu", {"x"}, {"y"});
  ProtoBuilder::value_info(c.g->add_output(), "y", {1, 4});
  c.m.set_ir_version(8);
  {
    std::ofstream f(path, std::ios::binary);
    f << c.m.SerializeAsString();
  }
  const std::string msg = import_error(path);
  EXPECT_TRUE(msg.find("opset 18") != std::string::npos || msg.find("checker") != std::string::npos) << msg;
  fs::remove(path);
}

}  // namespace
}  // namespace nimble::testing
