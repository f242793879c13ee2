#pragma once
// Helpers for the data-layer tests: small IDX files written to a private temp directory.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data::testing {

inline std::vector<uint8_t> be32(uint32_t v) {
  return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
}

// The bytes of an IDX file: magic, dims, payload.
inline std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out = be32(magic);
  for (uint32_t d : dims) {
    auto b = be32(d);
    out.insert(out.end(), b.begin(), b.end());
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool gz) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    if (!bytes.empty()) {
      ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    }
    ASSERT_EQ(gzclose(f), Z_OK);
  } else {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
  }
}

// Deterministic test pixels / labels.
inline std::vector<uint8_t> pattern(size_t n, unsigned salt = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t((i * 37 + salt * 11 + 5) % 251);
  return v;
}

// A fresh temp directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nimble-data-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A (N, C, H, W) u8 set built from explicit pixels.
inline ImageSet make_set(int64_t n, int64_t c, int64_t h, int64_t w, const std::vector<uint8_t>& pixels,
                         std::vector<int32_t> labels, int64_t num_classes) {
  ImageSet s;
  s.images = Tensor(Shape{n, c, h, w}, DType::u8);
  EXPECT_EQ(int64_t(pixels.size()), n * c * h * w);
  std::copy(pixels.begin(), pixels.end(), s.images.data<uint8_t>());
  s.labels = std::move(labels);
  s.num_classes = num_classes;
  return s;
}

// `n` 28x28 images whose label (of 10 classes, 4 used) is the quadrant that is bright: a set a small
// network learns in a few steps.
inline ImageSet quadrant_set(int64_t n) {
  std::vector<uint8_t> px(size_t(n * 28 * 28), 0);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  Rng rng(4);
  for (int64_t i = 0; i < n; ++i) {
    const int q = int(i % 4);
    labels[size_t(i)] = q;
    for (int y = 0; y < 14; ++y)
      for (int x = 0; x < 14; ++x)
        px[size_t(i * 784 + (y + 14 * (q / 2)) * 28 + x + 14 * (q % 2))] = uint8_t(rng.uniform(120.0f, 255.0f));
  }
  return make_set(n, 1, 28, 28, px, labels, 10);
}

// Sample i has every pixel == i (mod 256) and label i: easy to identify in a batch.
inline ImageSet indexed_set(int64_t n, int64_t c = 1, int64_t h = 4, int64_t w = 4) {
  std::vector<uint8_t> px(size_t(n * c * h * w));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    labels[size_t(i)] = int32_t(i);
    std::fill_n(px.begin() + i * c * h * w, c * h * w, uint8_t(i % 256));
  }
  return make_set(n, c, h, w, px, labels, n);
}

// An MNIST-layout IDX data set in `dir`: `train` and `test` 28x28 images whose class (of `classes`)
// is their brightness band, so that a small network learns it in an epoch.
inline void write_banded_idx(const std::filesystem::path& dir, uint32_t train = 240, uint32_t test = 40,
                             uint32_t classes = 4) {
  std::filesystem::create_directories(dir);
  for (const auto& [prefix, n] : {std::pair<std::string, uint32_t>{"train", train}, {"t10k", test}}) {
    std::vector<uint8_t> images(size_t(n) * 784), labels(n);
    for (uint32_t i = 0; i < n; ++i) {
      labels[i] = uint8_t(i % classes);
      const uint32_t band = 220 / classes;
      for (size_t k = 0; k < 784; ++k) images[i * 784 + k] = uint8_t(30 + band * labels[i] + (k * 7 + i) % 30);
    }
    write_file((dir / (prefix + "-images-idx3-ubyte")).string(), idx_bytes(0x803, {n, 28, 28}, images), false);
    write_file((dir / (prefix + "-labels-idx1-ubyte")).string(), idx_bytes(0x801, {n}, labels), false);
  }
}

// Runs `fn` expecting a nimble::Error; returns its message ("" if none was thrown).
template <class F> std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace nimble::data::testing
