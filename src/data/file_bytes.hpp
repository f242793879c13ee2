#pragma once
// Whole-file reads for the data readers: the size is checked against a cap before anything is allocated.
#include <cstdint>
#include <string>
#include <vector>

namespace nimble::data {

// The bytes of the regular file at `path`. Throws nimble::Error with one line "<path>: <problem>" when the
// file cannot be opened or read, is not a regular file, or holds more than `max_bytes` bytes (`what` names
// the content in that message, e.g. "an image"). An empty file reads as an empty vector.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes, const char* what);

// The same for a prefix: at most `max_bytes` from the start of the file, never an error for a larger file.
std::vector<uint8_t> read_file_prefix(const std::string& path, uint64_t max_bytes);

// "1.5 GiB"-style sizes for messages.
std::string bytes_text(uint64_t bytes);

}  // namespace nimble::data
