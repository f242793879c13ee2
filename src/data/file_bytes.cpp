// Whole-file reads with POSIX calls: fstat gives the size before the buffer is allocated, and errno
// gives a message a person can act on.
#include "data/file_bytes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(fmt::format("{}: {}", path, problem));
}

// An open descriptor, closed on scope exit.
class File {
 public:
  explicit File(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  }
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // The size of a regular file; directories and devices are refused (reading a FIFO could block forever).
  uint64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(path_, fmt::format("cannot stat: {}", std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) fail(path_, "is a directory, not a file");
    if (!S_ISREG(st.st_mode)) fail(path_, "is not a regular file");
    return uint64_t(st.st_size);
  }

  // Reads up to n bytes; fewer only at end of file.
  uint64_t read(uint8_t* dst, uint64_t n) const {
    uint64_t done = 0;
    while (done < n) {
      const ssize_t r = ::read(fd_, dst + done, std::min<uint64_t>(n - done, uint64_t(1) << 30));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(path_, fmt::format("read error: {}", std::strerror(errno)));
      if (r == 0) break;
      done += uint64_t(r);
    }
    return done;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

std::string bytes_text(uint64_t bytes) {
  constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  double v = double(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) v /= 1024, ++unit;
  return fmt::format("{:.3g} {}", v, kUnits[unit]);
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes, const char* what) {
  File f(path);
  const uint64_t size = f.size();
  if (size > max_bytes)
    fail(path, fmt::format("file is {}; the limit for {} is {}", bytes_text(size), what, bytes_text(max_bytes)));
  std::vector<uint8_t> bytes(size);
  const uint64_t got = f.read(bytes.data(), size);
  // A file that shrank under us would otherwise read as zero-padded data.
  if (got != size) fail(path, fmt::format("file shrank while being read ({} of {} bytes read)", got, size));
  return bytes;
}

std::vector<uint8_t> read_file_prefix(const std::string& path, uint64_t max_bytes) {
  File f(path);
  const uint64_t size = f.size();
  std::vector<uint8_t> bytes(std::min(size, max_bytes));
  bytes.resize(f.read(bytes.data(), bytes.size()));
  return bytes;
}

}  // namespace nimble::data
