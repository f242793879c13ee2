// Feeds `.nimble` checkpoints to nimble::Model::load: io::load_checkpoint (prefix, header JSON, tensor
// table, CRCs, the graph) and then the model's metadata from the header's "extra" object. Each input is
// read as given and, when its header CRC is wrong, again with the CRC recomputed, so that mutations of
// the header JSON get past the CRC check. The reader takes a path: the bytes go to a file in /dev/shm.
#include <algorithm>
#include <vector>

#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"
#include "nimble/model.hpp"
#include "resign.hpp"

namespace {

void load(const std::string& path, size_t size) {
  try {
    const nimble::Model model = nimble::Model::load(path);
    FUZZ_CHECK(model.file_size == int64_t(size));
    model.graph.validate();
  } catch (const nimble::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nimble::fuzz::ScratchFile file(".nimble");
  load(file.write(data, size), size);
  std::vector<uint8_t> resigned(data, data + size);
  nimble::fuzz::resign_checkpoint_header(resigned);
  if (!std::equal(resigned.begin(), resigned.end(), data)) load(file.write(resigned.data(), size), size);
  return 0;
}
