#pragma once
// NumPy .npy and .npz files (np.save, np.savez, np.savez_compressed). The files are untrusted: the header
// is parsed strictly, every size is overflow-checked and capped, and the payload must be exactly the bytes
// the header describes. Every problem throws nimble::Error with one line naming the file (and the member
// of an .npz).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nimble::data {

// An array's payload, a member of an .npz, or the sum of an .npz's members may not be larger.
inline constexpr uint64_t kMaxNpyBytes = uint64_t(16) << 30;

enum class NpyType { u8, i8, u16, i16, i32, i64, u32, u64, f32, f64, boolean };

size_t npy_type_size(NpyType type);
const char* npy_type_name(NpyType type);  // "u8", ..., "f64", "bool"

struct NpyArray {
  NpyType type = NpyType::u8;
  std::vector<int64_t> shape;  // empty for a 0-d array (one element)
  std::vector<uint8_t> data;   // C order, little-endian; bool elements are 0 or 1
  int64_t numel() const;
};

// Format versions 1.0, 2.0 and 3.0. Byte order '<' (or '|' for 1-byte types); big-endian ('>') arrays are
// byte-swapped. fortran_order=True arrays are transposed into C order. Object (pickled), string,
// structured, complex, float16 and datetime dtypes are refused.
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name);
NpyArray read_npy_file(const std::string& path);

// The members of an .npz (a zip archive of .npy files, stored or deflated), in archive order, each keyed
// by its name without ".npy" (as np.load's NpzFile does). A member whose data runs past its declared
// size is refused (read at most the declared size plus one byte), as is a duplicate key.
std::vector<std::pair<std::string, NpyArray>> read_npz_file(const std::string& path);

}  // namespace nimble::data
