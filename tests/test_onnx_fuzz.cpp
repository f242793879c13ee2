// An .onnx file is untrusted input: truncated, bit-flipped and spliced versions of a real exported
// model must each import or fail with nimble::Error, never crash, hang or read out of bounds. Built
// into the AddressSanitizer + UBSan parser tests too (scripts/test.sh).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"
#include "nimble/io/onnx.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::testing {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

TEST(OnnxFuzz, DamagedFilesImportOrFailCleanly) {
  zoo::ModelConfig mc;
  mc.name = "cnn";
  mc.width = 0.25;
  const std::string good = (fs::temp_directory_path() / "nimble_fuzz_good.onnx").string();
  const std::string bad = (fs::temp_directory_path() / "nimble_fuzz_bad.onnx").string();
  io::export_onnx(Model(zoo::build(mc)), good);
  const std::string bytes = read_all(good);
  ASSERT_GT(bytes.size(), 1000u);
  Rng rng(7);
  int imported = 0, refused = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = bytes;
    switch (trial % 3) {
      case 0:  // truncated anywhere
        damaged.resize(size_t(rng.uniform() * float(bytes.size())));
        break;
      case 1:  // a few bytes flipped, most often in the structure near the start
        for (int k = 0; k < 1 + trial % 8; ++k) {
          const size_t at = size_t(rng.uniform() * float(trial % 2 ? 512 : bytes.size())) % bytes.size();
          damaged[at] = char(damaged[at] ^ char(1 + int(rng.uniform() * 255)));
        }
        break;
      default: {  // a chunk of the file repeated elsewhere
        const size_t from = size_t(rng.uniform() * float(bytes.size()));
        const size_t len = std::min(bytes.size() - from, size_t(1 + rng.uniform() * 64));
        const size_t to = size_t(rng.uniform() * float(bytes.size()));
        damaged.insert(to, bytes.substr(from, len));
      }
    }
    write_all(bad, damaged);
    try {
      const Model m = io::import_onnx(bad);
      m.graph.validate();
      ++imported;
    } catch (const Error&) {
      ++refused;
    }
  }
  fs::remove(good);
  fs::remove(bad);
  EXPECT_EQ(imported + refused, 300);
  EXPECT_GT(refused, 100);  // truncation alone breaks a third of them
}

}  // namespace
}  // namespace nimble::testing
