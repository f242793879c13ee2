// IDX reader (the MNIST file format: big-endian magic 0x0000TTRR, RR dims as big-endian u32, then
// the elements). Files are untrusted input: every size is checked against a cap before any
// allocation, and the file must hold exactly the bytes its header claims.
#include <zlib.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "nimble/core/error.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {

namespace {

namespace fs = std::filesystem;

// No real data set needs more; keeps a hostile header from allocating the machine away.
constexpr uint64_t kMaxPayloadBytes = uint64_t(1) << 31;

constexpr uint8_t kTypeU8 = 0x08, kTypeS8 = 0x09, kTypeS16 = 0x0B, kTypeS32 = 0x0C, kTypeF32 = 0x0D, kTypeF64 = 0x0E;

const char* type_name(uint8_t t) {
  switch (t) {
    case kTypeU8:
      return "u8";
    case kTypeS8:
      return "s8";
    case kTypeS16:
      return "s16";
    case kTypeS32:
      return "s32";
    case kTypeF32:
      return "f32";
    case kTypeF64:
      return "f64";
    default:
      return "unknown";
  }
}

int type_size(uint8_t t) {
  switch (t) {
    case kTypeU8:
    case kTypeS8:
      return 1;
    case kTypeS16:
      return 2;
    case kTypeS32:
    case kTypeF32:
      return 4;
    case kTypeF64:
      return 8;
    default:
      return 0;
  }
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(fmt::format("data: {}: {}", path, problem));
}

// A gzip or raw file (gzread passes non-gzip files through unchanged), closed on scope exit.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    if (!f_) fail(path, fmt::format("cannot open: {}", errno ? std::strerror(errno) : "out of memory"));
    gzbuffer(f_, 1 << 17);
  }
  ~Reader() { gzclose(f_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Reads up to n bytes; returns how many were read (fewer only at end of data).
  // Corrupt compressed data throws; a gzip stream cut short reads as a short count.
  uint64_t read(void* dst, uint64_t n) {
    auto* p = static_cast<uint8_t*>(dst);
    uint64_t done = 0;
    while (done < n) {
      unsigned chunk = unsigned(std::min<uint64_t>(n - done, 1u << 30));  // gzread takes an unsigned < INT_MAX
      int r = gzread(f_, p + done, chunk);
      if (r < 0) check_error();
      if (r <= 0) break;
      done += uint64_t(r);
    }
    if (done < n) check_error();
    return done;
  }

  // Counts the bytes left (up to `cap`): anything after the payload is an error.
  uint64_t count_rest(uint64_t cap) {
    uint8_t buf[4096];
    uint64_t total = 0;
    while (total < cap) {
      uint64_t got = read(buf, sizeof buf);
      total += got;
      if (got < sizeof buf) break;
    }
    return total;
  }

  // A plain (not gzip) file: its size on disk is the data size.
  bool direct() { return gzdirect(f_) != 0; }

  // Appended to "truncated"/"empty" messages so a cut-off download is recognisable as such.
  std::string note() const { return cut_short_ ? " (the gzip stream is cut short)" : ""; }

 private:
  void check_error() {
    int errnum = 0;
    const char* msg = gzerror(f_, &errnum);
    // Z_BUF_ERROR is zlib's "unexpected end of file": a truncated gzip stream, reported by the caller.
    if (errnum == Z_BUF_ERROR) cut_short_ = true;
    if (errnum == Z_OK || errnum == Z_BUF_ERROR) return;
    if (errnum == Z_ERRNO) fail(path_, fmt::format("read error: {}", std::strerror(errno)));
    fail(path_, fmt::format("corrupt gzip data: {}", msg ? msg : "unknown zlib error"));
  }

  std::string path_;
  gzFile f_ = nullptr;
  bool cut_short_ = false;
};

struct Header {
  uint8_t type = 0;
  std::vector<int64_t> dims;
};

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

// Reads and validates the magic and dims; `ranks`/`types` are the accepted values, `what` names
// the expected content for the message.
Header read_header(Reader& in, const std::string& path, std::initializer_list<int> ranks,
                   std::initializer_list<uint8_t> types, const char* what) {
  uint8_t magic[4];
  uint64_t got = in.read(magic, 4);
  if (got == 0) fail(path, "file is empty" + in.note());
  if (got < 4) fail(path, fmt::format("truncated header: file has {} bytes, the IDX magic needs 4{}", got, in.note()));
  const uint32_t m = be32(magic);
  Header h;
  h.type = magic[2];
  const int rank = magic[3];
  if (magic[0] != 0 || magic[1] != 0 || type_size(h.type) == 0)
    fail(path, fmt::format("bad magic 0x{:08x}: not an IDX file (expected {})", m, what));
  if (std::find(types.begin(), types.end(), h.type) == types.end() ||
      std::find(ranks.begin(), ranks.end(), rank) == ranks.end())
    fail(path,
         fmt::format("bad magic 0x{:08x} (element type {}, rank {}): expected {}", m, type_name(h.type), rank, what));
  uint8_t raw[16];
  got = in.read(raw, 4u * unsigned(rank));
  if (got < 4u * unsigned(rank))
    fail(path, fmt::format("truncated header: rank {} needs {} bytes of dims, file has {}{}", rank, 4 * rank, got,
                           in.note()));
  for (int i = 0; i < rank; ++i) h.dims.push_back(int64_t(be32(raw + 4 * i)));
  for (int i = 0; i < rank; ++i)
    if (h.dims[i] == 0) fail(path, fmt::format("header dims {} contain a zero", dims_str(h.dims)));
  // Each dim is < 2^32 and the running product is kept <= 2^31, so no step can overflow 64 bits.
  uint64_t bytes = uint64_t(type_size(h.type));
  for (int64_t d : h.dims) {
    bytes *= uint64_t(d);
    if (bytes > kMaxPayloadBytes)
      fail(path, fmt::format("header dims {} describe more than {} bytes (the IDX size limit)", dims_str(h.dims),
                             kMaxPayloadBytes));
  }
  return h;
}

void expect_full(const Reader& in, const std::string& path, uint64_t want, uint64_t got, const char* unit) {
  if (got < want)
    fail(path, fmt::format("truncated: header says {} bytes of {}, file has {}{}", want, unit, got, in.note()));
}

void expect_no_more(const std::string& path, uint64_t want, uint64_t extra, const char* unit) {
  if (extra)
    fail(path, fmt::format("trailing bytes: header says {} bytes of {}, file has {}{} more", want, unit,
                           extra >= (1 << 20) ? "at least " : "", extra));
}

// Reads exactly `want` payload bytes and checks nothing follows. The buffer grows only as data
// arrives, so a header that lies about its size cannot make us commit memory the file does not back.
std::vector<uint8_t> read_payload(Reader& in, const std::string& path, uint64_t header_bytes, uint64_t want,
                                  const char* unit) {
  if (in.direct()) {
    // A raw file's size is known up front: fail fast, before reading anything.
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (!ec && size >= header_bytes) {
      expect_full(in, path, want, size - header_bytes, unit);
      expect_no_more(path, want, size - header_bytes - want, unit);
    }
  }
  constexpr uint64_t kChunk = uint64_t(16) << 20;
  std::vector<uint8_t> buf;
  while (buf.size() < want) {
    const uint64_t have = buf.size(), n = std::min(kChunk, want - have);
    buf.resize(size_t(have + n));
    const uint64_t got = in.read(buf.data() + have, n);
    if (got < n) expect_full(in, path, want, have + got, unit);
  }
  expect_no_more(path, want, in.count_rest(1 << 20), unit);
  return buf;
}

Tensor read_images(const std::string& path) {
  Reader in(path);
  Header h = read_header(in, path, {3, 4}, {kTypeU8}, "0x00000803 (u8 images N,H,W) or 0x00000804 (u8 images N,H,W,C)");
  const int64_t n = h.dims[0], height = h.dims[1], width = h.dims[2];
  const int64_t channels = h.dims.size() == 4 ? h.dims[3] : 1;
  const uint64_t payload = uint64_t(n * height * width * channels);
  const std::vector<uint8_t> px = read_payload(in, path, 4 + 4 * h.dims.size(), payload, "pixels");
  Tensor images(Shape{n, channels, height, width}, DType::u8);
  if (channels == 1) {
    std::memcpy(images.raw(), px.data(), px.size());  // (N, H, W) is already (N, 1, H, W)
  } else {
    // (N, H, W, C) channels-last -> (N, C, H, W)
    const int64_t plane = height * width, per_image = plane * channels;
    uint8_t* dst = images.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* hwc = px.data() + i * per_image;
      uint8_t* img = dst + i * per_image;
      for (int64_t p = 0; p < plane; ++p)
        for (int64_t c = 0; c < channels; ++c) img[c * plane + p] = hwc[p * channels + c];
    }
  }
  return images;
}

std::vector<int32_t> read_labels(const std::string& path) {
  Reader in(path);
  Header h = read_header(in, path, {1}, {kTypeU8, kTypeS8, kTypeS16, kTypeS32},
                         "0x00000801 (u8 labels), or labels of type s8/s16/s32 (0x0901/0x0B01/0x0C01)");
  const int64_t n = h.dims[0];
  const int size = type_size(h.type);
  const std::vector<uint8_t> raw = read_payload(in, path, 8, uint64_t(n) * uint64_t(size), "labels");
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = raw.data() + i * size;
    int64_t v = 0;
    switch (h.type) {
      case kTypeU8:
        v = p[0];
        break;
      case kTypeS8:
        v = int8_t(p[0]);  // NOLINT(bugprone-signed-char-misuse): s8 labels are signed
        break;
      case kTypeS16:
        v = int16_t(uint16_t(p[0] << 8 | p[1]));
        break;
      default:
        v = int32_t(be32(p));
        break;
    }
    if (v < 0 || v >= kMaxClasses)
      fail(path, fmt::format("label {} at index {} is out of range (labels must be in 0..{})", v, i, kMaxClasses - 1));
    labels[size_t(i)] = int32_t(v);
  }
  return labels;
}

int64_t max_label(const std::vector<int32_t>& labels) {
  int32_t m = -1;
  for (int32_t l : labels) m = std::max(m, l);
  return m;
}

// `dir/name` if it is a file, else `dir/name.gz`; a clear error naming both when neither is.
std::string find_file(const fs::path& dir, const std::string& name) {
  const fs::path raw = dir / name, gz = dir / (name + ".gz");
  std::error_code ec;
  if (fs::is_regular_file(raw, ec)) return raw.string();
  if (fs::is_regular_file(gz, ec)) return gz.string();
  throw Error(
      fmt::format("data: {}: missing {} (looked for {} and {}); pass --data DIR pointing at an IDX "
                  "data set directory (default {})",
                  dir.string(), name, raw.string(), gz.string(), kDefaultDataDir));
}

}  // namespace

ImageSet load_idx_files(const std::string& images_path, const std::string& labels_path) {
  ImageSet set;
  set.images = read_images(images_path);
  set.labels = read_labels(labels_path);
  if (set.images.shape()[0] != int64_t(set.labels.size()))
    fail(labels_path,
         fmt::format("has {} labels but {} has {} images", set.labels.size(), images_path, set.images.shape()[0]));
  set.num_classes = max_label(set.labels) + 1;
  return set;
}

IdxData load_idx_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(
        fmt::format("data: {}: {} (looked for train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                    "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] in it); pass --data DIR "
                    "pointing at an IDX data set directory (default {})",
                    dir, fs::exists(dir, ec) ? "not a directory" : "no such directory", kDefaultDataDir));
  // Look for all four before reading any, so a missing file is reported without a slow load first.
  const std::string train_images = find_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_file(dir, "t10k-labels-idx1-ubyte");
  IdxData d;
  d.train = load_idx_files(train_images, train_labels);
  d.test = load_idx_files(test_images, test_labels);
  if (d.train.sample_shape() != d.test.sample_shape())
    fail(test_images, fmt::format("sample shape {} differs from the training set's {} ({})",
                                  d.test.sample_shape().str(), d.train.sample_shape().str(), train_images));
  d.train.num_classes = d.test.num_classes = std::max(d.train.num_classes, d.test.num_classes);
  return d;
}

}  // namespace nimble::data
