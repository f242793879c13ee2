// Feeds CIFAR binary batches to data::read_cifar_batches as CIFAR-10 and as CIFAR-100, and the same
// bytes to read_cifar_class_names (the batches.meta.txt reader). The readers take paths, so each input
// is written to a file in /dev/shm first.
#include "data/cifar.hpp"
#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nimble::data;
  static nimble::fuzz::ScratchFile file(".bin");
  const std::string& path = file.write(data, size);
  for (CifarKind kind : {CifarKind::cifar10, CifarKind::cifar100}) {
    try {
      const ImageSet set = read_cifar_batches({path}, kind);
      FUZZ_CHECK(set.images.shape()[0] == int64_t(set.labels.size()) && !set.labels.empty());
      for (int32_t l : set.labels) FUZZ_CHECK(l >= 0 && l < set.num_classes);
    } catch (const nimble::Error&) {
    }
  }
  try {
    for (const std::string& name : read_cifar_class_names(path)) FUZZ_CHECK(!name.empty());
  } catch (const nimble::Error&) {
  }
  return 0;
}
