#pragma once
// JPEG and PNG decoding into 8-bit HWC pixels (libjpeg-turbo's TurboJPEG API, libpng's simplified API).
// The files are untrusted: every problem is a nimble::Error with one line "<name>: <problem>", never a
// crash or a half-decoded image. No global state: safe to call from several threads at once.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nimble::data {

// Larger images are refused before anything is allocated (a 20-byte header can claim 4 G pixels).
inline constexpr int64_t kMaxImageSide = 32768;
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 28;
// read_image_file refuses larger files.
inline constexpr uint64_t kMaxImageFileBytes = uint64_t(256) << 20;

struct DecodedImage {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // (H, W, C)
};

// Decodes a JPEG or PNG held in memory. The format is sniffed from the magic bytes, never the name.
// channels: 0 = as stored (grey -> 1, colour -> 3), 1 = grey, 3 = RGB. An alpha channel is dropped (not
// composited), a palette is expanded, grey from colour is ITU-R 601 luma (as PIL's convert("L")).
// CMYK/YCCK JPEGs are converted to RGB without colour management (as PIL does; Adobe's inverted CMYK
// when the file has an Adobe APP14 marker). 16-bit PNGs are refused.
// JPEG warnings: libjpeg-turbo decodes past damage (a truncated file comes out half grey), so the first
// warning stops the decode and is an error; the one exception is junk bytes before the end-of-image
// marker, which some cameras and editors write after a complete image.
DecodedImage decode_image(const uint8_t* bytes, size_t size, int channels, const std::string& name);

// The same for a file (at most kMaxImageFileBytes); errors name `path`.
DecodedImage read_image_file(const std::string& path, int channels);

// Size and stored channels (1 or 3) from the header only, checked as decode_image checks them (limits,
// 16-bit PNG); a file that passes may still fail to decode when its pixel data is damaged.
struct ImageInfo {
  int64_t height = 0, width = 0, channels = 0;
};
ImageInfo read_image_info(const std::string& path);

}  // namespace nimble::data
