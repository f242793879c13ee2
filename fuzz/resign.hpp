#pragma once
// Checksums recomputed over fuzzed bytes, so mutations also reach the code behind a CRC check (the
// targets read every input as given, and again re-signed when that changes it).
#include <zlib.h>

#include <cstdint>
#include <vector>

namespace nimble::fuzz {

// A `.nimble` file's header CRC (bytes 20..24, over the header whose length is at bytes 12..20), when the
// header lies inside the buffer.
inline void resign_checkpoint_header(std::vector<uint8_t>& b) {
  if (b.size() < 24) return;
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= uint64_t(b[12 + i]) << (8 * i);
  if (len > b.size() - 24) return;
  const uint32_t crc = uint32_t(crc32_z(crc32_z(0, nullptr, 0), b.data() + 24, size_t(len)));
  for (int i = 0; i < 4; ++i) b[20 + size_t(i)] = uint8_t(crc >> (8 * i));
}

// Every chunk CRC of a PNG, as far as the chunks lie inside the buffer.
inline void resign_png_chunks(std::vector<uint8_t>& b) {
  for (size_t p = 8; p + 12 <= b.size();) {
    const uint64_t len = uint64_t(b[p]) << 24 | uint64_t(b[p + 1]) << 16 | uint64_t(b[p + 2]) << 8 | b[p + 3];
    if (len > b.size() - p - 12) return;
    const uint32_t crc = uint32_t(crc32_z(crc32_z(0, nullptr, 0), b.data() + p + 4, size_t(4 + len)));
    for (int i = 0; i < 4; ++i) b[p + 8 + size_t(len) + size_t(i)] = uint8_t(crc >> (24 - 8 * i));
    p += 12 + size_t(len);
  }
}

}  // namespace nimble::fuzz
