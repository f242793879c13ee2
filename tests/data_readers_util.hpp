#pragma once
// Fixture builders for the data-reader tests, made in memory by the test itself: PNGs with libpng's
// simplified write API, JPEGs with TurboJPEG, .npy bytes by hand (as numpy writes them), .npz archives
// with libzip. No binary fixture is committed.
#include <gtest/gtest.h>
#include <png.h>
#include <turbojpeg.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "data_test_util.hpp"

namespace nimble::data::testing {

// Encodes (H, W, C) 8-bit pixels in `format` (PNG_FORMAT_GRAY, _GA, _RGB, _RGBA, or a _COLORMAP format with
// `colormap`), or 16-bit pixels when `format` has PNG_FORMAT_FLAG_LINEAR.
inline std::vector<uint8_t> png_bytes(int width, int height, png_uint_32 format, const void* pixels,
                                      const void* colormap = nullptr, int colormap_entries = 0) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = format;
  image.colormap_entries = png_uint_32(colormap_entries);
  png_alloc_size_t size = 0;
  EXPECT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0, colormap)) << image.message;
  std::vector<uint8_t> out(size);
  EXPECT_TRUE(png_image_write_to_memory(&image, out.data(), &size, 0, pixels, 0, colormap)) << image.message;
  out.resize(size);
  return out;
}

// Encodes (H, W, tjPixelSize[pixel_format]) pixels as a JPEG.
inline std::vector<uint8_t> jpeg_bytes(int width, int height, int pixel_format, const uint8_t* pixels, int subsamp,
                                       int quality = 95) {
  tjhandle h = tjInitCompress();
  EXPECT_NE(h, nullptr);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int r = tjCompress2(h, pixels, width, 0, height, pixel_format, &buf, &size, subsamp, quality, 0);
  EXPECT_EQ(r, 0) << tjGetErrorStr2(h);
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(h);
  return out;
}

// A smooth (H, W, C) image: JPEG reproduces it closely.
inline std::vector<uint8_t> smooth_image(int width, int height, int channels) {
  std::vector<uint8_t> px(size_t(width) * size_t(height) * size_t(channels));
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        px[(size_t(y) * size_t(width) + size_t(x)) * size_t(channels) + size_t(c)] =
            uint8_t(40 + (x * 150) / std::max(1, width - 1) + (y * 50) / std::max(1, height - 1) - c * 20);
  return px;
}

// The PIL/ITU-R 601 luma the decoder uses for colour -> grey.
inline uint8_t luma_of(const uint8_t* rgb) {
  return uint8_t((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
}

// Recomputes every chunk CRC of a PNG (as far as the chunks are inside the buffer), so a mutation reaches
// the decoder behind the CRC check.
inline void fix_png_crcs(std::vector<uint8_t>& b) {
  size_t p = 8;
  while (p + 12 <= b.size()) {
    const uint64_t len = uint64_t(b[p]) << 24 | uint64_t(b[p + 1]) << 16 | uint64_t(b[p + 2]) << 8 | b[p + 3];
    if (p + 12 + len > b.size()) return;
    const uint32_t crc = uint32_t(crc32(0, b.data() + p + 4, uInt(4 + len)));
    for (int i = 0; i < 4; ++i) b[p + 8 + len + size_t(i)] = uint8_t(crc >> (24 - 8 * i));
    p += 12 + len;
  }
}

// The bytes of an .npy file as numpy writes them: the dict padded with spaces to a 64-byte boundary and a
// newline. `shape` is the Python tuple text, e.g. "(2, 3)".
inline std::vector<uint8_t> npy_bytes(const std::string& descr, const std::string& shape,
                                      const std::vector<uint8_t>& payload, bool fortran = false, int major = 1) {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(major), 0};
  const size_t n = dict.size();
  out.push_back(uint8_t(n)), out.push_back(uint8_t(n >> 8));
  if (major != 1) out.push_back(uint8_t(n >> 16)), out.push_back(uint8_t(n >> 24));
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// The same with a header dict given verbatim (for malformed headers).
inline std::vector<uint8_t> npy_with_header(const std::string& dict, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(dict.size()), uint8_t(dict.size() >> 8)};
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Writes an .npz (zip) of `members` (name, bytes), each stored or deflated.
inline void write_npz(const std::string& path, const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members,
                      bool deflate) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr) << "zip_open " << err;
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    ASSERT_NE(src, nullptr);
    const zip_int64_t index = zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << zip_strerror(z);
    ASSERT_EQ(zip_set_file_compression(z, zip_uint64_t(index), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0), 0);
  }
  ASSERT_EQ(zip_close(z), 0) << zip_strerror(z);  // the buffers must outlive zip_close: it reads them here
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A reader's error: one line, "<name>: <problem>", and the problem contains `phrase`.
inline void expect_named_error(const std::string& msg, const std::string& name, const std::string& phrase = "") {
  ASSERT_FALSE(msg.empty()) << "no nimble::Error thrown for " << name;
  EXPECT_EQ(msg.rfind(name + ": ", 0), 0u) << "message does not start with '" << name << ": ': " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(phrase), std::string::npos) << "message lacks '" << phrase << "': " << msg;
}

}  // namespace nimble::data::testing
