// The `node` suite of ONNX's own backend tests (Debian's libonnx-testdata): every test whose
// operators and attributes the importer accepts runs through a Session, and its output must match
// the suite's within the ONNX backend tests' tolerance (rtol 1e-3, atol 1e-7). Tests the importer
// refuses are counted as unsupported; none that imports may fail. Node tests feed their weights as
// graph inputs: input 0 stays the input, the others become initializers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/onnx/onnx_import.hpp"
#include "nimble/core/error.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kNodeTests = "/usr/share/libonnx-testdata/data/node";

onnx::TensorProto read_tensor(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto t;
  NIMBLE_CHECK(t.ParseFromString(bytes), "cannot parse " + p.string());
  return t;
}

struct Outcome {
  enum Kind { passed, failed, unsupported } kind;
  std::string detail;
};

// Runs one test directory's first data set.
Outcome run_node_test(const fs::path& dir) {
  onnx::ModelProto m = io::read_onnx_file((dir / "model.onnx").string());
  const fs::path data = dir / "test_data_set_0";
  if (!fs::exists(data / "input_0.pb") || m.graph().output_size() != 1)
    return {Outcome::unsupported, "not one input and one output"};
  if (fs::exists(data / "output_1.pb")) return {Outcome::unsupported, "several outputs"};
  std::vector<onnx::TensorProto> inputs;
  for (int i = 0; fs::exists(data / ("input_" + std::to_string(i) + ".pb")); ++i)
    inputs.push_back(read_tensor(data / ("input_" + std::to_string(i) + ".pb")));
  // Inputs 1.. become initializers; the graph keeps input 0 only.
  auto* g = m.mutable_graph();
  for (int i = 1; i < int(inputs.size()) && i < g->input_size(); ++i) {
    inputs[size_t(i)].set_name(g->input(i).name());
    *g->add_initializer() = inputs[size_t(i)];
  }
  while (g->input_size() > 1) g->mutable_input()->RemoveLast();
  if (inputs[0].data_type() != onnx::TensorProto::FLOAT) return {Outcome::unsupported, "input is not float"};

  Model model;
  try {
    io::check_onnx_model(m, dir.filename().string());
    model = io::import_onnx_proto(m, {}, dir.filename().string());
  } catch (const Error& e) {
    return {Outcome::unsupported, e.what()};
  }
  const io::ConstTensor x = io::const_from_proto(inputs[0], "input_0");
  const io::ConstTensor want = io::const_from_proto(read_tensor(data / "output_0.pb"), "output_0");
  try {
    Session s(model.graph, {x.dims[0], Mode::eval, true, Precision::fp32});
    const Tensor& y = s.forward(x.to_tensor());
    if (y.shape().dims() != want.dims)
      return {Outcome::failed, "output shape " + y.shape().str() + ", expected " + want.describe()};
    for (int64_t i = 0; i < want.numel(); ++i) {
      const double got = y.data<float>()[i], exp = want.at(i);
      if (!(std::abs(got - exp) <= 1e-7 + 1e-3 * std::abs(exp)))
        return {Outcome::failed,
                "element " + std::to_string(i) + ": " + std::to_string(got) + ", expected " + std::to_string(exp)};
    }
  } catch (const std::exception& e) {
    return {Outcome::failed, std::string("imported but did not run: ") + e.what()};
  }
  return {Outcome::passed, ""};
}

TEST(OnnxConformance, NodeSuiteTestsThatImportAllPass) {
  ASSERT_TRUE(fs::is_directory(kNodeTests)) << kNodeTests << " is missing: install libonnx-testdata";
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTests)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int ran = 0, passed = 0, skipped = 0;
  std::vector<std::string> passing;
  for (const fs::path& dir : dirs) {
    const Outcome o = run_node_test(dir);
    if (o.kind == Outcome::unsupported) {
      if (std::getenv("NIMBLE_CONFORMANCE_VERBOSE"))
        std::printf("skip %s: %s\n", dir.filename().c_str(), o.detail.c_str());
      ++skipped;
      continue;
    }
    ++ran;
    if (o.kind == Outcome::passed) {
      ++passed;
      passing.push_back(dir.filename().string());
    }
    EXPECT_EQ(o.kind, Outcome::passed) << dir.filename().string() << ": " << o.detail;
  }
  std::string names;
  for (const auto& n : passing) names += (names.empty() ? "" : " ") + n;
  std::printf("ONNX node conformance: %d tests, %d ran, %d passed, %d skipped as unsupported\npassed: %s\n",
              int(dirs.size()), ran, passed, skipped, names.c_str());
  EXPECT_GT(passed, 0);
}

}  // namespace
}  // namespace nimble::testing
