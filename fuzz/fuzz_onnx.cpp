// Feeds ONNX files to the importer's steps as io::import_onnx runs them after reading the file: the
// protobuf parse (io::parse_onnx_bytes), the ONNX checker, then the conversion into a nimble Model.
#include <string>

#include "fuzz_util.hpp"
#include "io/onnx/onnx_import.hpp"
#include "nimble/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string what = "fuzz.onnx";
  try {
    const onnx::ModelProto proto =
        nimble::io::parse_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), what);
    nimble::io::check_onnx_model(proto, what);
    const nimble::Model model = nimble::io::import_onnx_proto(proto, {}, what);
    model.graph.validate();
  } catch (const nimble::Error&) {
  }
  return 0;
}
