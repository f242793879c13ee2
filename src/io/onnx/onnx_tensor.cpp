#include "io/onnx/onnx_tensor.hpp"

#include <cstring>
#include <limits>

#include "nimble/core/error.hpp"

namespace nimble::io {

using onnx::TensorProto;

int64_t ConstTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

double ConstTensor::at(int64_t i) const { return integer ? double(ints.at(size_t(i))) : double(floats.at(size_t(i))); }

int64_t ConstTensor::int_at(int64_t i) const { return integer ? ints.at(size_t(i)) : int64_t(floats.at(size_t(i))); }

std::vector<int64_t> ConstTensor::as_ints() const {
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) out[size_t(i)] = int_at(i);
  return out;
}

Tensor ConstTensor::to_tensor() const {
  NIMBLE_CHECK(int(dims.size()) <= kMaxRank, "a constant of rank " + std::to_string(dims.size()) + " (" + describe() +
                                                 ") is above the " + std::to_string(kMaxRank) + " nimble supports");
  Tensor t(dims.empty() ? Shape{1} : Shape(dims));
  float* d = t.data<float>();
  for (int64_t i = 0; i < numel(); ++i) d[i] = float(at(i));
  return t;
}

std::string ConstTensor::describe() const {
  std::string s = integer ? "int" : "float";
  s += "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s + "]";
}

ConstTensor ints_tensor(std::vector<int64_t> dims, std::vector<int64_t> values, int32_t type) {
  ConstTensor t;
  t.integer = true;
  t.dims = std::move(dims);
  t.ints = std::move(values);
  t.onnx_type = type;
  return t;
}

ConstTensor floats_tensor(std::vector<int64_t> dims, const float* data) {
  ConstTensor t;
  t.dims = std::move(dims);
  t.floats.assign(data, data + t.numel());
  return t;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + (dims[i] == kBatchDim ? std::string("batch") : std::to_string(dims[i]));
  return s + "]";
}

namespace {

// Element count from dims, refusing negative dims and overflow (a hostile file can claim anything).
int64_t checked_numel(const onnx::TensorProto& p, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : p.dims()) {
    NIMBLE_CHECK(d >= 0, what + ": negative dimension " + std::to_string(d));
    NIMBLE_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / 8 / d, what + ": dimensions overflow");
    n *= d;
  }
  return n;
}

template <class T> void read_raw(const std::string& raw, int64_t n, const std::string& what, auto&& put) {
  NIMBLE_CHECK(raw.size() == size_t(n) * sizeof(T), what + ": raw_data holds " + std::to_string(raw.size()) +
                                                        " bytes, dims need " + std::to_string(size_t(n) * sizeof(T)));
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + size_t(i) * sizeof(T), sizeof(T));
    put(i, v);
  }
}

template <class Field> void check_count(const Field& field, int64_t n, const std::string& what) {
  NIMBLE_CHECK(int64_t(field.size()) == n,
               what + ": holds " + std::to_string(field.size()) + " values, dims need " + std::to_string(n));
}

// The file must hold the n values its dims claim, checked before they are allocated: a few bytes of
// protobuf can claim 2^60 elements. Types the importer refuses pass here and are refused below.
void check_stored(const TensorProto& p, int64_t n, const std::string& what) {
  size_t raw_bytes = 0;  // per element in raw_data
  int field = 0;         // values in the typed field
  switch (p.data_type()) {
    case TensorProto::FLOAT:
      raw_bytes = 4, field = p.float_data_size();
      break;
    case TensorProto::DOUBLE:
      raw_bytes = 8, field = p.double_data_size();
      break;
    case TensorProto::INT64:
      raw_bytes = 8, field = p.int64_data_size();
      break;
    case TensorProto::INT32:
      raw_bytes = 4, field = p.int32_data_size();
      break;
    case TensorProto::FLOAT16:
    case TensorProto::INT16:
    case TensorProto::UINT16:
      raw_bytes = 2, field = p.int32_data_size();
      break;
    case TensorProto::INT8:
    case TensorProto::UINT8:
    case TensorProto::BOOL:
      raw_bytes = 1, field = p.int32_data_size();
      break;
    default:
      return;
  }
  if (p.has_raw_data())  // n <= 2^63 / 8 (checked_numel): no overflow
    NIMBLE_CHECK(p.raw_data().size() == size_t(n) * raw_bytes,
                 what + ": raw_data holds " + std::to_string(p.raw_data().size()) + " bytes, dims need " +
                     std::to_string(size_t(n) * raw_bytes));
  else
    NIMBLE_CHECK(int64_t(field) == n,
                 what + ": holds " + std::to_string(field) + " values, dims need " + std::to_string(n));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: value = mant * 2^-24
      const float f = float(mant) * 5.9604644775390625e-8f;
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

ConstTensor const_from_proto(const TensorProto& p, const std::string& what) {
  NIMBLE_CHECK(p.data_location() != TensorProto::EXTERNAL && p.external_data_size() == 0,
               what + ": external data files are not supported (save the model with its weights inside)");
  ConstTensor t;
  t.dims.assign(p.dims().begin(), p.dims().end());
  t.onnx_type = p.data_type();
  const int64_t n = checked_numel(p, what);
  check_stored(p, n, what);
  const bool raw = p.has_raw_data();
  auto as_float = [&](int64_t i, auto v) { t.floats[size_t(i)] = float(v); };
  // Integers widen with their own sign (int8 -128 stays -128).
  auto as_int = [&](int64_t i, auto v) { t.ints[size_t(i)] = static_cast<int64_t>(+v); };
  switch (p.data_type()) {
    case TensorProto::FLOAT:
      t.floats.resize(size_t(n));
      if (raw)
        read_raw<float>(p.raw_data(), n, what, as_float);
      else
        check_count(p.float_data(), n, what), std::copy(p.float_data().begin(), p.float_data().end(), t.floats.begin());
      break;
    case TensorProto::DOUBLE:
      t.floats.resize(size_t(n));
      if (raw)
        read_raw<double>(p.raw_data(), n, what, as_float);
      else
        check_count(p.double_data(), n, what),
            std::copy(p.double_data().begin(), p.double_data().end(), t.floats.begin());
      break;
    case TensorProto::FLOAT16:
      t.floats.resize(size_t(n));
      if (raw) {
        read_raw<uint16_t>(p.raw_data(), n, what,
                           [&](int64_t i, uint16_t v) { t.floats[size_t(i)] = half_to_float(v); });
      } else {
        check_count(p.int32_data(), n, what);
        for (int64_t i = 0; i < n; ++i) t.floats[size_t(i)] = half_to_float(uint16_t(p.int32_data(int(i))));
      }
      break;
    case TensorProto::INT64:
      t.integer = true, t.ints.resize(size_t(n));
      if (raw)
        read_raw<int64_t>(p.raw_data(), n, what, as_int);
      else
        check_count(p.int64_data(), n, what), std::copy(p.int64_data().begin(), p.int64_data().end(), t.ints.begin());
      break;
    case TensorProto::INT32:
    case TensorProto::INT16:
    case TensorProto::INT8:
    case TensorProto::UINT8:
    case TensorProto::UINT16:
    case TensorProto::BOOL: {
      t.integer = true, t.ints.resize(size_t(n));
      if (!raw) {
        check_count(p.int32_data(), n, what);
        std::copy(p.int32_data().begin(), p.int32_data().end(), t.ints.begin());
        break;
      }
      const int type = p.data_type();
      if (type == TensorProto::INT32) read_raw<int32_t>(p.raw_data(), n, what, as_int);
      if (type == TensorProto::INT16) read_raw<int16_t>(p.raw_data(), n, what, as_int);
      if (type == TensorProto::INT8) read_raw<int8_t>(p.raw_data(), n, what, as_int);
      if (type == TensorProto::UINT8 || type == TensorProto::BOOL) read_raw<uint8_t>(p.raw_data(), n, what, as_int);
      if (type == TensorProto::UINT16) read_raw<uint16_t>(p.raw_data(), n, what, as_int);
      break;
    }
    default:
      throw Error(what + ": data type " + std::to_string(p.data_type()) +
                  " is not supported (float, double, float16 and integer tensors are)");
  }
  return t;
}

void const_to_proto(const ConstTensor& t, TensorProto& p) {
  p.clear_dims();
  for (int64_t d : t.dims) p.add_dims(d);
  p.set_data_type(t.onnx_type);
  std::string* raw = p.mutable_raw_data();
  auto put = [&](auto v, int64_t count) {
    raw->resize(size_t(count) * sizeof(v));
    for (int64_t i = 0; i < count; ++i) {
      const auto x = t.integer ? decltype(v)(t.int_at(i)) : decltype(v)(t.at(i));
      std::memcpy(raw->data() + size_t(i) * sizeof(x), &x, sizeof(x));
    }
  };
  switch (t.onnx_type) {
    case TensorProto::FLOAT:
      put(float{}, t.numel());
      break;
    case TensorProto::INT64:
      put(int64_t{}, t.numel());
      break;
    case TensorProto::INT32:
      put(int32_t{}, t.numel());
      break;
    case TensorProto::INT8:
      put(int8_t{}, t.numel());
      break;
    case TensorProto::UINT8:
      put(uint8_t{}, t.numel());
      break;
    default:
      NIMBLE_ASSERT(false, "const_to_proto: unexpected type " + std::to_string(t.onnx_type));
  }
}

}  // namespace nimble::io
