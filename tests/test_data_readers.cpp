// The low-level data-file readers: JPEG/PNG decoding, .npy/.npz parsing and CIFAR binary batches, on
// fixtures made here, and every kind of damaged file (each must throw nimble::Error naming the file).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include "data/cifar.hpp"
#include "data/image_decode.hpp"
#include "data/npy.hpp"
#include "data_readers_util.hpp"

namespace nimble::data {
namespace {

using namespace testing;

// ---------------------------------------------------------------- images

std::vector<uint8_t> pattern_pixels(int width, int height, int channels, unsigned salt) {
  return pattern(size_t(width) * size_t(height) * size_t(channels), salt);
}

DecodedImage decode(const std::vector<uint8_t>& bytes, int channels, const std::string& name = "mem.img") {
  return decode_image(bytes.data(), bytes.size(), channels, name);
}

std::string decode_error(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0) {
  return error_of([&] { decode_image(bytes.data(), bytes.size(), channels, name); });
}

// (H, W, in_ch) -> (H, W, out_ch) as the decoder documents it: alpha dropped, luma, replicated grey.
std::vector<uint8_t> expected_pixels(const std::vector<uint8_t>& src, int in_ch, int out_ch) {
  const size_t n = src.size() / size_t(in_ch);
  std::vector<uint8_t> out(n * size_t(out_ch));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = src.data() + i * size_t(in_ch);
    for (int c = 0; c < out_ch; ++c) {
      uint8_t v;
      if (out_ch == 1)
        v = in_ch >= 3 ? luma_of(s) : s[0];
      else
        v = in_ch >= 3 ? s[c] : s[0];
      out[i * size_t(out_ch) + size_t(c)] = v;
    }
  }
  return out;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  int m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

TEST(ImageDecode, PngGreyRgbAndAlphaAreExactInEveryChannelMode) {
  struct Case {
    png_uint_32 format;
    int channels;  // bytes per pixel in the file's format
    int stored;    // what decode_image reports for channels = 0
  };
  const Case cases[] = {
      {PNG_FORMAT_GRAY, 1, 1}, {PNG_FORMAT_GA, 2, 1}, {PNG_FORMAT_RGB, 3, 3}, {PNG_FORMAT_RGBA, 4, 3}};
  for (const Case& c : cases)
    for (auto [w, h] : {std::pair{1, 1}, {13, 7}, {3, 127}}) {
      SCOPED_TRACE(::testing::Message() << "format " << c.format << " " << w << "x" << h);
      const std::vector<uint8_t> px = pattern_pixels(w, h, c.channels, c.format + unsigned(w));
      const std::vector<uint8_t> png = png_bytes(w, h, c.format, px.data());
      for (int want : {0, 1, 3}) {
        const DecodedImage img = decode(png, want);
        const int out_ch = want ? want : c.stored;
        EXPECT_EQ(img.width, w);
        EXPECT_EQ(img.height, h);
        EXPECT_EQ(img.channels, out_ch);
        EXPECT_EQ(img.pixels, expected_pixels(px, c.channels, out_ch)) << "channels " << want;
      }
    }
}

TEST(ImageDecode, PngPaletteIsExpanded) {
  const int w = 9, h = 5;
  std::vector<uint8_t> colormap = pattern(3 * 16, 7);  // 16 RGB entries
  std::vector<uint8_t> index(size_t(w * h));
  for (size_t i = 0; i < index.size(); ++i) index[i] = uint8_t((i * 5) % 16);
  std::vector<uint8_t> rgb;
  for (uint8_t k : index) rgb.insert(rgb.end(), colormap.begin() + k * 3, colormap.begin() + k * 3 + 3);
  const std::vector<uint8_t> png = png_bytes(w, h, PNG_FORMAT_RGB_COLORMAP, index.data(), colormap.data(), 16);
  ASSERT_EQ(png[25], 3) << "the fixture should be a palette PNG (colour type 3)";
  const DecodedImage img = decode(png, 0);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, rgb);
  EXPECT_EQ(decode(png, 1).pixels, expected_pixels(rgb, 3, 1));

  // A palette with transparency (tRNS): alpha is dropped, the colours stay.
  std::vector<uint8_t> rgba_map;
  for (int k = 0; k < 16; ++k) {
    rgba_map.insert(rgba_map.end(), colormap.begin() + k * 3, colormap.begin() + k * 3 + 3);
    rgba_map.push_back(uint8_t(k * 17));
  }
  const std::vector<uint8_t> png_t = png_bytes(w, h, PNG_FORMAT_RGBA_COLORMAP, index.data(), rgba_map.data(), 16);
  EXPECT_EQ(decode(png_t, 3).pixels, rgb);
}

TEST(ImageDecode, Png16BitIsRefused) {
  std::vector<uint16_t> px(4 * 3, 1000);
  const std::vector<uint8_t> png = png_bytes(4, 3, PNG_FORMAT_LINEAR_Y, px.data());
  ASSERT_EQ(png[24], 16);
  expect_named_error(decode_error(png, "z.png"), "z.png",
                     "16-bit PNG; only 8-bit images are read (convert it to 8-bit)");
  TempDir dir;
  write_file(dir / "z.png", png, false);
  expect_named_error(error_of([&] { read_image_info(dir / "z.png"); }), dir / "z.png", "16-bit PNG");
}

// A header claiming more pixels than its image data can inflate to is refused before the pixels are
// allocated (a 75-byte file claiming 16384x16384 cost a gigabyte); the best-compressing real image,
// all one value, still decodes.
TEST(ImageDecode, PngClaimingMorePixelsThanItsDataCanHoldIsRefusedBeforeAllocating) {
  std::vector<uint8_t> px(4 * 3, 7);
  std::vector<uint8_t> png = png_bytes(4, 3, PNG_FORMAT_GRAY, px.data());
  const auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + size_t(i)] = uint8_t(v >> (24 - 8 * i));
  };
  put32(16, 16384), put32(20, 16384);
  put32(29, uint32_t(crc32(0, png.data() + 12, 17)));  // a valid IHDR
  const std::string err = decode_error(png, "big.png");
  expect_named_error(err, "big.png", "truncated PNG: ");
  EXPECT_NE(err.find("cannot hold a 16384x16384 image"), std::string::npos) << err;

  const int side = 2048;
  const std::vector<uint8_t> blank(size_t(side) * side, 0);
  const std::vector<uint8_t> flat = png_bytes(side, side, PNG_FORMAT_GRAY, blank.data());
  const DecodedImage img = decode(flat, 1);
  EXPECT_EQ(img.width, side);
  EXPECT_EQ(img.pixels, blank);
  std::printf("a %dx%d blank PNG is %zu bytes (%.0f pixels a byte)\n", side, side, flat.size(),
              double(blank.size()) / double(flat.size()));
}

// libpng allocates a chunk's claimed length before reading it: a chunk claiming more bytes than the
// file has left is refused first (a 300-byte file whose zTXt chunk claimed 2 GB, found by fuzzing).
TEST(ImageDecode, PngChunkClaimingMoreThanTheFileHoldsIsRefusedBeforeLibpngAllocates) {
  std::vector<uint8_t> px(4 * 3, 7);
  std::vector<uint8_t> png = png_bytes(4, 3, PNG_FORMAT_GRAY, px.data());
  const std::vector<uint8_t> chunk = {0x7a, 0x54, 0x58, 0x74, 'a', 0, 0, 0x78, 0x9c};  // "zTXt", then a little
  std::vector<uint8_t> bad(png.begin(), png.begin() + 33);                             // signature and IHDR
  for (uint32_t v = 2052348020u, i = 0; i < 4; ++i) bad.push_back(uint8_t(v >> (24 - 8 * i)));
  bad.insert(bad.end(), chunk.begin(), chunk.end());
  bad.insert(bad.end(), png.begin() + 33, png.end());
  const std::string err = decode_error(bad, "text.png");
  expect_named_error(err, "text.png", "truncated PNG: ");
  EXPECT_NE(err.find("a zTXt chunk claims 2052348020 bytes"), std::string::npos) << err;
  // The same chunk header with the file ending before the chunk's CRC (a fuzzer's 44-byte file,
  // which still made libpng allocate the 2 GB).
  std::vector<uint8_t> cut(bad.begin(), bad.begin() + 33 + 8);
  cut.insert(cut.end(), {'I', 0x60, 0x82});
  const std::string cut_err = decode_error(cut, "cut.png");
  expect_named_error(cut_err, "cut.png", "truncated PNG: ");
  EXPECT_NE(cut_err.find("a zTXt chunk claims 2052348020 bytes, the file has 0 left"), std::string::npos) << cut_err;
}

TEST(ImageDecode, JpegIsCloseToTheSourceImage) {
  const int w = 37, h = 29;
  const std::vector<uint8_t> rgb = smooth_image(w, h, 3), grey = smooth_image(w, h, 1);
  for (int subsamp : {TJSAMP_444, TJSAMP_420}) {
    SCOPED_TRACE(subsamp);
    const std::vector<uint8_t> jpg = jpeg_bytes(w, h, TJPF_RGB, rgb.data(), subsamp);
    const DecodedImage img = decode(jpg, 0);
    EXPECT_EQ(img.width, w);
    EXPECT_EQ(img.height, h);
    EXPECT_EQ(img.channels, 3);
    EXPECT_LE(max_abs_diff(img.pixels, rgb), 8);
    const DecodedImage as_grey = decode(jpg, 1);
    EXPECT_EQ(as_grey.channels, 1);
    EXPECT_LE(max_abs_diff(as_grey.pixels, expected_pixels(rgb, 3, 1)), 8);
  }
  const std::vector<uint8_t> jpg = jpeg_bytes(w, h, TJPF_GRAY, grey.data(), TJSAMP_GRAY);
  const DecodedImage img = decode(jpg, 0);
  EXPECT_EQ(img.channels, 1);
  EXPECT_LE(max_abs_diff(img.pixels, grey), 8);
  const DecodedImage as_rgb = decode(jpg, 3);
  EXPECT_EQ(as_rgb.channels, 3);
  EXPECT_EQ(as_rgb.pixels, expected_pixels(img.pixels, 1, 3));
}

TEST(ImageDecode, CmykJpegBecomesRgb) {
  // Adobe-style storage (libjpeg writes an Adobe marker for CMYK): stored (c, m, y, k) = (R, G, B, 255)
  // means no black ink, so RGB = (c, m, y).
  const int w = 16, h = 8;
  const std::vector<uint8_t> rgb = smooth_image(w, h, 3);
  std::vector<uint8_t> cmyk;
  for (size_t i = 0; i < rgb.size(); i += 3) cmyk.insert(cmyk.end(), {rgb[i], rgb[i + 1], rgb[i + 2], 255});
  const std::vector<uint8_t> jpg = jpeg_bytes(w, h, TJPF_CMYK, cmyk.data(), TJSAMP_444);
  const DecodedImage img = decode(jpg, 0);
  EXPECT_EQ(img.channels, 3);
  EXPECT_LE(max_abs_diff(img.pixels, rgb), 8);
  EXPECT_EQ(decode(jpg, 1).channels, 1);
  TempDir dir;
  write_file(dir / "c.jpg", jpg, false);
  const ImageInfo info = read_image_info(dir / "c.jpg");
  EXPECT_EQ(info.channels, 3);
}

// PIL, when Debian's python3 has it, converts the same files the same way: CMYK (with Adobe's inverted
// storage) to RGB, and colour to grey with its convert("L") luma.
TEST(ImageDecode, ConversionsMatchPil) {
  if (std::system("/usr/bin/python3 -c 'import PIL, numpy' > /dev/null 2>&1") != 0) GTEST_SKIP() << "no python3 PIL";
  TempDir dir;
  const int w = 16, h = 8;
  const std::vector<uint8_t> cmyk = pattern(size_t(w) * h * 4, 5), rgba = pattern(size_t(w) * h * 4, 6);
  write_file(dir / "cmyk.jpg", jpeg_bytes(w, h, TJPF_CMYK, cmyk.data(), TJSAMP_444), false);
  write_file(dir / "rgba.png", png_bytes(w, h, PNG_FORMAT_RGBA, rgba.data()), false);
  const std::string script = dir / "pil.py";
  std::ofstream(script) << R"(import sys
from PIL import Image
d = sys.argv[1]
for name in ('cmyk.jpg', 'rgba.png'):
  im = Image.open(f'{d}/{name}')
  open(f'{d}/{name}.rgb', 'wb').write(im.convert('RGB').tobytes())
  open(f'{d}/{name}.l', 'wb').write(im.convert('RGB').convert('L').tobytes())
)";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + dir.path()).c_str()), 0);
  for (const char* name : {"cmyk.jpg", "rgba.png"}) {
    EXPECT_EQ(read_image_file(dir / name, 3).pixels, read_bytes(dir / (std::string(name) + ".rgb"))) << name;
    EXPECT_EQ(read_image_file(dir / name, 1).pixels, read_bytes(dir / (std::string(name) + ".l"))) << name;
  }
}

TEST(ImageDecode, OneByOneImagesDecode) {
  const uint8_t px[3] = {200, 100, 50};
  const DecodedImage p = decode(png_bytes(1, 1, PNG_FORMAT_RGB, px), 0);
  EXPECT_EQ(p.pixels, (std::vector<uint8_t>{200, 100, 50}));
  const DecodedImage j = decode(jpeg_bytes(1, 1, TJPF_RGB, px, TJSAMP_444), 0);
  EXPECT_EQ(j.height, 1);
  EXPECT_EQ(j.width, 1);
  EXPECT_LE(max_abs_diff(j.pixels, {200, 100, 50}), 8);
}

TEST(ImageDecode, FormatIsSniffedNotTakenFromTheName) {
  const std::vector<uint8_t> px = pattern_pixels(4, 4, 3, 1);
  EXPECT_EQ(decode(png_bytes(4, 4, PNG_FORMAT_RGB, px.data()), 0, "really-a-png.jpg").pixels, px);
  EXPECT_EQ(decode(jpeg_bytes(4, 4, TJPF_RGB, px.data(), TJSAMP_444), 0, "really-a-jpeg.png").width, 4);

  const std::string text = "this is not an image\n";
  expect_named_error(decode_error({text.begin(), text.end()}, "cat.png"), "cat.png", "not a JPEG or PNG file");
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  expect_named_error(decode_error(gif, "a.gif"), "a.gif", "a GIF image; only JPEG and PNG");
  expect_named_error(decode_error({}, "e.png"), "e.png", "empty file");
}

TEST(ImageDecode, TruncatedFilesAreErrors) {
  const std::vector<uint8_t> px = smooth_image(23, 11, 3);
  const std::vector<uint8_t> png = png_bytes(23, 11, PNG_FORMAT_RGB, px.data());
  for (size_t cut = 1; cut < png.size(); ++cut) {
    SCOPED_TRACE(cut);
    expect_named_error(decode_error({png.begin(), png.begin() + std::ptrdiff_t(cut)}, "y.png"), "y.png",
                       "truncated PNG");
  }
  const std::vector<uint8_t> jpg = jpeg_bytes(23, 11, TJPF_RGB, px.data(), TJSAMP_420);
  size_t sos = 2;
  while (sos + 1 < jpg.size() && !(jpg[sos] == 0xFF && jpg[sos + 1] == 0xDA)) ++sos;
  for (size_t cut = 1; cut < jpg.size(); ++cut) {
    SCOPED_TRACE(cut);
    const std::string msg = decode_error({jpg.begin(), jpg.begin() + std::ptrdiff_t(cut)}, "x.jpg");
    expect_named_error(msg, "x.jpg");
    // Cut inside the image data (after the start-of-scan header), the message says what happened.
    if (cut > sos + 14) {
      EXPECT_NE(msg.find("truncated JPEG"), std::string::npos) << msg;
    }
  }
}

TEST(ImageDecode, JunkBeforeTheJpegEndMarkerIsAccepted) {
  const std::vector<uint8_t> px = smooth_image(20, 12, 3);
  const std::vector<uint8_t> jpg = jpeg_bytes(20, 12, TJPF_RGB, px.data(), TJSAMP_420);
  std::vector<uint8_t> junk(jpg.begin(), jpg.end() - 2);
  junk.insert(junk.end(), {0x55, 0x55, 0x55, 0x55, 0xFF, 0xD9});
  EXPECT_EQ(decode(junk, 0).pixels, decode(jpg, 0).pixels);
}

TEST(ImageDecode, CorruptJpegDataIsAnError) {
  const std::vector<uint8_t> px = pattern(size_t(64 * 48 * 3), 9);  // noise: a long scan
  const std::vector<uint8_t> jpg = jpeg_bytes(64, 48, TJPF_RGB, px.data(), TJSAMP_420);
  size_t sos = 2;
  while (sos + 1 < jpg.size() && !(jpg[sos] == 0xFF && jpg[sos + 1] == 0xDA)) ++sos;
  ASSERT_LT(sos + 100, jpg.size());
  // A restart marker in the middle of the entropy-coded data (the file has no restart interval).
  std::vector<uint8_t> bad = jpg;
  const size_t at = (sos + jpg.size()) / 2;
  bad[at] = 0xFF, bad[at + 1] = 0xD5;
  expect_named_error(decode_error(bad, "x.jpg"), "x.jpg", "corrupt JPEG data: ");
}

TEST(ImageDecode, BitFlipsThrowOrDecodeButNeverCrash) {
  const std::vector<uint8_t> px = smooth_image(15, 9, 3);
  for (const std::vector<uint8_t>& good :
       {png_bytes(15, 9, PNG_FORMAT_RGB, px.data()), jpeg_bytes(15, 9, TJPF_RGB, px.data(), TJSAMP_420)}) {
    for (size_t i = 0; i < good.size(); ++i)
      for (int bit : {0, 7}) {
        std::vector<uint8_t> bad = good;
        bad[i] ^= uint8_t(1 << bit);
        try {
          const DecodedImage img = decode(bad, 0, "flip.img");
          EXPECT_EQ(img.pixels.size(), size_t(img.width * img.height * img.channels));
        } catch (const Error& e) {
          expect_named_error(e.what(), "flip.img");
        }
      }
  }
}

TEST(ImageDecode, HugeImagesAreRefusedFromTheHeader) {
  const std::vector<uint8_t> px = pattern_pixels(2, 2, 3, 4);
  // PNG: rewrite IHDR's width/height (and its CRC).
  for (auto [w, h] : {std::pair<uint32_t, uint32_t>{40000, 2}, {20000, 20000}}) {
    std::vector<uint8_t> png = png_bytes(2, 2, PNG_FORMAT_RGB, px.data());
    for (int i = 0; i < 4; ++i)
      png[16 + size_t(i)] = uint8_t(w >> (24 - 8 * i)), png[20 + size_t(i)] = uint8_t(h >> (24 - 8 * i));
    fix_png_crcs(png);
    expect_named_error(decode_error(png, "big.png"), "big.png", "pixels on a side");
  }
  // JPEG: rewrite the SOF0 frame's height/width.
  std::vector<uint8_t> jpg = jpeg_bytes(2, 2, TJPF_RGB, px.data(), TJSAMP_444);
  size_t sof = 2;
  while (sof + 9 < jpg.size() && !(jpg[sof] == 0xFF && jpg[sof + 1] == 0xC0)) ++sof;
  ASSERT_LT(sof + 9, jpg.size());
  jpg[sof + 5] = 0xEA, jpg[sof + 6] = 0x60;  // height 60000
  jpg[sof + 7] = 0xEA, jpg[sof + 8] = 0x60;  // width 60000
  expect_named_error(decode_error(jpg, "big.jpg"), "big.jpg", "pixels on a side");
}

TEST(ImageDecode, BadChannelRequestIsAnError) {
  const std::vector<uint8_t> px = pattern_pixels(2, 2, 3, 4);
  expect_named_error(decode_error(png_bytes(2, 2, PNG_FORMAT_RGB, px.data()), "a.png", 2), "a.png",
                     "channels must be 0 (as stored), 1 or 3");
}

TEST(ImageDecode, ReadFileAndInfo) {
  TempDir dir;
  const std::vector<uint8_t> rgb = smooth_image(31, 17, 3), grey = smooth_image(31, 17, 1);
  write_file(dir / "a.png", png_bytes(31, 17, PNG_FORMAT_RGB, rgb.data()), false);
  write_file(dir / "g.png", png_bytes(31, 17, PNG_FORMAT_GA, pattern_pixels(31, 17, 2, 3).data()), false);
  write_file(dir / "b.jpg", jpeg_bytes(31, 17, TJPF_RGB, rgb.data(), TJSAMP_420), false);
  write_file(dir / "g.jpg", jpeg_bytes(31, 17, TJPF_GRAY, grey.data(), TJSAMP_GRAY), false);
  write_file(dir / "empty.png", {}, false);
  EXPECT_EQ(read_image_file(dir / "a.png", 0).pixels, rgb);
  for (auto [file, channels] : {std::pair{"a.png", 3}, {"g.png", 1}, {"b.jpg", 3}, {"g.jpg", 1}}) {
    const ImageInfo info = read_image_info(dir / file);
    EXPECT_EQ(info.width, 31) << file;
    EXPECT_EQ(info.height, 17) << file;
    EXPECT_EQ(info.channels, channels) << file;
    const DecodedImage img = read_image_file(dir / file, 0);
    EXPECT_EQ(img.channels, channels) << file;
  }
  expect_named_error(error_of([&] { read_image_file(dir / "empty.png", 0); }), dir / "empty.png", "empty file");
  expect_named_error(error_of([&] { read_image_info(dir / "empty.png"); }), dir / "empty.png", "empty file");
  expect_named_error(error_of([&] { read_image_file(dir / "missing.png", 0); }), dir / "missing.png",
                     "cannot open: No such file or directory");
  expect_named_error(error_of([&] { read_image_info(dir.path()); }), dir.path(), "is a directory");
}

TEST(ImageDecode, InfoFindsAJpegHeaderBehindLargeSegments) {
  // Two 64 KiB APP1 segments (EXIF-sized) before the frame header: past read_image_info's first read.
  const std::vector<uint8_t> px = smooth_image(10, 6, 3);
  const std::vector<uint8_t> jpg = jpeg_bytes(10, 6, TJPF_RGB, px.data(), TJSAMP_444);
  std::vector<uint8_t> big = {0xFF, 0xD8};
  for (int k = 0; k < 2; ++k) {
    big.insert(big.end(), {0xFF, 0xE1, 0xFF, 0xFF});
    big.insert(big.end(), 0xFFFF - 2, uint8_t('x'));
  }
  big.insert(big.end(), jpg.begin() + 2, jpg.end());
  TempDir dir;
  write_file(dir / "exif.jpg", big, false);
  const ImageInfo info = read_image_info(dir / "exif.jpg");
  EXPECT_EQ(info.width, 10);
  EXPECT_EQ(info.height, 6);
  EXPECT_EQ(read_image_file(dir / "exif.jpg", 0).pixels, decode(jpg, 0).pixels);
}

TEST(ImageDecode, ThreadsDecodeIndependently) {
  const std::vector<uint8_t> px = smooth_image(33, 21, 3);
  const std::vector<uint8_t> png = png_bytes(33, 21, PNG_FORMAT_RGB, px.data());
  const std::vector<uint8_t> jpg = jpeg_bytes(33, 21, TJPF_RGB, px.data(), TJSAMP_420);
  const std::vector<uint8_t> cut(jpg.begin(), jpg.end() - 20);
  const std::vector<uint8_t> want_jpg = decode(jpg, 0).pixels;
  ASSERT_EQ(decode_error(cut, "cut.jpg"), "cut.jpg: truncated JPEG");
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (decode(png, 0).pixels != px) ++failures[size_t(t)];
        if (decode(jpg, 0).pixels != want_jpg) ++failures[size_t(t)];
        const std::string msg = decode_error(cut, "cut" + std::to_string(t) + ".jpg");
        if (msg != "cut" + std::to_string(t) + ".jpg: truncated JPEG") ++failures[size_t(t)];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// ---------------------------------------------------------------- .npy

struct DtypeCase {
  const char* descr;
  NpyType type;
  size_t size;
};
const DtypeCase kDtypes[] = {{"|u1", NpyType::u8, 1},  {"|i1", NpyType::i8, 1},     {"<u2", NpyType::u16, 2},
                             {"<i2", NpyType::i16, 2}, {"<i4", NpyType::i32, 4},    {"<i8", NpyType::i64, 8},
                             {"<u4", NpyType::u32, 4}, {"<u8", NpyType::u64, 8},    {"<f4", NpyType::f32, 4},
                             {"<f8", NpyType::f64, 8}, {"|b1", NpyType::boolean, 1}};

std::string npy_error(const std::vector<uint8_t>& bytes, const std::string& name = "a.npy") {
  return error_of([&] { parse_npy(bytes.data(), bytes.size(), name); });
}

TEST(Npy, EveryDtypeAndShapeReadsBack) {
  const std::pair<std::string, std::vector<int64_t>> shapes[] = {{"()", {}},
                                                                 {"(0,)", {0}},
                                                                 {"(5,)", {5}},
                                                                 {"(2, 3)", {2, 3}},
                                                                 {"(2, 0, 3)", {2, 0, 3}},
                                                                 {"(1, 3, 2, 1)", {1, 3, 2, 1}}};
  for (const DtypeCase& d : kDtypes)
    for (const auto& [text, shape] : shapes)
      for (int major : {1, 2, 3}) {
        SCOPED_TRACE(::testing::Message() << d.descr << " " << text << " v" << major);
        int64_t numel = 1;
        for (int64_t s : shape) numel *= s;
        std::vector<uint8_t> payload = pattern(size_t(numel) * d.size, unsigned(d.size));
        if (d.type == NpyType::boolean)
          for (auto& v : payload) v &= 1;
        const std::vector<uint8_t> b = npy_bytes(d.descr, text, payload, false, major);
        const NpyArray a = parse_npy(b.data(), b.size(), "a.npy");
        EXPECT_EQ(a.type, d.type);
        EXPECT_EQ(npy_type_size(a.type), d.size);
        EXPECT_EQ(a.shape, shape);
        EXPECT_EQ(a.numel(), numel);
        EXPECT_EQ(a.data, payload);
      }
}

TEST(Npy, BigEndianIsSwappedAndBoolIsZeroOrOne) {
  const std::vector<uint8_t> be = {0x3F, 0x80, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00};  // 1.0f, -2.0f
  const std::vector<uint8_t> b = npy_bytes(">f4", "(2,)", be);
  const NpyArray a = parse_npy(b.data(), b.size(), "be.npy");
  ASSERT_EQ(a.data.size(), 8u);
  float v[2];
  std::memcpy(v, a.data.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.0f);
  const std::vector<uint8_t> bools = npy_bytes("|b1", "(3,)", {0, 1, 7});
  EXPECT_EQ(parse_npy(bools.data(), bools.size(), "b.npy").data, (std::vector<uint8_t>{0, 1, 1}));
}

TEST(Npy, FortranOrderIsTransposedToC) {
  // C-order a[i][j][k] = 100 i + 10 j + k, shape (2, 3, 4); Fortran order lists k slowest.
  std::vector<uint16_t> c_order, f_order;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) c_order.push_back(uint16_t(100 * i + 10 * j + k));
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) f_order.push_back(uint16_t(100 * i + 10 * j + k));
  std::vector<uint8_t> payload(f_order.size() * 2);
  std::memcpy(payload.data(), f_order.data(), payload.size());
  const std::vector<uint8_t> b = npy_bytes("<u2", "(2, 3, 4)", payload, true);
  const NpyArray a = parse_npy(b.data(), b.size(), "f.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3, 4}));
  std::vector<uint16_t> got(a.data.size() / 2);
  std::memcpy(got.data(), a.data.data(), a.data.size());
  EXPECT_EQ(got, c_order);
}

TEST(Npy, HeaderVariantsNumpyAccepts) {
  const std::vector<uint8_t> payload = pattern(12, 1);
  for (const std::string& dict :
       {std::string("{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}"),
        std::string("{\"shape\": (3L,), \"descr\": \"<i4\", \"fortran_order\": False}   \n"),
        std::string("{ 'fortran_order' : False , 'shape' : ( 3 , ) , 'descr' : '<i4' , }\n")}) {
    SCOPED_TRACE(dict);
    const std::vector<uint8_t> b = npy_with_header(dict, payload);
    const NpyArray a = parse_npy(b.data(), b.size(), "h.npy");
    EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(a.data, payload);
  }
}

TEST(Npy, BadFilesAreErrorsNamingTheFile) {
  const std::vector<uint8_t> good = npy_bytes("<f4", "(2, 3)", pattern(24, 2));
  expect_named_error(npy_error({}), "a.npy", "empty file");
  std::vector<uint8_t> magic = good;
  magic[1] = 'X';
  expect_named_error(npy_error(magic), "a.npy", "not a .npy file");
  std::vector<uint8_t> version = good;
  version[6] = 4;
  expect_named_error(npy_error(version), "a.npy", "version 4.0 is not read");
  // Truncated anywhere: in the magic, the header or the data.
  for (size_t cut = 1; cut < good.size(); ++cut) {
    SCOPED_TRACE(cut);
    expect_named_error(npy_error({good.begin(), good.begin() + std::ptrdiff_t(cut)}), "a.npy", "truncated");
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  expect_named_error(npy_error(longer), "a.npy", "1 bytes after the data");

  struct Bad {
    std::string dict, phrase;
  };
  const Bad bad[] = {
      {"{'descr': '<f4', 'fortran_order': False}", "no 'shape'"},
      {"{'descr': '<f4', 'shape': (6,)}", "no 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (6,)}", "no 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", "'descr' appears twice"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", "must be True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "is not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", "non-negative integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", "'shape' as a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", "text after the closing"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", "expected ',' or '}'"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (6,)}", "expected ':'"},
      {"{'descr': '<f4\\n', 'fortran_order': False, 'shape': (6,)}", "unexpected character"},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (6,)}", "pickled object arrays are not read"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", "structured dtypes"},
      {"{'descr': '<f2', 'fortran_order': False, 'shape': (12,)}", "float16"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", "complex"},
      {"{'descr': '<U1', 'fortran_order': False, 'shape': (6,)}", "string arrays"},
      {"{'descr': '=f4', 'fortran_order': False, 'shape': (6,)}", "native byte order"},
      {"{'descr': '|f4', 'fortran_order': False, 'shape': (6,)}", "only for 1-byte types"},
      {"{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}", "no byte order"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,)}", "4 bytes after the data"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (7,)}", "truncated"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904)}",
       "larger than the"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large"},
      {"{'descr': '<u1', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0, 1)}", "too large"},
      {"{'descr': '<u1', 'fortran_order': False, 'shape': (4294967296, 0, 1)}", "24 bytes after"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.dict);
    expect_named_error(npy_error(npy_with_header(b.dict, pattern(24, 2))), "a.npy", b.phrase);
  }
  // A header length pointing past the end of the file.
  std::vector<uint8_t> past = good;
  past[8] = 0xFF, past[9] = 0xFF;
  expect_named_error(npy_error(past), "a.npy", "truncated .npy header");
  std::vector<uint8_t> huge = npy_bytes("<f4", "(6,)", pattern(24, 2), false, 2);
  huge[10] = 0xFF, huge[11] = 0xFF;  // a 4 GiB header
  expect_named_error(npy_error(huge), "a.npy", "bad .npy header: ");
}

TEST(Npy, ReadFile) {
  TempDir dir;
  write_file(dir / "a.npy", npy_bytes("<i8", "(2, 2)", pattern(32, 5)), false);
  const NpyArray a = read_npy_file(dir / "a.npy");
  EXPECT_EQ(a.type, NpyType::i64);
  EXPECT_EQ(a.data, pattern(32, 5));
  expect_named_error(error_of([&] { read_npy_file(dir / "missing.npy"); }), dir / "missing.npy", "cannot open");
}

// ---------------------------------------------------------------- .npz

TEST(Npz, StoredAndDeflatedMembersReadInArchiveOrder) {
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> members = {
      {"x.npy", npy_bytes("<f4", "(2, 3)", pattern(24, 1))},
      {"arr_0.npy", npy_bytes("|u1", "(1000,)", std::vector<uint8_t>(1000, 9))},
      {"labels.npy", npy_bytes("<i8", "()", pattern(8, 3))},
      {"dir/y.npy", npy_bytes("|b1", "(0,)", {})}};
  for (bool deflate : {false, true}) {
    SCOPED_TRACE(deflate);
    TempDir dir;
    write_npz(dir / "a.npz", members, deflate);
    const auto got = read_npz_file(dir / "a.npz");
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].first, "x");
    EXPECT_EQ(got[1].first, "arr_0");
    EXPECT_EQ(got[2].first, "labels");
    EXPECT_EQ(got[3].first, "dir/y");
    EXPECT_EQ(got[0].second.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(got[0].second.data, pattern(24, 1));
    EXPECT_EQ(got[1].second.data, std::vector<uint8_t>(1000, 9));
    EXPECT_TRUE(got[2].second.shape.empty());
    EXPECT_EQ(got[3].second.numel(), 0);
  }
  TempDir dir;
  std::vector<uint8_t> empty_zip = {'P', 'K', 5, 6};  // just the end-of-central-directory record
  empty_zip.resize(22, 0);
  write_file(dir / "empty.npz", empty_zip, false);
  EXPECT_TRUE(read_npz_file(dir / "empty.npz").empty());
}

// Offset of the first local header's / central directory entry's uncompressed-size field.
size_t find_sig(const std::vector<uint8_t>& b, uint32_t sig) {
  for (size_t i = 0; i + 4 <= b.size(); ++i)
    if ((uint32_t(b[i]) | uint32_t(b[i + 1]) << 8 | uint32_t(b[i + 2]) << 16 | uint32_t(b[i + 3]) << 24) == sig)
      return i;
  return std::string::npos;
}

TEST(Npz, DamagedArchivesAreErrors) {
  TempDir dir;
  const std::string p = dir / "a.npz";
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> one = {
      {"x.npy", npy_bytes("<f4", "(64,)", std::vector<uint8_t>(256, 0))}};
  write_npz(p, one, true);
  const std::vector<uint8_t> good = read_bytes(p);

  // Deflated data damaged: the CRC (or inflate) catches it, and the message names the member.
  std::vector<uint8_t> flipped = good;
  const size_t local = find_sig(good, 0x04034b50);
  const size_t data_at =
      local + 30 + (good[local + 26] | good[local + 27] << 8) + (good[local + 28] | good[local + 29] << 8);
  flipped[data_at + 3] ^= 0x55;
  write_file(p, flipped, false);
  expect_named_error(error_of([&] { read_npz_file(p); }), p + ": member 'x.npy'");

  // The member's declared size is smaller than what it inflates to (both headers agree on the lie).
  std::vector<uint8_t> lie = good;
  for (size_t at : {find_sig(lie, 0x04034b50) + 22, find_sig(lie, 0x02014b50) + 24}) lie[at] = 100, lie[at + 1] = 0;
  write_file(p, lie, false);
  expect_named_error(error_of([&] { read_npz_file(p); }), p);

  for (size_t cut : {size_t(10), good.size() / 2, good.size() - 10}) {
    write_file(p, {good.begin(), good.begin() + std::ptrdiff_t(cut)}, false);
    expect_named_error(error_of([&] { read_npz_file(p); }), p);
  }
  write_file(p, {}, false);
  expect_named_error(error_of([&] { read_npz_file(p); }), p, "empty file");
  write_file(p, npy_bytes("<f4", "(1,)", {0, 0, 0, 0}), false);
  expect_named_error(error_of([&] { read_npz_file(p); }), p, "not an .npz file");
  expect_named_error(error_of([&] { read_npz_file(dir / "missing.npz"); }), dir / "missing.npz", "cannot open");

  write_npz(p, {{"notes.txt", {'h', 'i'}}}, false);
  expect_named_error(error_of([&] { read_npz_file(p); }), p + ": member 'notes.txt'", "not a .npy array");
  write_npz(p, {{"bad.npy", npy_bytes("|O", "(1,)", {0})}}, true);
  expect_named_error(error_of([&] { read_npz_file(p); }), p + ": member 'bad.npy'", "pickled object arrays");
}

// numpy's own files, when Debian's python3 with numpy is there: np.save (incl. Fortran order, big-endian,
// 0-d), np.savez and np.savez_compressed. Each array's C-order little-endian bytes are written beside it.
TEST(Npz, ReadsWhatNumpyWrites) {
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) GTEST_SKIP() << "no python3 numpy";
  TempDir dir;
  const std::string script = dir / "make.py";
  std::ofstream(script) << R"(import numpy as np, sys
d = sys.argv[1]
arrays = {
  'f32': np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4),
  'f64f': np.asfortranarray(np.arange(30, dtype=np.float64).reshape(5, 6) / 7),
  'i16be': np.arange(-5, 5, dtype='>i2'),
  'u8': np.arange(256, dtype=np.uint8).reshape(16, 16),
  'b': np.array([True, False, True]),
  'i64s': np.array(-123456789012, dtype=np.int64),
  'u64e': np.zeros((0, 3), dtype=np.uint64),
}
for k, a in arrays.items():
  np.save(f'{d}/{k}.npy', a)
  open(f'{d}/{k}.bin', 'wb').write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes())
np.savez(f'{d}/s.npz', **arrays)
np.savez_compressed(f'{d}/c.npz', **arrays)
np.savez(f'{d}/pos.npz', arrays['u8'], arrays['b'])
)";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + dir.path()).c_str()), 0);
  const std::vector<std::string> keys = {"f32", "f64f", "i16be", "u8", "b", "i64s", "u64e"};
  for (const std::string& k : keys) {
    const NpyArray a = read_npy_file(dir / (k + ".npy"));
    EXPECT_EQ(a.data, read_bytes(dir / (k + ".bin"))) << k;
  }
  for (const char* npz : {"s.npz", "c.npz"}) {
    const auto got = read_npz_file(dir / npz);
    ASSERT_EQ(got.size(), keys.size()) << npz;
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(got[i].first, keys[i]) << npz;
      EXPECT_EQ(got[i].second.data, read_bytes(dir / (keys[i] + ".bin"))) << npz << " " << keys[i];
    }
  }
  const auto pos = read_npz_file(dir / "pos.npz");
  ASSERT_EQ(pos.size(), 2u);
  EXPECT_EQ(pos[0].first, "arr_0");
  EXPECT_EQ(pos[1].first, "arr_1");
  EXPECT_EQ(read_npy_file(dir / "f64f.npy").shape, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(read_npy_file(dir / "i64s.npy").shape, std::vector<int64_t>{});
  EXPECT_EQ(read_npy_file(dir / "u64e.npy").type, NpyType::u64);
}

// ---------------------------------------------------------------- CIFAR

std::vector<uint8_t> cifar_records(int n, int label_bytes, unsigned salt, int num_classes) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    if (label_bytes == 2) out.push_back(uint8_t((i + salt) % 20));
    out.push_back(uint8_t((i * 7 + salt) % unsigned(num_classes)));
    const std::vector<uint8_t> px = pattern(3072, salt * 100 + unsigned(i));
    out.insert(out.end(), px.begin(), px.end());
  }
  return out;
}

TEST(Cifar, BatchesConcatenateInOrder) {
  for (auto [kind, label_bytes, classes] : {std::tuple{CifarKind::cifar10, 1, 10}, {CifarKind::cifar100, 2, 100}}) {
    SCOPED_TRACE(classes);
    TempDir dir;
    write_file(dir / "b1.bin", cifar_records(3, label_bytes, 1, classes), false);
    write_file(dir / "b2.bin", cifar_records(2, label_bytes, 2, classes), false);
    const ImageSet s = read_cifar_batches({dir / "b1.bin", dir / "b2.bin"}, kind);
    ASSERT_EQ(s.images.shape(), (Shape{5, 3, 32, 32}));
    EXPECT_EQ(s.images.dtype(), DType::u8);
    EXPECT_EQ(s.num_classes, classes);
    std::vector<int32_t> want_labels;
    for (auto [file_salt, n] : {std::pair{1u, 3}, {2u, 2}})
      for (int i = 0; i < n; ++i) want_labels.push_back(int32_t((unsigned(i) * 7 + file_salt) % unsigned(classes)));
    EXPECT_EQ(s.labels, want_labels);
    const uint8_t* px = s.images.data<uint8_t>();
    EXPECT_EQ(std::vector<uint8_t>(px, px + 3072), pattern(3072, 100));
    EXPECT_EQ(std::vector<uint8_t>(px + 4 * 3072, px + 5 * 3072), pattern(3072, 201));
  }
}

TEST(Cifar, BadFilesAreErrors) {
  TempDir dir;
  std::vector<uint8_t> rec = cifar_records(4, 1, 0, 10);
  write_file(dir / "short.bin", {rec.begin(), rec.end() - 1}, false);
  expect_named_error(error_of([&] { read_cifar_batches({dir / "short.bin"}, CifarKind::cifar10); }), dir / "short.bin",
                     "size 12291 bytes is not a whole number of 3073-byte CIFAR-10 records");
  // A CIFAR-10 file read as CIFAR-100.
  write_file(dir / "c10.bin", rec, false);
  expect_named_error(error_of([&] { read_cifar_batches({dir / "c10.bin"}, CifarKind::cifar100); }), dir / "c10.bin",
                     "3074-byte CIFAR-100 records");
  rec[2 * 3073] = 10;  // record 2
  write_file(dir / "label.bin", rec, false);
  expect_named_error(error_of([&] {
                       read_cifar_batches({dir / "c10.bin", dir / "label.bin"}, CifarKind::cifar10);
                     }),
                     dir / "label.bin", "record 2: label 10 is out of range");
  std::vector<uint8_t> r100 = cifar_records(2, 2, 0, 100);
  r100[3074 + 1] = 100;
  write_file(dir / "fine.bin", r100, false);
  expect_named_error(error_of([&] { read_cifar_batches({dir / "fine.bin"}, CifarKind::cifar100); }), dir / "fine.bin",
                     "record 1: label 100 is out of range");
  write_file(dir / "empty.bin", {}, false);
  expect_named_error(error_of([&] { read_cifar_batches({dir / "empty.bin"}, CifarKind::cifar10); }), dir / "empty.bin",
                     "empty file");
  expect_named_error(error_of([&] { read_cifar_batches({dir / "none.bin"}, CifarKind::cifar10); }), dir / "none.bin",
                     "cannot open");
  EXPECT_NE(error_of([&] { read_cifar_batches({}, CifarKind::cifar10); }).find("no CIFAR-10 batch files"),
            std::string::npos);
}

TEST(Cifar, ClassNames) {
  TempDir dir;
  std::ofstream(dir / "batches.meta.txt") << "airplane\nautomobile \r\n  bird\n\n\n";
  EXPECT_EQ(read_cifar_class_names(dir / "batches.meta.txt"),
            (std::vector<std::string>{"airplane", "automobile", "bird"}));
  EXPECT_TRUE(read_cifar_class_names(dir / "missing.txt").empty());
  std::ofstream(dir / "gap.txt") << "a\n\nb\n";
  expect_named_error(error_of([&] { read_cifar_class_names(dir / "gap.txt"); }), dir / "gap.txt", "line 2 is blank");
}

}  // namespace
}  // namespace nimble::data
