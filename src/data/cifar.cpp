// CIFAR binary batches: fixed-size records, so a file is checked by its size before anything else, and
// the pixel planes are already in (C, H, W) order: each record is one memcpy.
#include "data/cifar.hpp"

#include <fmt/format.h>
#include <cstring>
#include <filesystem>

#include "data/file_bytes.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(fmt::format("{}: {}", path, problem));
}

// Fifty times the whole CIFAR-10 training set: a bound on memory, not on any real data set.
constexpr uint64_t kMaxCifarBytes = uint64_t(8) << 30;
constexpr uint64_t kMaxClassNamesBytes = 1 << 20;

struct Kind {
  const char* name;
  int64_t label_bytes, num_classes;
};

Kind kind_of(CifarKind kind) {
  return kind == CifarKind::cifar10 ? Kind{"CIFAR-10", 1, 10} : Kind{"CIFAR-100", 2, 100};
}

}  // namespace

ImageSet read_cifar_batches(const std::vector<std::string>& files, CifarKind kind) {
  const Kind k = kind_of(kind);
  const int64_t record = k.label_bytes + kCifarImageBytes;
  if (files.empty()) throw Error(fmt::format("read_cifar_batches: no {} batch files given", k.name));

  std::vector<std::vector<uint8_t>> contents;
  contents.reserve(files.size());
  uint64_t total = 0;
  for (const std::string& path : files) {
    std::vector<uint8_t> bytes = read_file_bytes(path, kMaxCifarBytes, "a CIFAR batch");
    if (bytes.empty()) fail(path, "empty file");
    if (bytes.size() % uint64_t(record) != 0)
      fail(path, fmt::format("size {} bytes is not a whole number of {}-byte {} records (is it a {} batch?)",
                             bytes.size(), record, k.name, k.name));
    total += bytes.size();
    if (total > kMaxCifarBytes)
      fail(path, fmt::format("the batches add up to more than {}", bytes_text(kMaxCifarBytes)));
    contents.push_back(std::move(bytes));
  }

  const int64_t n = int64_t(total / uint64_t(record));
  ImageSet set;
  set.images = Tensor(Shape{n, 3, 32, 32}, DType::u8);
  set.labels.resize(size_t(n));
  set.num_classes = k.num_classes;
  uint8_t* dst = set.images.data<uint8_t>();
  int64_t out = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::vector<uint8_t>& bytes = contents[f];
    const int64_t records = int64_t(bytes.size()) / record;
    for (int64_t r = 0; r < records; ++r, ++out) {
      const uint8_t* rec = bytes.data() + r * record;
      if (kind == CifarKind::cifar100 && rec[0] >= 20)
        fail(files[f],
             fmt::format("record {}: coarse label {} is out of range (CIFAR-100 has 20 coarse classes)", r, rec[0]));
      const int label = rec[k.label_bytes - 1];
      if (label >= k.num_classes)
        fail(files[f],
             fmt::format("record {}: label {} is out of range ({} has {} classes)", r, label, k.name, k.num_classes));
      set.labels[size_t(out)] = label;
      std::memcpy(dst + out * kCifarImageBytes, rec + k.label_bytes, size_t(kCifarImageBytes));
    }
  }
  return set;
}

std::vector<std::string> read_cifar_class_names(const std::string& meta_path) {
  std::error_code ec;
  if (!std::filesystem::exists(meta_path, ec)) return {};
  const std::vector<uint8_t> bytes = read_file_bytes(meta_path, kMaxClassNamesBytes, "a class-name list");
  std::vector<std::string> names;
  size_t blank_line = 0;  // the first blank line, 1-based; an error only if a name follows it
  size_t line = 0;
  for (size_t start = 0; start < bytes.size();) {
    size_t end = start;
    while (end < bytes.size() && bytes[end] != '\n') ++end;
    std::string text(bytes.begin() + std::ptrdiff_t(start), bytes.begin() + std::ptrdiff_t(end));
    start = end + 1;
    ++line;
    const size_t first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) {
      if (!blank_line) blank_line = line;
      continue;
    }
    if (blank_line)
      fail(meta_path, fmt::format("line {} is blank but class names follow it (one name per line)", blank_line));
    const size_t last = text.find_last_not_of(" \t\r");
    names.push_back(text.substr(first, last - first + 1));
  }
  return names;
}

}  // namespace nimble::data
