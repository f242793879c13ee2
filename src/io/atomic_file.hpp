#pragma once
// A file written atomically: everything goes to a temporary file beside the target, which
// commit() fsyncs and renames over it (then fsyncs the directory). Until then, and on any failure,
// the target is untouched and the temporary file is removed. Used by checkpoints and ONNX export.
// Under mpirun only rank 0 writes: on the other ranks the path is checked and nothing is written,
// and commit() returns on every rank once rank 0's file is in place (a folder every rank reads
// must then be shared between machines).
#include <cstddef>
#include <string>

namespace nimble::io {

class AtomicFile {
 public:
  // Checks that the directory exists and the target is not a directory, then creates the
  // temporary file (with the old file's permissions when it exists). Throws Error.
  explicit AtomicFile(const std::string& path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, size_t n);
  void commit();

 private:
  std::string target_, dir_, temp_;
  int fd_ = -1;
};

// The whole of `text` as the file at `path`, atomically.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace nimble::io
