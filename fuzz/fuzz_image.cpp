// Feeds JPEG and PNG files to data::decode_image (the format is sniffed from the bytes), asking for the
// channels as stored, grey or RGB depending on the input's length so all three conversions are reached.
// A PNG with a wrong chunk CRC is decoded as given and again with its CRCs recomputed, so that
// mutations reach libpng's decoding behind the CRC check.
#include <algorithm>
#include <vector>

#include "data/image_decode.hpp"
#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"
#include "resign.hpp"

namespace {

void decode(const uint8_t* data, size_t size, int channels) {
  try {
    const nimble::data::DecodedImage img = nimble::data::decode_image(data, size, channels, "fuzz-image");
    FUZZ_CHECK(img.height > 0 && img.width > 0 && img.height <= nimble::data::kMaxImageSide &&
               img.width <= nimble::data::kMaxImageSide);
    FUZZ_CHECK(channels ? img.channels == channels : (img.channels == 1 || img.channels == 3));
    FUZZ_CHECK(img.pixels.size() == size_t(img.height * img.width * img.channels));
  } catch (const nimble::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int kChannels[] = {0, 1, 3};
  const int channels = kChannels[size % 3];
  decode(data, size, channels);
  if (size > 8 && data[0] == 0x89 && data[1] == 'P') {
    std::vector<uint8_t> resigned(data, data + size);
    nimble::fuzz::resign_png_chunks(resigned);
    if (!std::equal(resigned.begin(), resigned.end(), data)) decode(resigned.data(), size, channels);
  }
  return 0;
}
