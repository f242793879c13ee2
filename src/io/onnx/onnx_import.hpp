#pragma once
// The importer's steps, for the tests that drive them on protos they build (the conformance suite
// turns a node test's weight inputs into initializers before importing).
#include <string>

#include "io/onnx/onnx_import_context.hpp"
#include "nimble/io/onnx.hpp"

namespace nimble::io {

inline constexpr int64_t kOnnxMinOpset = 7, kOnnxMaxOpset = 17;

// Reads and parses `path` (size-capped); throws Error naming the file when it is not ONNX.
onnx::ModelProto read_onnx_file(const std::string& path);
// Parses a file's bytes (what read_onnx_file does after reading); `what` names it in errors.
onnx::ModelProto parse_onnx_bytes(const std::string& bytes, const std::string& what);
// Runs the ONNX checker; its first message line becomes the Error.
void check_onnx_model(const onnx::ModelProto& model, const std::string& what);
// Converts a parsed (and checked) model; `file` names it in errors and metadata.
Model import_onnx_proto(const onnx::ModelProto& model, const OnnxImportOptions& options, const std::string& file);

}  // namespace nimble::io
