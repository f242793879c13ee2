// End-to-end numerics against PyTorch: fixtures written by tests/fixtures/make_fixtures.py
// (Debian python3-torch); this test needs no Python.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "nimble/runtime/session.hpp"
#include "nimble/train/loss.hpp"
#include "nimble/train/optimizer.hpp"
#include "nimble/zoo/zoo.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

struct Fixture {
  nlohmann::json manifest;
  std::map<std::string, Tensor> tensors;
  const Tensor& operator[](const std::string& k) const {
    auto it = tensors.find(k);
    if (it == tensors.end()) throw std::runtime_error("fixture has no tensor " + k);
    return it->second;
  }
};

// ||a - b|| <= rtol * ||b|| + atol * sqrt(n): a gradient's error relative to its own size, so
// entries whose true value is ~0 (e.g. a batch-norm shift feeding another batch-norm) do not
// demand an impossible relative precision.
::testing::AssertionResult norm_close(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shapes differ";
  double err = 0, ref = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = double(a.data<float>()[i]) - b.data<float>()[i];
    err += d * d;
    ref += double(b.data<float>()[i]) * b.data<float>()[i];
  }
  err = std::sqrt(err);
  ref = std::sqrt(ref);
  const double bound = rtol * ref + atol * std::sqrt(double(a.numel()));
  if (err <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "|a - b| = " << err << " > " << bound << " (|b| = " << ref << ")";
}

Fixture load_fixture(const std::string& name) {
  const std::string base = std::string(NIMBLE_FIXTURES_DIR) + "/" + name;
  Fixture f;
  std::ifstream js(base + ".json");
  f.manifest = nlohmann::json::parse(js);
  std::ifstream bin(base + ".bin", std::ios::binary);
  std::vector<char> blob((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());
  for (auto& t : f.manifest["tensors"]) {
    Tensor x(Shape(t["shape"].get<std::vector<int64_t>>()));
    const size_t off = t["offset"].get<size_t>();
    EXPECT_LE(off + x.nbytes(), blob.size());
    std::memcpy(x.raw(), blob.data() + off, x.nbytes());  // little-endian f32, as written
    f.tensors[t["name"]] = x;
  }
  return f;
}

Graph build_from(const Fixture& f) {
  zoo::ModelConfig c;
  auto m = f.manifest["model"];
  c.name = m["name"];
  c.width = m.value("width", 1.0);
  c.depth = m.value("depth", 20);
  c.dropout = m.value("dropout", 0.2);
  c.input = Shape(f.manifest["input"].get<std::vector<int64_t>>());
  c.classes = f.manifest["classes"];
  Graph g = zoo::build(c);
  int loaded = 0;
  for (auto& [name, p] : g.named_params()) {
    const Tensor& t = f["init/" + name];
    EXPECT_EQ(t.numel(), p->data.numel()) << name;
    std::memcpy(p->data.raw(), t.raw(), t.nbytes());
    p->touch();
    ++loaded;
  }
  EXPECT_GT(loaded, 0);
  return g;
}

std::vector<int32_t> labels_of(const Fixture& f) {
  std::vector<int32_t> y;
  const Tensor& l = f["labels"];
  for (int64_t i = 0; i < l.numel(); ++i) y.push_back(int32_t(l.data<float>()[i]));
  return y;
}

// grad_rtol: per-tensor gradient error allowed relative to the gradient's norm. The cnn and
// resnet8 match float64 PyTorch to ~1e-6; mobilenet_v2 (52 train-mode batch-norms, many on 2x2
// maps) deviates by ~5e-3 although its forward matches to 3e-5 and its gradients agree with
// finite differences of the session itself. oneDNN's blocked-layout batch-norm statistics are
// ~5x less precise than its plain-layout ones (measured 1e-5 vs 2e-6 relative); the remaining
// gap is not yet explained, so the tolerance for that model is stated here, not hidden.
void check_model(const std::string& name, double grad_rtol, double grad_atol) {
  SCOPED_TRACE(name);
  Fixture f = load_fixture(name);
  const Tensor& x = f["input"];
  const int64_t batch = x.shape()[0];
  {
    Graph g = build_from(f);
    Session fused(g, {batch, Mode::eval, true});
    EXPECT_TRUE(all_close(fused.forward(x), f["eval_logits"], 1e-4f, 1e-3f)) << "eval, batch-norm folded";
    Session plain(g, {batch, Mode::eval, false});
    EXPECT_TRUE(all_close(plain.forward(x), f["eval_logits"], 1e-4f, 1e-3f)) << "eval, unfused";
  }
  Graph g = build_from(f);
  Session s(g, {batch, Mode::train});
  const Tensor& logits = s.forward(x);
  EXPECT_TRUE(all_close(logits, f["train_logits"], 1e-4f, 1e-3f)) << "train logits";
  Tensor diff;
  train::LossResult loss = train::cross_entropy(logits, labels_of(f), batch, f.manifest["label_smoothing"], &diff);
  EXPECT_NEAR(loss.loss, f["loss"].data<float>()[0], 1e-5);
  s.backward(diff);
  for (auto& [pname, p] : g.named_params()) {
    if (p->trainable) {
      EXPECT_TRUE(norm_close(p->grad, f["grad/" + pname], grad_rtol, grad_atol)) << "gradient of " << pname;
    } else {
      EXPECT_TRUE(all_close(p->data, f["after_forward/" + pname], 1e-5f, 1e-4f)) << "running statistic " << pname;
    }
  }
  train::OptimizerConfig oc;
  oc.momentum = f.manifest["momentum"];
  oc.weight_decay = f.manifest["weight_decay"];
  train::Optimizer opt(g, oc);
  opt.step(f.manifest["lr"]);
  for (auto& [pname, p] : g.named_params())
    if (p->trainable) {
      // Compare the update itself, so its error is measured against its own (small) size.
      const Tensor& init = f["init/" + pname];
      const Tensor& after = f["after_step/" + pname];
      Tensor ours(init.shape()), want(init.shape());
      for (int64_t i = 0; i < init.numel(); ++i) {
        ours.data<float>()[i] = p->data.data<float>()[i] - init.data<float>()[i];
        want.data<float>()[i] = after.data<float>()[i] - init.data<float>()[i];
      }
      EXPECT_TRUE(norm_close(ours, want, grad_rtol + 1e-4, 0.1 * grad_atol)) << "SGD update of " << pname;
    }
}

TEST(PyTorchParity, Cnn) { check_model("cnn", 1e-4, 1e-7); }
TEST(PyTorchParity, ResNet8) { check_model("resnet8", 1e-4, 1e-7); }
TEST(PyTorchParity, MobileNetV2) { check_model("mobilenet_v2", 2e-2, 1e-5); }

}  // namespace
}  // namespace nimble::testing
