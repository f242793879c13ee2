// Feeds NumPy .npz archives (zip files of .npy members, stored or deflated) to data::read_npz_file. The
// reader takes a path, so each input is written to a file in /dev/shm first.
#include "data/npy.hpp"
#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nimble::fuzz::ScratchFile file(".npz");
  const std::string& path = file.write(data, size);
  try {
    for (const auto& [key, a] : nimble::data::read_npz_file(path))
      FUZZ_CHECK(a.data.size() == size_t(a.numel()) * nimble::data::npy_type_size(a.type));
  } catch (const nimble::Error&) {
  }
  return 0;
}
