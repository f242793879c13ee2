#include "io/content_hash.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "nimble/core/error.hpp"

namespace nimble::io {

namespace fs = std::filesystem;

uint64_t fnv1a(const std::string& bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

uint64_t hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NIMBLE_CHECK(in, "cannot read " + path);
  uint64_t h = fnv1a("");
  std::string chunk(1 << 20, '\0');
  while (in) {
    in.read(chunk.data(), std::streamsize(chunk.size()));
    h = fnv1a(chunk.substr(0, size_t(in.gcount())), h);
  }
  return h;
}

namespace {

std::string file_stamp(const fs::path& p) {
  struct stat st {};
  if (stat(p.c_str(), &st) != 0) return "?";
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

uint64_t hash_data_source(const std::string& path) {
  std::error_code ec;
  const fs::file_status s = fs::status(path, ec);
  NIMBLE_CHECK(!ec && fs::exists(s), "no such file or directory: " + path);
  if (!fs::is_directory(s)) return hash_file(path);
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec))
      lines.push_back(fs::relative(it->path(), path).string() + " " + file_stamp(it->path()));
  NIMBLE_CHECK(!ec, "cannot list " + path + ": " + ec.message());
  std::sort(lines.begin(), lines.end());
  uint64_t h = fnv1a("");
  for (const std::string& l : lines) h = fnv1a(l + "\n", h);
  return h;
}

std::string library_identity() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&library_identity), &info) == 0 || !info.dli_fname) return "unknown";
  return std::string(info.dli_fname) + " " + file_stamp(info.dli_fname);
}

}  // namespace nimble::io
