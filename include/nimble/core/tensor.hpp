#pragma once
#include <memory>

#include "nimble/core/dtype.hpp"
#include "nimble/core/shape.hpp"

namespace nimble {

// A dense, row-major (plain NCHW / OIHW) tensor with 64-byte aligned storage shared between copies.
// Copying a Tensor shares the buffer; clone() copies it.
class Tensor {
 public:
  Tensor() = default;
  Tensor(const Shape& shape, DType dtype = DType::f32);  // zero-filled

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool defined() const { return storage_ != nullptr; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <class T> T* data() { return static_cast<T*>(raw()); }
  template <class T> const T* data() const { return static_cast<const T*>(raw()); }

  Tensor clone() const;
  Tensor reshaped(const Shape& shape) const;  // same buffer, same numel
  Tensor to(DType dtype) const;               // converting copy (float <-> bf16/f16; ints saturate)
  void fill(float value);                     // f32 tensors only
  void zero();

 private:
  std::shared_ptr<uint8_t> storage_;
  Shape shape_;
  DType dtype_ = DType::f32;
};

}  // namespace nimble
