#include "io/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "io/graph_json.hpp"
#include "nimble/dist/communicator.hpp"

namespace nimble::io {

using detail::fail;

namespace {
std::string errno_text() { return std::strerror(errno); }
constexpr size_t kWriteChunk = size_t(1) << 24;

// Temp files of this target that a killed writer left (".NAME.tmp-PID-N" whose PID is gone):
// removed once a write succeeds, so that a SIGKILL leaves nothing behind for long.
void remove_leftovers(const std::string& dir, const std::string& base) {
  const std::string prefix = "." + base.substr(0, 64) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    const pid_t pid = pid_t(std::atol(name.c_str() + prefix.size()));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH)
      (void)::unlinkat(::dirfd(d), name.c_str(), 0);
  }
  ::closedir(d);
}
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : target_(path) {
  const size_t slash = path.find_last_of('/');
  dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) fail("the path names a directory, not a file");
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) fail("directory '" + detail::one_line(dir_) + "' does not exist");
  if (!S_ISDIR(st.st_mode)) fail("'" + detail::one_line(dir_) + "' is not a directory");
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) fail("the path is a directory");
  if (!dist::world().is_root()) return;  // checked like rank 0, written by rank 0 only

  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    // A short prefix of the name keeps the temp name within NAME_MAX.
    temp_ = dir_ + "/." + base.substr(0, 64) + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) {
      const std::string why = errno_text();
      temp_.clear();
      fail("cannot create a temp file in '" + detail::one_line(dir_) + "': " + why);
    }
  }
  if (fd_ < 0) {
    temp_.clear();
    fail("cannot create a temp file in '" + detail::one_line(dir_) + "': too many leftovers named ." +
         detail::one_line(base.substr(0, 64)) + ".tmp-*");
  }
  if (exists && S_ISREG(st.st_mode)) (void)::fchmod(fd_, st.st_mode & 07777);  // keep the old file's permissions
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (temp_.empty()) return;  // not rank 0
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min(n, kWriteChunk));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write failed: " + (w < 0 ? errno_text() : std::string("no progress")));
    p += w;
    n -= size_t(w);
  }
}

void AtomicFile::commit() {
  dist::Communicator& ranks = dist::world();
  if (temp_.empty()) {  // not rank 0: wait until rank 0's file is in place, for ranks that read it back
    ranks.barrier();
    return;
  }
  if (::fsync(fd_) != 0) fail("fsync failed: " + errno_text());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed: " + errno_text());
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("rename failed: " + errno_text());
  temp_.clear();
  const size_t slash = target_.find_last_of('/');
  remove_leftovers(dir_, slash == std::string::npos ? target_ : target_.substr(slash + 1));
  // Make the rename itself durable; the new file is already in place, so failure here is not an error.
  const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  ranks.barrier();
}

void write_file_atomically(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

}  // namespace nimble::io
