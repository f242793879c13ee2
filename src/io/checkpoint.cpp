// The `.nimble` checkpoint (layout in include/nimble/io/checkpoint.hpp). Writing is atomic
// (temp file in the target's directory, fsync, rename); reading treats the file as hostile:
// every size is capped or overflow-checked before it is used, every byte is covered by a check
// (magic, version, header CRC, zero padding, per-tensor CRCs, exact file size), and the tensor
// table must agree with the graph's parameters. Modelled on safetensors' `validate`.
#include "nimble/io/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <new>
#include <set>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/graph_json.hpp"
#include "io/sparse_encoding.hpp"
#include "nimble/core/error.hpp"

namespace nimble::io {
namespace {

using detail::fail;
using detail::json;
using detail::quote_text;

constexpr uint64_t kPrefixBytes = 24;  // magic, version, header length, header CRC
constexpr uint64_t kAlign = 64;
constexpr size_t kChunk = size_t(1) << 24;  // I/O and CRC in 16 MiB steps (crc32/pread take large sizes badly)
constexpr bool kBigEndianHost = std::endian::native == std::endian::big;

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

void put_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

uint32_t crc_update(uint32_t crc, const void* p, size_t n) {
  return uint32_t(crc32_z(crc, static_cast<const Bytef*>(p), n));
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Tensors are little-endian on disk; a big-endian host swaps each element.
[[maybe_unused]] void swap_elements(uint8_t* p, size_t n, size_t elem) {
  if (elem == 1) return;
  for (size_t i = 0; i + elem <= n; i += elem) std::reverse(p + i, p + i + elem);
}

// Calls fn(bytes, n) over the tensor's little-endian bytes, in chunks.
template <class F> void for_each_le_chunk(const Tensor& t, F&& fn) {
  const uint8_t* p = static_cast<const uint8_t*>(t.raw());
  const size_t total = t.nbytes(), elem = dtype_size(t.dtype());
  std::vector<uint8_t> swapped;
  for (size_t off = 0; off < total; off += kChunk) {
    const size_t n = std::min(kChunk, total - off);
    if constexpr (kBigEndianHost) {
      swapped.assign(p + off, p + off + n);  // kChunk is a multiple of every element size
      swap_elements(swapped.data(), n, elem);
      fn(swapped.data(), n);
    } else {
      fn(p + off, n);
    }
  }
}

std::string errno_text() { return std::strerror(errno); }

// ---- writing ----

void write_zeros(AtomicFile& f, uint64_t n) {
  static const uint8_t zeros[kAlign] = {};
  while (n > 0) {
    const size_t k = size_t(std::min<uint64_t>(n, kAlign));
    f.write(zeros, k);
    n -= k;
  }
}

struct TableEntry {
  std::string name;
  const Tensor* data;
  uint64_t offset, nbytes;
};

void save(const Graph& g, const std::string& path, const std::string& extra_text, const NamedTensors& state) {
  json extra = detail::parse_json(extra_text, "extra_json");
  if (!extra.is_object()) fail("extra_json must be a JSON object, got " + std::string(extra.type_name()));
  json graph;
  try {
    graph = detail::graph_to_json_value(g);
  } catch (const Error& e) {
    fail(std::string("graph: ") + e.what());
  }

  // Tensor table: back to back in named_params() order, each at the next multiple of 64.
  std::vector<TableEntry> entries;
  std::set<std::string> names;
  json table = json::array();
  uint64_t cursor = 0;
  std::deque<Tensor> encoded;  // bitmask-encoded parameters, kept alive until written
  auto add = [&](const std::string& name, const Tensor& data, bool is_state) {
    const Tensor* stored = &data;
    uint64_t nnz = 0;
    if (!is_state && data.dtype() == DType::f32) {  // pruned weights: the file shrinks with sparsity
      std::vector<uint8_t> bytes = detail::encode_bitmask(data, nnz);
      if (!bytes.empty()) {
        Tensor t(Shape({int64_t(bytes.size())}), DType::u8);
        std::memcpy(t.raw(), bytes.data(), bytes.size());
        stored = &encoded.emplace_back(std::move(t));
      }
    }
    const uint64_t offset = align_up(cursor), nbytes = stored->nbytes();
    uint32_t crc = crc_update(0, nullptr, 0);
    for_each_le_chunk(*stored, [&](const uint8_t* b, size_t n) { crc = crc_update(crc, b, n); });
    json e = {{"name", name},
              {"dtype", dtype_name(data.dtype())},
              {"shape", data.shape().dims()},
              {"offset", offset},
              {"nbytes", nbytes},
              {"crc32", crc}};
    if (stored != &data) e["encoding"] = "bitmask", e["nnz"] = nnz;
    if (is_state) e["state"] = true;
    table.push_back(std::move(e));
    entries.push_back({name, stored, offset, nbytes});
    cursor = offset + nbytes;
  };
  for (auto& [name, p] : g.named_params()) {
    if (!p || !p->data.defined()) fail("parameter " + quote_text(name) + " has no data");
    if (!names.insert(name).second) fail("two parameters are both named " + quote_text(name));
    add(name, p->data, false);
  }
  std::set<std::string> state_names;
  for (auto& [name, t] : state) {
    if (!t.defined()) fail("state tensor " + quote_text(name) + " has no data");
    if (name.empty() || name.size() > 1024) fail("state tensor names must be 1 to 1024 bytes long");
    if (!state_names.insert(name).second) fail("two state tensors are both named " + quote_text(name));
    add(name, t, true);
  }
  const json header_json = {
      {"graph", std::move(graph)}, {"extra", std::move(extra)}, {"tensors", std::move(table)}, {"data_bytes", cursor}};
  const std::string header = detail::dump_json(header_json);
  if (header.size() > kCheckpointMaxHeaderBytes)
    fail("the header would be " + std::to_string(header.size()) + " bytes, over the 64 MiB limit");

  AtomicFile tmp(path);

  uint8_t prefix[kPrefixBytes];
  std::memcpy(prefix, kCheckpointMagic, 8);
  put_le(prefix + 8, kCheckpointVersion, 4);
  put_le(prefix + 12, header.size(), 8);
  put_le(prefix + 20, crc_update(crc_update(0, nullptr, 0), header.data(), header.size()), 4);
  tmp.write(prefix, sizeof prefix);
  tmp.write(header.data(), header.size());
  const uint64_t header_end = kPrefixBytes + header.size();
  write_zeros(tmp, align_up(header_end) - header_end);
  uint64_t written = 0;
  for (const TableEntry& e : entries) {
    write_zeros(tmp, e.offset - written);
    for_each_le_chunk(*e.data, [&](const uint8_t* b, size_t n) { tmp.write(b, n); });
    written = e.offset + e.nbytes;
  }
  tmp.commit();
}

// ---- reading ----

class InFile {
 public:
  explicit InFile(const std::string& path) {
    // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open: " + errno_text());
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail("cannot stat: " + errno_text());
    if (S_ISDIR(st.st_mode)) fail("is a directory, not a checkpoint file");
    if (!S_ISREG(st.st_mode)) fail("not a regular file");
    size_ = uint64_t(st.st_size);
  }
  InFile(const InFile&) = delete;
  InFile& operator=(const InFile&) = delete;
  ~InFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  uint64_t size() const { return size_; }

  // Reads exactly n bytes at `offset`, or says why not (`what` names what was being read).
  void read_exact(uint64_t offset, void* buf, size_t n, const std::string& what) const {
    uint8_t* p = static_cast<uint8_t*>(buf);
    while (n > 0) {
      const ssize_t r = ::pread(fd_, p, std::min(n, kChunk), off_t(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail("read error in " + what + ": " + errno_text());
      if (r == 0)
        fail("truncated: the file ended at byte " + std::to_string(offset) + " while reading " + what +
             " (was it changed while loading?)");
      p += r;
      offset += uint64_t(r);
      n -= size_t(r);
    }
  }

  void expect_zeros(uint64_t offset, uint64_t n, const std::string& what) const {
    uint8_t buf[kAlign];
    while (n > 0) {
      const size_t k = size_t(std::min<uint64_t>(n, kAlign));
      read_exact(offset, buf, k, what);
      for (size_t i = 0; i < k; ++i)
        if (buf[i] != 0)
          fail("nonzero byte at " + std::to_string(offset + i) + " in " + what + ": the file is corrupted");
      offset += k;
      n -= k;
    }
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct TensorRecord {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t offset, nbytes;
  uint32_t crc;
  bool state = false;    // training state (optimizer moments), not a graph parameter
  bool bitmask = false;  // stored bitmask-encoded (io/sparse_encoding.hpp) with `nnz` elements
  uint64_t nnz = 0;
};

std::vector<TensorRecord> read_table(const json& table, uint64_t data_offset, uint64_t data_bytes, uint64_t file_size) {
  detail::expect_array(table, "tensors");
  std::vector<TensorRecord> records;
  uint64_t cursor = 0;
  for (size_t t = 0; t < table.size(); ++t) {
    const json& e = table[t];
    std::string where = "tensor " + std::to_string(t);
    detail::expect_object(e, where);
    detail::expect_keys(e, {"name", "dtype", "shape", "offset", "nbytes", "crc32", "state", "encoding", "nnz"}, where);
    TensorRecord r{};
    r.name = detail::as_string(detail::member(e, "name", where), where + ": name");
    if (r.name.empty() || r.name.size() > 1024) fail(where + ": names must be 1 to 1024 bytes long");
    where = "tensor " + quote_text(r.name);
    const std::string dt = detail::as_string(detail::member(e, "dtype", where), where + ": dtype");
    try {
      r.dtype = dtype_from_name(dt);
    } catch (const Error&) {
      fail(where + ": unknown dtype " + quote_text(dt));
    }
    r.shape = detail::as_shape(detail::member(e, "shape", where), where + ": shape", kMaxRank, 0);
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    r.offset = uint64_t(detail::as_int(detail::member(e, "offset", where), where + ": offset", 0, kMax));
    r.nbytes = uint64_t(detail::as_int(detail::member(e, "nbytes", where), where + ": nbytes", 0, kMax));
    r.crc = uint32_t(detail::as_int(detail::member(e, "crc32", where), where + ": crc32", 0, 0xffffffffll));
    if (e.contains("state")) {
      if (!e["state"].is_boolean() || !e["state"].get<bool>()) fail(where + ": state must be true when present");
      r.state = true;
    }

    if (e.contains("encoding")) {
      const std::string enc = detail::as_string(e["encoding"], where + ": encoding");
      if (enc != "bitmask") fail(where + ": unknown encoding " + quote_text(enc));
      if (r.dtype != DType::f32 || r.state) fail(where + ": only f32 parameters can be bitmask-encoded");
      r.bitmask = true;
      r.nnz = uint64_t(detail::as_int(detail::member(e, "nnz", where), where + ": nnz", 0, kMax / 8));
    } else if (e.contains("nnz")) {
      fail(where + ": nnz without an encoding");
    }
    uint64_t numel = 0, want = 0;
    bool sized =
        detail::checked_numel(r.shape.dims(), numel) && !__builtin_mul_overflow(numel, dtype_size(r.dtype), &want);
    if (sized &&
        r.bitmask) {  // stored: the mask, then the nnz values (numel * 4 did not overflow, so neither does this)
      sized = r.nnz <= numel && numel > 0;
      want = detail::bitmask_encoded_bytes(numel, r.nnz);
    }
    if (!sized || want != r.nbytes)
      fail(where + ": nbytes " + std::to_string(r.nbytes) + " does not match shape " + r.shape.str() + " of " +
           dtype_name(r.dtype));
    if (r.offset != align_up(cursor))
      fail(where + ": offset " + std::to_string(r.offset) + ", expected " + std::to_string(align_up(cursor)) +
           " (tensors are stored back to back, 64-byte aligned)");
    const uint64_t end = r.offset + r.nbytes;  // both < 2^63: no overflow
    uint64_t abs_end = 0;
    const bool overflow = __builtin_add_overflow(data_offset, end, &abs_end);
    if (overflow || abs_end > file_size)
      fail("truncated: " + where + " ends at byte " +
           (overflow ? std::string("2^64 or later") : std::to_string(abs_end)) + " but the file has " +
           std::to_string(file_size) + " bytes");
    if (end > data_bytes)
      fail(where + " ends at byte " + std::to_string(end) + " of the data section, past its declared " +
           std::to_string(data_bytes) + " bytes");
    cursor = end;
    records.push_back(std::move(r));
  }
  if (cursor != data_bytes)
    fail("the data section declares " + std::to_string(data_bytes) + " bytes but its tensors end at " +
         std::to_string(cursor));
  return records;
}

Checkpoint load(const std::string& path) {
  InFile f(path);
  const uint64_t size = f.size();

  uint8_t prefix[kPrefixBytes] = {};
  const size_t have = size_t(std::min<uint64_t>(size, kPrefixBytes));
  f.read_exact(0, prefix, have, "the prefix");
  if (size == 0) fail("not a nimble checkpoint (empty file)");
  if (std::memcmp(prefix, kCheckpointMagic, std::min<size_t>(have, 8)) != 0)
    fail("not a nimble checkpoint (bad magic)");
  if (size < kPrefixBytes)
    fail("truncated: the file has " + std::to_string(size) + " bytes, less than the " + std::to_string(kPrefixBytes) +
         "-byte prefix");
  const uint32_t version = uint32_t(get_le(prefix + 8, 4));
  if (version != kCheckpointVersion)
    fail("unsupported format version " + std::to_string(version) + " (this build reads version " +
         std::to_string(kCheckpointVersion) + ")");
  const uint64_t header_len = get_le(prefix + 12, 8);
  const uint32_t header_crc = uint32_t(get_le(prefix + 20, 4));
  if (header_len == 0) fail("the header is empty");
  if (header_len > kCheckpointMaxHeaderBytes)
    fail("header length " + std::to_string(header_len) + " exceeds the 64 MiB limit (the file is corrupted)");
  const uint64_t header_end = kPrefixBytes + header_len;
  if (header_end > size)
    fail("truncated: the header ends at byte " + std::to_string(header_end) + " but the file has " +
         std::to_string(size) + " bytes");
  std::string header(header_len, '\0');
  f.read_exact(kPrefixBytes, header.data(), header.size(), "the header");
  const uint32_t crc = crc_update(crc_update(0, nullptr, 0), header.data(), header.size());
  if (crc != header_crc)
    fail("header CRC mismatch (stored " + hex32(header_crc) + ", computed " + hex32(crc) + "): the file is corrupted");
  const uint64_t data_offset = align_up(header_end);
  if (data_offset > size)
    fail("truncated: the data section starts at byte " + std::to_string(data_offset) + " but the file has " +
         std::to_string(size) + " bytes");
  f.expect_zeros(header_end, data_offset - header_end, "the padding after the header");

  const json j = detail::parse_json(header, "the header");
  detail::expect_object(j, "header");
  detail::expect_keys(j, {"graph", "extra", "tensors", "data_bytes"}, "header");
  const uint64_t data_bytes = uint64_t(detail::as_int(detail::member(j, "data_bytes", "header"), "header: data_bytes",
                                                      0, std::numeric_limits<int64_t>::max()));
  // Bounds first, so nothing is allocated from sizes the file cannot back.
  std::vector<TensorRecord> records = read_table(detail::member(j, "tensors", "header"), data_offset, data_bytes, size);
  const uint64_t data_end = data_offset + data_bytes;  // data_bytes <= size here: no overflow
  // What the tensors take once decoded (bitmask-encoded ones are larger than their bytes on disk):
  // the bound on what the graph's parameters may allocate.
  uint64_t decoded_bytes = 0;
  for (const TensorRecord& r : records)
    decoded_bytes += r.bitmask ? uint64_t(r.shape.numel()) * dtype_size(r.dtype) : r.nbytes;  // each < 2^61
  if (data_end > size)
    fail("truncated: the data section ends at byte " + std::to_string(data_end) + " but the file has " +
         std::to_string(size) + " bytes");
  if (data_end < size) fail(std::to_string(size - data_end) + " unexpected bytes after the data section");

  const json& jextra = detail::member(j, "extra", "header");
  if (!jextra.is_object()) fail("header: extra: expected an object, got " + std::string(jextra.type_name()));

  Checkpoint ck;
  try {
    ck.graph = detail::graph_from_json_value(detail::member(j, "graph", "header"), std::max(data_bytes, decoded_bytes));
  } catch (const Error& e) {
    fail(std::string("graph: ") + e.what());
  }

  // The table and the graph's parameters must match one to one.
  std::map<std::string, ParamPtr> params;
  for (auto& [name, p] : ck.graph.named_params()) params[name] = p;
  std::set<std::string> seen, seen_state;
  std::map<std::string, Tensor> state;
  for (const TensorRecord& r : records) {
    if (r.state) {
      if (!seen_state.insert(r.name).second) fail("state tensor " + quote_text(r.name) + " appears twice");
      state[r.name] = Tensor(r.shape, r.dtype);  // bounded: read_table checked the file backs it
      continue;
    }
    auto it = params.find(r.name);
    if (it == params.end()) fail("tensor " + quote_text(r.name) + " matches no parameter of the graph");
    if (!seen.insert(r.name).second) fail("tensor " + quote_text(r.name) + " appears twice");
    const Tensor& t = it->second->data;
    if (t.dtype() != r.dtype || t.shape() != r.shape)
      fail("tensor " + quote_text(r.name) + " is " + dtype_name(r.dtype) + " " + r.shape.str() +
           " but the graph declares " + dtype_name(t.dtype()) + " " + t.shape().str());
  }
  for (auto& [name, p] : params)
    if (!seen.count(name)) fail("parameter " + quote_text(name) + " has no tensor in the file");

  uint64_t cursor = 0;
  for (const TensorRecord& r : records) {
    const std::string what = "tensor " + quote_text(r.name);
    f.expect_zeros(data_offset + cursor, r.offset - cursor, "the padding before " + what);
    Tensor& t = r.state ? state[r.name] : params[r.name]->data;
    std::vector<uint8_t> encoded(r.bitmask ? r.nbytes : 0);  // bounded: the file backs r.nbytes
    uint8_t* dst = r.bitmask ? encoded.data() : static_cast<uint8_t*>(t.raw());
    uint32_t tcrc = crc_update(0, nullptr, 0);
    for (uint64_t off = 0; off < r.nbytes; off += kChunk) {
      const size_t n = size_t(std::min<uint64_t>(kChunk, r.nbytes - off));
      f.read_exact(data_offset + r.offset + off, dst + off, n, what);
      tcrc = crc_update(tcrc, dst + off, n);
    }
    if (tcrc != r.crc)
      fail(what + ": CRC mismatch (stored " + hex32(r.crc) + ", computed " + hex32(tcrc) + "): the file is corrupted");
    if (r.bitmask) {
      try {
        detail::decode_bitmask(encoded.data(), r.nbytes, r.nnz, t);
      } catch (const Error& e) {
        fail(what + ": " + e.what());
      }
    } else if constexpr (kBigEndianHost) {
      swap_elements(dst, r.nbytes, dtype_size(r.dtype));
    }
    cursor = r.offset + r.nbytes;
  }
  ck.extra_json = detail::dump_json(jextra);
  ck.file_size = int64_t(size);
  for (const TensorRecord& r : records)
    if (r.state) ck.state.emplace_back(r.name, state[r.name]);
  return ck;
}

std::string shown(const std::string& path) { return detail::one_line(path); }

}  // namespace

void save_checkpoint(const Graph& g, const std::string& path, const std::string& extra_json,
                     const NamedTensors& state) {
  try {
    save(g, path, extra_json, state);
  } catch (const std::bad_alloc&) {
    throw Error("cannot save checkpoint " + shown(path) + ": out of memory");
  } catch (const std::exception& e) {
    throw Error("cannot save checkpoint " + shown(path) + ": " + detail::one_line(e.what()));
  }
}

Checkpoint load_checkpoint(const std::string& path) {
  try {
    return load(path);
  } catch (const std::bad_alloc&) {
    throw Error("checkpoint " + shown(path) + ": out of memory");
  } catch (const std::exception& e) {
    throw Error("checkpoint " + shown(path) + ": " + detail::one_line(e.what()));
  }
}

}  // namespace nimble::io
