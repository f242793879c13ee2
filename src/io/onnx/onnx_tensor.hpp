#pragma once
// Tensors known at import time: initializers, Constant nodes and what the importer folds from
// them (shape arithmetic such as Shape -> Gather -> Concat -> Reshape). Floats and integers only.
#include <cstdint>
#include <string>
#include <vector>

#include "nimble/core/tensor.hpp"
#include "onnx/onnx_pb.h"

namespace nimble::io {

// Stands for "the batch size" in integer shape arithmetic: a model's Shape of its input gives
// [kBatchDim, C, H, W], which Reshape then accepts as "keep the batch". Arithmetic on it is refused.
inline constexpr int64_t kBatchDim = INT64_MIN / 4;

struct ConstTensor {
  std::vector<int64_t> dims;
  bool integer = false;       // ints holds the data (INT64, INT32, ...), else floats does
  std::vector<float> floats;  // row-major
  std::vector<int64_t> ints;  // row-major
  int32_t onnx_type = 1;      // the TensorProto data type it came as (FLOAT = 1)

  int64_t numel() const;
  // Element i as a double / as an integer (floats are truncated toward zero).
  double at(int64_t i) const;
  int64_t int_at(int64_t i) const;
  std::vector<int64_t> as_ints() const;
  // As a nimble f32 tensor of shape dims (rank 0 becomes rank 1); throws Error for ranks above 5.
  Tensor to_tensor() const;
  std::string describe() const;  // "int64[4]", "float[64x3x7x7]"
};

// Builders: integers (INT64 unless `type` says otherwise) and floats (count from dims).
ConstTensor ints_tensor(std::vector<int64_t> dims, std::vector<int64_t> values,
                        int32_t type = onnx::TensorProto::INT64);
ConstTensor floats_tensor(std::vector<int64_t> dims, const float* data);

// "[1, 2, batch]" for error messages (kBatchDim shows as "batch").
std::string dims_text(const std::vector<int64_t>& dims);

// Decodes a TensorProto (raw_data or the typed fields) into a ConstTensor, bounds-checked: the
// element count must match dims, external data is refused. `what` names it in errors.
ConstTensor const_from_proto(const onnx::TensorProto& proto, const std::string& what);

// The other way, for export: float data as FLOAT, ints as INT64 (or `onnx_type` for int8/int32).
void const_to_proto(const ConstTensor& t, onnx::TensorProto& proto);

}  // namespace nimble::io
