#pragma once
// ONNX in and out. Import reads a classifier exported by PyTorch (or any tool writing ONNX opsets
// 7 to 17) into a Model; export writes a Model as ONNX that ONNX Runtime runs: fp32 graphs as
// they are, int8 graphs in the QDQ form (per-channel s8 weights, QuantizeLinear/DequantizeLinear
// pairs on activations) that ONNX Runtime's own quantizer writes. No protobuf or ONNX headers here.
#include <optional>
#include <string>
#include <vector>

#include "nimble/model.hpp"

namespace nimble::io {

struct OnnxImportOptions {
  // Per-sample input shape (C, H, W) for a model whose input dims are symbolic; when the file
  // gives fixed dims, this must agree with them.
  std::optional<Shape> input;
  // How raw pixels become the model's input; stored in the Model (ONNX files do not say).
  Preprocessing preprocessing;
  std::vector<std::string> class_names;
};

// Reads, checks (the ONNX checker) and converts `path`. Throws Error with one line naming the
// file and the problem: not ONNX, fails the checker, or a node nimble does not support (its name,
// op type, opset and what is supported).
Model import_onnx(const std::string& path, const OnnxImportOptions& options = {});

// The opset export writes unless the model needs a later one (HardSwish: 14).
inline constexpr int kOnnxExportOpset = 13;

// Writes `model` as an ONNX file (atomically). fp32 graphs map op for op; int8 graphs become QDQ.
// Throws Error for an op that has no ONNX form. The ONNX input is what `model`'s graph takes
// (pixels normalised with its preprocessing) or, with `input_as`, what a model with that
// preprocessing takes: a per-channel affine in front (a BatchNormalization) maps one to the other, so the file can
// replace the model it was made from (an ONNX file given to `nimble optimize`, say, which takes
// pixels / 255) with the same inputs.
void export_onnx(const Model& model, const std::string& path, const Preprocessing* input_as = nullptr);

// Whether `path` names an ONNX file (by its extension, .onnx).
bool is_onnx_path(const std::string& path);

}  // namespace nimble::io
