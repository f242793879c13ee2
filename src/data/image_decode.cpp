// JPEG (TurboJPEG) and PNG (libpng's simplified API) decoding. Both libraries are given the whole file
// in memory, with a handle per call, so nothing is shared between threads. The size limits are applied
// to the header before any pixel buffer exists.
#include "data/image_decode.hpp"

#include <png.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <fmt/format.h>
#include <cctype>
#include <cstring>

#include "data/file_bytes.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw Error(fmt::format("{}: {}", name, problem));
}

enum class Format { jpeg, png };

constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr uint8_t kJpegMagic[3] = {0xFF, 0xD8, 0xFF};

bool starts_with(const uint8_t* bytes, size_t size, const void* magic, size_t n) {
  return size >= n && std::memcmp(bytes, magic, n) == 0;
}

// Other image formats people keep in data folders get a message that says what the file is.
const char* other_format(const uint8_t* b, size_t size) {
  if (starts_with(b, size, "GIF8", 4)) return "GIF";
  if (starts_with(b, size, "BM", 2)) return "BMP";
  if (size >= 12 && starts_with(b, size, "RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0) return "WebP";
  if (starts_with(b, size, "II*\0", 4) || starts_with(b, size, "MM\0*", 4)) return "TIFF";
  if (size >= 12 && std::memcmp(b + 4, "ftyp", 4) == 0) return "HEIF/AVIF";
  return nullptr;
}

Format sniff(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file");
  if (starts_with(bytes, size, kPngMagic, 8)) return Format::png;
  if (starts_with(bytes, size, kJpegMagic, 3)) return Format::jpeg;
  // A file cut inside the magic itself.
  if (size < 8 && std::memcmp(bytes, kPngMagic, size) == 0) fail(name, "truncated PNG");
  if (size < 3 && std::memcmp(bytes, kJpegMagic, size) == 0) fail(name, "truncated JPEG");
  if (const char* other = other_format(bytes, size))
    fail(name, fmt::format("a {} image; only JPEG and PNG are read (convert it to PNG)", other));
  fail(name, "not a JPEG or PNG file");
}

void check_size(const std::string& name, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) fail(name, fmt::format("image has no pixels ({}x{})", width, height));
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels)
    fail(name, fmt::format("image is {}x{} pixels; images larger than {} pixels on a side or {} pixels in all "
                           "are not read",
                           width, height, kMaxImageSide, kMaxImagePixels));
}

void check_channels(int channels, const std::string& name) {
  if (channels != 0 && channels != 1 && channels != 3)
    fail(name, fmt::format("channels must be 0 (as stored), 1 or 3, not {}", channels));
}

// ITU-R 601 luma in 16-bit fixed point, the weights and rounding of PIL's convert("L").
uint8_t luma(const uint8_t* rgb) { return uint8_t((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16); }

// (H, W, in_ch) -> (H, W, out_ch) for in_ch in 1..4 (grey, grey+alpha, RGB, RGBA) and out_ch in {1, 3}:
// alpha is dropped, colour becomes luma, grey is replicated.
std::vector<uint8_t> convert_pixels(const uint8_t* src, int64_t pixels, int in_ch, int out_ch) {
  std::vector<uint8_t> dst(size_t(pixels * out_ch));
  const bool colour = in_ch >= 3;
  for (int64_t i = 0; i < pixels; ++i) {
    const uint8_t* s = src + i * in_ch;
    uint8_t* d = dst.data() + i * out_ch;
    if (out_ch == 1) {
      d[0] = colour ? luma(s) : s[0];
    } else if (colour) {
      d[0] = s[0], d[1] = s[1], d[2] = s[2];
    } else {
      d[0] = d[1] = d[2] = s[0];
    }
  }
  return dst;
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// A chunk's type for a message: its four letters, or a placeholder when they are not letters.
std::string chunk_type(const uint8_t* p) {
  std::string t(reinterpret_cast<const char*>(p), 4);
  for (char c : t)
    if (!std::isalpha(static_cast<unsigned char>(c))) return "(unnamed)";
  return t;
}

// ---- PNG ----

struct PngHeader {
  int64_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
};

// The IHDR chunk, which the PNG specification puts first at a fixed offset: read directly so that
// read_image_info needs 33 bytes, and a 16-bit file is refused before libpng converts it.
PngHeader read_png_header(const uint8_t* b, size_t size, const std::string& name) {
  constexpr size_t kHeaderEnd = 8 + 8 + 13 + 4;  // magic, length + type, IHDR data, CRC
  if (size < kHeaderEnd) fail(name, "truncated PNG");
  if (be32(b + 8) != 13 || std::memcmp(b + 12, "IHDR", 4) != 0) fail(name, "corrupt PNG: the first chunk is not IHDR");
  if (uint32_t(crc32(0, b + 12, 17)) != be32(b + 29)) fail(name, "corrupt PNG: IHDR CRC mismatch");
  PngHeader h;
  h.width = be32(b + 16), h.height = be32(b + 20);
  h.bit_depth = b[24], h.color_type = b[25];
  const int d = h.bit_depth;
  bool valid = false;
  switch (h.color_type) {
    case 0:  // grey
      valid = d == 1 || d == 2 || d == 4 || d == 8 || d == 16;
      break;
    case 3:  // palette
      valid = d == 1 || d == 2 || d == 4 || d == 8;
      break;
    case 2:  // RGB
    case 4:  // grey + alpha
    case 6:  // RGBA
      valid = d == 8 || d == 16;
      break;
    default:
      break;
  }
  if (!valid) fail(name, fmt::format("corrupt PNG: invalid IHDR (bit depth {}, colour type {})", d, h.color_type));
  if (d == 16) fail(name, "16-bit PNG; only 8-bit images are read (convert it to 8-bit)");
  check_size(name, h.width, h.height);
  return h;
}

int png_stored_channels(const PngHeader& h) { return (h.color_type & 2) ? 3 : 1; }  // palette has the colour bit

// Deflate expands at most 1032-fold (RFC 1951: 258 bytes from a 2-bit code at best), so image data
// (IDAT) of N bytes holds at most about 1032 N bytes of pixel rows. A header claiming more is refused
// before anything that size is allocated: a 74-byte file must not cost a gigabyte.
// A chunk claiming more bytes than the file has left is refused too: libpng allocates a chunk's
// claimed length before reading it (a 300-byte file with a zTXt chunk claiming 2 GB, fuzzing).
// Returns whether the walk reached the final IEND chunk: libpng's simplified API stops reading
// after the image data, so a file cut inside IEND would decode. Bytes after IEND are allowed.
bool check_png_chunks(const uint8_t* b, size_t size, const PngHeader& h, const std::string& name) {
  uint64_t idat = 0;
  bool iend = false;
  // Every chunk whose length and type are in the file, also one cut off before its CRC: libpng
  // allocates the claimed length as soon as it has read those 8 bytes.
  for (size_t p = 8; p + 8 <= size;) {
    const uint64_t length = be32(b + p);
    const uint64_t left = size >= p + 12 ? size - p - 12 : 0;  // for the data, after the CRC's 4 bytes
    if (size < p + 12 || length > left)
      fail(name, fmt::format("truncated PNG: a {} chunk claims {} bytes, the file has {} left", chunk_type(b + p + 4),
                             length, left));
    if (std::memcmp(b + p + 4, "IDAT", 4) == 0) idat += length;
    if (std::memcmp(b + p + 4, "IEND", 4) == 0) {
      iend = true;
      break;
    }
    p += 12 + size_t(length);
  }
  static constexpr int kSamples[7] = {1, 0, 3, 1, 2, 0, 4};  // per pixel, by colour type
  const uint64_t row_bits = uint64_t(h.width) * uint64_t(kSamples[h.color_type]) * uint64_t(h.bit_depth);
  const uint64_t rows_bytes = uint64_t(h.height) * ((row_bits + 7) / 8);  // filter bytes not counted
  constexpr uint64_t kMaxDeflateRatio = 1032;
  if (rows_bytes > kMaxDeflateRatio * idat + 4096)
    fail(name, fmt::format("truncated PNG: {} bytes of image data cannot hold a {}x{} image", idat, h.width, h.height));
  return iend;
}

std::string png_problem(const png_image& image) {
  const std::string msg(image.message, strnlen(image.message, sizeof image.message));
  // libpng's memory reader says "read beyond end of data" when the file ends early.
  if (msg.find("end of data") != std::string::npos || msg.find("Not enough image data") != std::string::npos)
    return "truncated PNG";
  return "corrupt PNG data: " + (msg.empty() ? std::string("libpng gave no reason") : msg);
}

// Frees libpng's read state on every path out.
struct PngImage {
  png_image image{};
  PngImage() { image.version = PNG_IMAGE_VERSION; }
  ~PngImage() { png_image_free(&image); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

DecodedImage decode_png(const uint8_t* bytes, size_t size, int channels, const std::string& name) {
  const PngHeader header = read_png_header(bytes, size, name);
  const bool has_iend = check_png_chunks(bytes, size, header, name);
  PngImage png;
  if (!png_image_begin_read_from_memory(&png.image, bytes, size)) fail(name, png_problem(png.image));
  if (int64_t(png.image.width) != header.width || int64_t(png.image.height) != header.height)
    fail(name, "corrupt PNG: libpng and the IHDR chunk disagree on the size");
  // Ask for the stored colour model with alpha kept, so that libpng composites nothing; the palette
  // (PNG_FORMAT_FLAG_COLORMAP) is expanded by asking for direct pixels.
  png.image.format = png.image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA);
  const int read_ch = int(PNG_IMAGE_PIXEL_CHANNELS(png.image.format));
  std::vector<uint8_t> buffer(size_t(header.width * header.height * read_ch));
  if (!png_image_finish_read(&png.image, nullptr, buffer.data(), 0, nullptr)) fail(name, png_problem(png.image));
  if (!has_iend) fail(name, "truncated PNG");

  DecodedImage out;
  out.height = header.height, out.width = header.width;
  out.channels = channels ? channels : png_stored_channels(header);
  out.pixels = read_ch == out.channels
                   ? std::move(buffer)
                   : convert_pixels(buffer.data(), out.height * out.width, read_ch, int(out.channels));
  return out;
}

// ---- JPEG ----

// A TurboJPEG decompressor per call: its error state (and libjpeg's warning count) must not leak
// between images.
class TjDecoder {
 public:
  explicit TjDecoder(const std::string& name) : handle_(tjInitDecompress()) {
    if (!handle_) fail(name, fmt::format("cannot start the JPEG decoder: {}", tjGetErrorStr2(nullptr)));
  }
  ~TjDecoder() { tjDestroy(handle_); }
  TjDecoder(const TjDecoder&) = delete;
  TjDecoder& operator=(const TjDecoder&) = delete;
  tjhandle get() const { return handle_; }
  std::string error() const { return tjGetErrorStr2(handle_); }
  bool warning() const { return tjGetErrorCode(handle_) == TJERR_WARNING; }

 private:
  tjhandle handle_;
};

std::string jpeg_problem(std::string msg) {
  if (msg.find("Premature end of JPEG file") != std::string::npos) return "truncated JPEG";
  // "Unsupported marker type" is what garbage in the marker stream looks like: corrupt, not unsupported.
  if ((msg.find("Unsupported") != std::string::npos && msg.find("Unsupported marker") == std::string::npos) ||
      msg.find("not supported") != std::string::npos)
    return "unsupported JPEG: " + msg;
  constexpr std::string_view kPrefix = "Corrupt JPEG data: ";  // libjpeg's own prefix on some warnings
  if (msg.compare(0, kPrefix.size(), kPrefix) == 0) msg.erase(0, kPrefix.size());
  return "corrupt JPEG data: " + msg;
}

// Junk between the last scan and the end-of-image marker: the image itself is complete.
bool is_trailing_junk(const std::string& msg) {
  return msg.find("extraneous bytes before marker 0xd9") != std::string::npos;
}

struct JpegHeader {
  int64_t width = 0, height = 0;
  int colorspace = 0;
};

JpegHeader read_jpeg_header(const uint8_t* bytes, size_t size, const std::string& name) {
  TjDecoder dec(name);
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(dec.get(), bytes, static_cast<unsigned long>(size), &width, &height, &subsamp, &colorspace) !=
      0)
    fail(name, jpeg_problem(dec.error()));
  // TurboJPEG reports success with no size for a stream that ends before the frame header.
  if (width == 0 || height == 0) fail(name, "truncated JPEG");
  check_size(name, width, height);
  return {width, height, colorspace};
}

bool is_cmyk(int colorspace) { return colorspace == TJCS_CMYK || colorspace == TJCS_YCCK; }

// Whether the markers before the first scan include Adobe's APP14: Adobe applications store CMYK
// inverted (0 = full ink), and libjpeg hands the stored values through. Bounds-checked walk of the
// marker segments; anything malformed just ends the walk (the decoder reports it).
bool has_adobe_marker(const uint8_t* b, size_t size) {
  size_t p = 2;  // after SOI
  while (p + 4 <= size) {
    if (b[p] != 0xFF) return false;
    const uint8_t marker = b[p + 1];
    if (marker == 0xFF) {  // fill byte
      ++p;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return false;          // start of scan / end of image
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {  // markers without a length
      p += 2;
      continue;
    }
    const size_t length = size_t(b[p + 2]) << 8 | b[p + 3];
    if (length < 2 || p + 2 + length > size) return false;
    if (marker == 0xEE && length >= 2 + 5 && std::memcmp(b + p + 4, "Adobe", 5) == 0) return true;
    p += 2 + length;
  }
  return false;
}

// CMYK -> RGB with no colour profile: R = (255 - C)(255 - K) / 255 (PIL's formula), where an Adobe file
// stores 255 - C and 255 - K.
std::vector<uint8_t> cmyk_to_rgb(const uint8_t* cmyk, int64_t pixels, bool inverted) {
  std::vector<uint8_t> rgb(size_t(pixels * 3));
  auto div255 = [](unsigned v) { return uint8_t((v + 128 + ((v + 128) >> 8)) >> 8); };  // round(v / 255)
  for (int64_t i = 0; i < pixels; ++i) {
    const uint8_t* s = cmyk + i * 4;
    const unsigned k = inverted ? s[3] : 255u - s[3];
    for (int c = 0; c < 3; ++c) rgb[size_t(i * 3 + c)] = div255((inverted ? s[c] : 255u - s[c]) * k);
  }
  return rgb;
}

// Decodes into `dst` (height x width x tjPixelSize[format]); false with `problem` set on failure.
bool jpeg_decompress(const uint8_t* bytes, size_t size, uint8_t* dst, const JpegHeader& h, int format, int flags,
                     const std::string& name, std::string& problem, bool& warning) {
  TjDecoder dec(name);
  if (tjDecompress2(dec.get(), bytes, static_cast<unsigned long>(size), dst, int(h.width), 0, int(h.height), format,
                    flags) == 0)
    return true;
  problem = dec.error();
  warning = dec.warning();
  return false;
}

DecodedImage decode_jpeg(const uint8_t* bytes, size_t size, int channels, const std::string& name) {
  const JpegHeader h = read_jpeg_header(bytes, size, name);
  const bool cmyk = is_cmyk(h.colorspace);
  const int stored = h.colorspace == TJCS_GRAY ? 1 : 3;
  const int want = channels ? channels : stored;
  const int format = cmyk ? TJPF_CMYK : want == 1 ? TJPF_GRAY : TJPF_RGB;
  const int64_t pixels = h.width * h.height;
  std::vector<uint8_t> buffer(size_t(pixels * tjPixelSize[format]));

  // LIMITSCANS bounds the work a hostile progressive file can cause; STOPONWARNING turns damage into an
  // error instead of grey blocks (see the header).
  const int strict = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  std::string problem;
  bool warning = false;
  if (!jpeg_decompress(bytes, size, buffer.data(), h, format, strict, name, problem, warning)) {
    // The first warning was junk before the end marker, so every scan before it decoded cleanly: decode
    // again without stopping. The retry's message is its first warning, the same junk, or nothing.
    if (!warning || !is_trailing_junk(problem)) fail(name, jpeg_problem(problem));
    std::string again;
    if (!jpeg_decompress(bytes, size, buffer.data(), h, format, TJFLAG_LIMITSCANS, name, again, warning) &&
        !(warning && is_trailing_junk(again)))
      fail(name, jpeg_problem(again));
  }

  DecodedImage out;
  out.height = h.height, out.width = h.width, out.channels = want;
  if (cmyk) {
    std::vector<uint8_t> rgb = cmyk_to_rgb(buffer.data(), pixels, has_adobe_marker(bytes, size));
    out.pixels = want == 3 ? std::move(rgb) : convert_pixels(rgb.data(), pixels, 3, 1);
  } else {
    out.pixels = std::move(buffer);
  }
  return out;
}

}  // namespace

DecodedImage decode_image(const uint8_t* bytes, size_t size, int channels, const std::string& name) {
  check_channels(channels, name);
  // unsigned long (TurboJPEG's size type) is 64-bit on the targets nimble builds for; the cap keeps
  // in-memory callers inside what read_image_file accepts.
  if (size > kMaxImageFileBytes)
    fail(name, fmt::format("{} of image data; the limit is {}", bytes_text(size), bytes_text(kMaxImageFileBytes)));
  return sniff(bytes, size, name) == Format::png ? decode_png(bytes, size, channels, name)
                                                 : decode_jpeg(bytes, size, channels, name);
}

DecodedImage read_image_file(const std::string& path, int channels) {
  check_channels(channels, path);
  const std::vector<uint8_t> bytes = read_file_bytes(path, kMaxImageFileBytes, "an image");
  return decode_image(bytes.data(), bytes.size(), channels, path);
}

ImageInfo read_image_info(const std::string& path) {
  // The JPEG header runs up to the first scan, past any EXIF and ICC segments: usually well inside the
  // prefix; when not, the whole file is read.
  constexpr uint64_t kPrefix = 64 << 10;
  std::vector<uint8_t> bytes = read_file_prefix(path, kPrefix);
  if (sniff(bytes.data(), bytes.size(), path) == Format::png) {
    const PngHeader h = read_png_header(bytes.data(), bytes.size(), path);
    return {h.height, h.width, png_stored_channels(h)};
  }
  JpegHeader h;
  try {
    h = read_jpeg_header(bytes.data(), bytes.size(), path);
  } catch (const Error&) {
    if (bytes.size() < kPrefix) throw;
    bytes = read_file_bytes(path, kMaxImageFileBytes, "an image");
    h = read_jpeg_header(bytes.data(), bytes.size(), path);
  }
  return {h.height, h.width, h.colorspace == TJCS_GRAY ? 1 : 3};
}

}  // namespace nimble::data
