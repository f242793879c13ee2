// Feeds NumPy .npy files to data::parse_npy (header dict, dtype, shape, Fortran order, payload size).
#include "data/npy.hpp"
#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nimble::data::NpyArray a = nimble::data::parse_npy(data, size, "fuzz.npy");
    FUZZ_CHECK(a.data.size() == size_t(a.numel()) * nimble::data::npy_type_size(a.type));
  } catch (const nimble::Error&) {
  }
  return 0;
}
