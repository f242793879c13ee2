#include "nimble/core/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "nimble/core/error.hpp"

namespace nimble {

namespace {
std::shared_ptr<uint8_t> allocate(size_t bytes) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

float load_f32(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32:
      return static_cast<const float*>(p)[i];
    case DType::bf16:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::f16:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::s8:
      return static_cast<const int8_t*>(p)[i];
    case DType::u8:
      return static_cast<const uint8_t*>(p)[i];
    case DType::s32:
      return float(static_cast<const int32_t*>(p)[i]);
  }
  return 0;
}

template <class T> T saturate(float v) {
  if (std::isnan(v)) return 0;
  float r = std::nearbyint(v);  // round half to even (default rounding mode)
  r = std::clamp(r, float(std::numeric_limits<T>::min()), float(std::numeric_limits<T>::max()));
  return static_cast<T>(r);
}

void store_f32(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::f32:
      static_cast<float*>(p)[i] = v;
      break;
    case DType::bf16:
      static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
      break;
    case DType::f16:
      static_cast<uint16_t*>(p)[i] = f32_to_f16(v);
      break;
    case DType::s8:
      static_cast<int8_t*>(p)[i] = saturate<int8_t>(v);
      break;
    case DType::u8:
      static_cast<uint8_t*>(p)[i] = saturate<uint8_t>(v);
      break;
    case DType::s32:
      static_cast<int32_t*>(p)[i] =
          std::isnan(v) ? 0 : int32_t(std::clamp(std::nearbyint(double(v)), -2147483648.0, 2147483647.0));
      break;
  }
}
}  // namespace

Tensor::Tensor(const Shape& shape, DType dtype) : shape_(shape), dtype_(dtype) { storage_ = allocate(nbytes()); }

Tensor Tensor::clone() const {
  Tensor t(shape_, dtype_);
  if (defined()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::reshaped(const Shape& shape) const {
  NIMBLE_CHECK(shape.numel() == numel(), "cannot reshape " + shape_.str() + " to " + shape.str());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor t(shape_, dtype);
  const int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) store_f32(t.raw(), dtype, i, load_f32(raw(), dtype_, i));
  return t;
}

void Tensor::fill(float value) {
  NIMBLE_ASSERT(dtype_ == DType::f32, "fill() needs an f32 tensor");
  std::fill_n(data<float>(), numel(), value);
}

void Tensor::zero() {
  if (defined()) std::memset(raw(), 0, nbytes());
}

}  // namespace nimble
