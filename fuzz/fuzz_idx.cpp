// Feeds IDX files (MNIST's format, raw or gzip) to data::load_idx_files twice: once as the images file
// (with a valid one-label file beside it) and once as the labels file (with a valid one-image file). The
// reader takes paths, so the input is written to a file in /dev/shm first.
#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"
#include "nimble/data/dataset.hpp"

namespace {

// One 1x1 u8 image (magic 0x00000803, dims 1, 1, 1, one pixel) and one u8 label (0x00000801, dim 1).
constexpr uint8_t kOneImage[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200};
constexpr uint8_t kOneLabel[] = {0, 0, 8, 1, 0, 0, 0, 1, 7};

void check(const nimble::data::ImageSet& set) {
  FUZZ_CHECK(set.images.shape().rank() == 4 && set.images.shape()[0] == int64_t(set.labels.size()));
  for (int32_t l : set.labels) FUZZ_CHECK(l >= 0 && l < set.num_classes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nimble::fuzz::ScratchFile;
  static ScratchFile input("-input.idx"), images("-images.idx"), labels("-labels.idx");
  static const bool partners_written =
      (images.write(kOneImage, sizeof kOneImage), labels.write(kOneLabel, sizeof kOneLabel), true);
  FUZZ_CHECK(partners_written);
  const std::string& path = input.write(data, size);
  try {
    check(nimble::data::load_idx_files(path, labels.path()));
  } catch (const nimble::Error&) {
  }
  try {
    check(nimble::data::load_idx_files(images.path(), path));
  } catch (const nimble::Error&) {
  }
  return 0;
}
