// The libFuzzer targets' files (fuzz/): every seed in fuzz/corpus/<target> is a valid file its reader
// reads, and every input a target found crashing a reader, kept in fuzz/regressions/<target>, is now
// refused by that reader with nimble::Error (the same reader calls as fuzz/fuzz_<target>.cpp). Built
// into the AddressSanitizer + UBSan parser tests too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "data/cifar.hpp"
#include "data/image_decode.hpp"
#include "data/npy.hpp"
#include "nimble/core/error.hpp"
#include "nimble/data/dataset.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/io/onnx.hpp"
#include "nimble/model.hpp"

namespace nimble::testing {
namespace {

namespace fs = std::filesystem;

const std::string kFuzzDir = NIMBLE_FUZZ_DIR;

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The partners the IDX target reads its input with: a valid images file and a valid labels file.
const std::string kIdxImages = kFuzzDir + "/corpus/idx/images_2x3x3-idx3-ubyte";
const std::string kIdxLabels = kFuzzDir + "/corpus/idx/labels_u8-idx1-ubyte";

// Each target's reader calls on a file, as the fuzz target makes them.
using Read = std::function<void(const std::string&)>;
const std::map<std::string, std::vector<Read>>& readers() {
  static const std::map<std::string, std::vector<Read>> r = {
      {"checkpoint", {[](const std::string& p) { (void)Model::load(p); }}},
      {"graph_json", {[](const std::string& p) { (void)io::graph_from_json(read_text(p)); }}},
      {"idx",
       {[](const std::string& p) { (void)data::load_idx_files(p, kIdxLabels); },
        [](const std::string& p) { (void)data::load_idx_files(kIdxImages, p); }}},
      {"onnx", {[](const std::string& p) { (void)io::import_onnx(p); }}},
      {"image", {[](const std::string& p) {
         constexpr int kChannels[] = {0, 1, 3};
         (void)data::read_image_file(p, kChannels[fs::file_size(p) % 3]);
       }}},
      {"npy", {[](const std::string& p) { (void)data::read_npy_file(p); }}},
      {"npz", {[](const std::string& p) { (void)data::read_npz_file(p); }}},
      {"cifar",
       {[](const std::string& p) { (void)data::read_cifar_batches({p}, data::CifarKind::cifar10); },
        [](const std::string& p) { (void)data::read_cifar_batches({p}, data::CifarKind::cifar100); }}},
  };
  return r;
}

TEST(FuzzCorpus, EverySeedIsReadByItsReader) {
  int seeds = 0;
  for (const auto& [target, read] : readers()) {
    const std::vector<std::string> files = files_in(kFuzzDir + "/corpus/" + target);
    EXPECT_FALSE(files.empty()) << "no seeds for " << target;
    for (const std::string& f : files) {
      const std::string name = fs::path(f).filename().string();
      ++seeds;
      if (target == "idx") {  // images with the labels partner, labels with the images partner
        EXPECT_NO_THROW(read[name.find("labels") == std::string::npos ? 0 : 1](f)) << f;
      } else if (target == "cifar") {
        if (name.ends_with(".txt"))
          EXPECT_EQ(data::read_cifar_class_names(f).size(), 3u) << f;
        else
          EXPECT_NO_THROW(read[name.starts_with("cifar100") ? 1 : 0](f)) << f;
      } else if (name == "grey16.png") {  // 16-bit PNGs are refused: the seed reaches that check
        EXPECT_THROW(read[0](f), Error) << f;
      } else {
        EXPECT_NO_THROW(read[0](f)) << f;
      }
    }
  }
  EXPECT_GE(seeds, 30);
}

TEST(FuzzRegressions, EveryFoundInputIsRefusedWithError) {
  for (const auto& [target, read] : readers())
    for (const std::string& f : files_in(kFuzzDir + "/regressions/" + target))
      for (const Read& r : read) EXPECT_THROW(r(f), Error) << target << ": " << f;
}

}  // namespace
}  // namespace nimble::testing
