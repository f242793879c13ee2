// .npy: "\x93NUMPY", version (major, minor), header length (u16 for 1.0, u32 for 2.0/3.0), then a Python
// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a
// newline, then the raw elements. The dict is parsed by a small strict parser (the three keys, each
// once, nothing else), never evaluated. .npz: a zip archive of .npy members, read with libzip.
#include "data/npy.hpp"

#include <zip.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>

#include "data/file_bytes.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw Error(fmt::format("{}: {}", name, problem));
}

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr uint32_t kMaxHeaderBytes = 1 << 20;  // real headers are ~100 bytes; numpy itself caps at 10,000
constexpr size_t kMaxRank = 64;                // numpy 2's limit
constexpr int64_t kMaxDim = int64_t(1) << 62;  // any larger dimension overflows an int64 element count

// What the header says; the payload starts at `offset`.
struct NpyLayout {
  NpyType type = NpyType::u8;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  bool big_endian = false;
  size_t offset = 0;
  uint64_t nbytes = 0;
};

// Maps the 'descr' string to a type; refuses everything else with a reason.
void parse_descr(const std::string& descr, NpyLayout& out, const std::string& name) {
  auto refuse = [&](const char* what) { fail(name, fmt::format("dtype '{}': {}", descr, what)); };
  if (descr.empty()) fail(name, "bad .npy header: empty 'descr'");
  const char order = descr[0];
  const std::string code = (order == '<' || order == '>' || order == '|' || order == '=') ? descr.substr(1) : descr;
  if (!code.empty() && code[0] == 'O') refuse("pickled object arrays are not read");
  static constexpr std::pair<std::string_view, NpyType> kTypes[] = {
      {"b1", NpyType::boolean}, {"u1", NpyType::u8},  {"i1", NpyType::i8},  {"u2", NpyType::u16},
      {"i2", NpyType::i16},     {"u4", NpyType::u32}, {"i4", NpyType::i32}, {"u8", NpyType::u64},
      {"i8", NpyType::i64},     {"f4", NpyType::f32}, {"f8", NpyType::f64}};
  const auto* hit = std::find_if(std::begin(kTypes), std::end(kTypes), [&](const auto& t) { return t.first == code; });
  if (hit == std::end(kTypes)) {
    const char k = code.empty() ? '?' : code[0];
    if (code == "f2" || k == 'e') refuse("float16 arrays are not read (convert to float32)");
    if (k == 'c') refuse("complex arrays are not read");
    if (k == 'U' || k == 'S' || k == 'a') refuse("string arrays are not read");
    if (k == 'V') refuse("void arrays are not read");
    if (k == 'M' || k == 'm') refuse("datetime arrays are not read");
    refuse("unknown or unsupported dtype (bool, int8..int64, uint8..uint64, float32 and float64 are read)");
  }
  out.type = hit->second;
  // numpy always writes an explicit order: '|' for 1-byte types, '<' or '>' otherwise.
  if (order == '=') refuse("native byte order ('=') is ambiguous in a file; expected '<', '>' or '|'");
  if (order != '<' && order != '>' && order != '|') refuse("no byte order ('<', '>' or '|')");
  if (order == '|' && npy_type_size(out.type) != 1) refuse("byte order '|' is only for 1-byte types");
  out.big_endian = order == '>' && npy_type_size(out.type) > 1;
}

// The header dict, one token at a time; every error names what was expected.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  void parse(NpyLayout& out) {
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    skip_ws();
    expect('{', "'{' at the start of the header");
    while (true) {
      skip_ws();
      if (eat('}')) break;
      const std::string key = parse_string("a key");
      skip_ws();
      expect(':', fmt::format("':' after '{}'", key));
      skip_ws();
      auto once = [&](bool& seen) {
        if (seen) bad(fmt::format("'{}' appears twice", key));
        seen = true;
      };
      if (key == "descr") {
        once(seen_descr);
        if (peek() == '[') fail(name_, "structured dtypes (a list of fields) are not read");
        parse_descr(parse_string("the 'descr' string"), out, name_);
      } else if (key == "fortran_order") {
        once(seen_fortran);
        out.fortran_order = parse_bool();
      } else if (key == "shape") {
        once(seen_shape);
        out.shape = parse_shape();
      } else {
        bad(fmt::format("unexpected key '{}' (expected 'descr', 'fortran_order' and 'shape')", key));
      }
      skip_ws();
      if (eat(',')) continue;  // numpy writes a trailing comma after the last entry
      skip_ws();
      expect('}', "',' or '}' after a value");
      break;
    }
    skip_ws();
    if (pos_ != s_.size()) bad("text after the closing '}'");
    if (!seen_descr) bad("no 'descr'");
    if (!seen_fortran) bad("no 'fortran_order'");
    if (!seen_shape) bad("no 'shape'");
  }

 private:
  [[noreturn]] void bad(const std::string& problem) const { fail(name_, "bad .npy header: " + problem); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const std::string& what) {
    if (!eat(c)) bad("expected " + what);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  // '...' or "...": printable ASCII without escapes (no key or dtype string needs them).
  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad(fmt::format("expected {} in quotes", what));
    ++pos_;
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c < 0x20 || c > 0x7E || c == '\\') bad(fmt::format("unexpected character in {}", what));
      ++pos_;
    }
    if (pos_ == s_.size()) bad(fmt::format("unterminated {}", what));
    return std::string(s_.substr(start, pos_++ - start));
  }

  bool parse_bool() {
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {std::string_view("False"), false}})
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    bad("'fortran_order' must be True or False");
  }

  int64_t parse_dim() {
    if (peek() < '0' || peek() > '9') bad("expected a non-negative integer dimension in 'shape'");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = s_[pos_++] - '0';
      if (v > (kMaxDim - digit) / 10) bad("a dimension in 'shape' is too large");
      v = v * 10 + digit;
    }
    eat('L');  // Python 2's long literal, written by numpy on Python 2
    return v;
  }

  // A Python tuple of integers: (), (3,), (2, 3) or (2, 3,).
  std::vector<int64_t> parse_shape() {
    expect('(', "'shape' as a tuple");
    std::vector<int64_t> dims;
    bool trailing_comma = false;
    while (true) {
      skip_ws();
      if (eat(')')) break;
      dims.push_back(parse_dim());
      if (dims.size() > kMaxRank) bad(fmt::format("'shape' has more than {} dimensions", kMaxRank));
      skip_ws();
      trailing_comma = eat(',');
      if (!trailing_comma) {
        skip_ws();
        expect(')', "',' or ')' in 'shape'");
        break;
      }
    }
    if (dims.size() == 1 && !trailing_comma) bad("'shape' (n) is not a tuple; numpy writes (n,)");
    return dims;
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::string& name_;
};

uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

NpyLayout parse_layout(const uint8_t* b, size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file");
  if (std::memcmp(b, kMagic, std::min(size, sizeof kMagic)) != 0) fail(name, "not a .npy file (no \\x93NUMPY magic)");
  if (size < 10) fail(name, "truncated .npy header");
  const int major = b[6], minor = b[7];
  if (major < 1 || major > 3 || minor != 0)
    fail(name, fmt::format(".npy format version {}.{} is not read (1.0, 2.0 and 3.0 are)", major, minor));
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (size < 8 + len_bytes) fail(name, "truncated .npy header");
  const uint32_t header_len = major == 1 ? le16(b + 8) : le32(b + 8);
  if (header_len > kMaxHeaderBytes)
    fail(name, fmt::format("bad .npy header: {} bytes long (at most {} are read)", header_len, kMaxHeaderBytes));
  NpyLayout out;
  out.offset = 8 + len_bytes + header_len;
  if (size < out.offset) fail(name, "truncated .npy header");
  const std::string_view text(reinterpret_cast<const char*>(b + 8 + len_bytes), header_len);
  HeaderParser(text, name).parse(out);

  // Element count and bytes, overflow-checked: any zero dimension makes the array empty, but the others must
  // still multiply within int64 (as numpy requires), or NpyArray::numel() would overflow on the way to 0.
  uint64_t numel = 1;
  const bool empty = std::find(out.shape.begin(), out.shape.end(), 0) != out.shape.end();
  uint64_t nonzero = 1;
  for (int64_t d : out.shape)
    if (empty && d != 0 &&
        (__builtin_mul_overflow(nonzero, uint64_t(d), &nonzero) ||
         nonzero > uint64_t(std::numeric_limits<int64_t>::max())))
      fail(name, fmt::format("shape {} is too large (its dimensions overflow int64)", shape_text(out.shape)));
  if (empty) numel = 0;
  const uint64_t limit = kMaxNpyBytes / npy_type_size(out.type);
  for (int64_t d : out.shape) {
    if (empty) break;
    if (uint64_t(d) > limit / numel)
      fail(name, fmt::format("shape {} of {} is larger than the {} limit", shape_text(out.shape),
                             npy_type_name(out.type), bytes_text(kMaxNpyBytes)));
    numel *= uint64_t(d);
  }
  out.nbytes = numel * npy_type_size(out.type);
  const uint64_t payload = size - out.offset;
  if (payload < out.nbytes)
    fail(name, fmt::format("truncated: shape {} of {} needs {} bytes of data, the file holds {}", shape_text(out.shape),
                           npy_type_name(out.type), out.nbytes, payload));
  if (payload > out.nbytes)
    fail(name, fmt::format("{} bytes after the data (shape {} of {} needs {})", payload - out.nbytes,
                           shape_text(out.shape), npy_type_name(out.type), out.nbytes));
  return out;
}

// Fortran (column-major) -> C (row-major) order for elements of N bytes.
template <size_t N> void fortran_to_c(uint8_t* dst, const uint8_t* src, const std::vector<int64_t>& shape) {
  const size_t rank = shape.size();
  std::vector<int64_t> fstride(rank), idx(rank, 0);
  int64_t numel = 1;
  for (size_t k = 0; k < rank; ++k) fstride[k] = numel, numel *= shape[k];
  int64_t src_off = 0;
  for (int64_t i = 0; i < numel; ++i) {
    std::memcpy(dst + i * N, src + src_off * N, N);
    // Odometer over the C index, last dimension fastest; src_off follows it.
    for (size_t k = rank; k-- > 0;) {
      src_off += fstride[k];
      if (++idx[k] < shape[k]) break;
      src_off -= fstride[k] * shape[k];
      idx[k] = 0;
    }
  }
}

// Byte order, memory order and bool values, in place on `array.data` (which holds exactly the payload).
void finish(NpyArray& array, const NpyLayout& layout) {
  const size_t item = npy_type_size(array.type);
  uint8_t* d = array.data.data();
  const size_t count = array.data.size() / item;
  if (layout.big_endian)
    for (size_t i = 0; i < count; ++i) std::reverse(d + i * item, d + (i + 1) * item);
  if (layout.fortran_order && array.shape.size() > 1 && count > 0) {
    std::vector<uint8_t> c_order(array.data.size());
    switch (item) {
      case 1:
        fortran_to_c<1>(c_order.data(), d, array.shape);
        break;
      case 2:
        fortran_to_c<2>(c_order.data(), d, array.shape);
        break;
      case 4:
        fortran_to_c<4>(c_order.data(), d, array.shape);
        break;
      default:
        fortran_to_c<8>(c_order.data(), d, array.shape);
        break;
    }
    array.data = std::move(c_order);
  }
  // numpy reads any non-zero byte as True; consumers may rely on 0/1.
  if (array.type == NpyType::boolean)
    for (auto& v : array.data) v = v != 0;
}

// Parses a buffer it owns, moving the payload into the array instead of copying it.
NpyArray parse_owned(std::vector<uint8_t>&& bytes, const std::string& name) {
  const NpyLayout layout = parse_layout(bytes.data(), bytes.size(), name);
  NpyArray array;
  array.type = layout.type;
  array.shape = layout.shape;
  bytes.erase(bytes.begin(), bytes.begin() + std::ptrdiff_t(layout.offset));
  array.data = std::move(bytes);
  finish(array, layout);
  return array;
}

// libzip handles, released on every path out.
struct ZipArchive {
  zip_t* archive = nullptr;
  ~ZipArchive() {
    if (archive) zip_discard(archive);
  }
};
struct ZipMember {
  zip_file_t* file = nullptr;
  ~ZipMember() {
    if (file) zip_fclose(file);
  }
};

}  // namespace

size_t npy_type_size(NpyType type) {
  switch (type) {
    case NpyType::u8:
    case NpyType::i8:
    case NpyType::boolean:
      return 1;
    case NpyType::u16:
    case NpyType::i16:
      return 2;
    case NpyType::i32:
    case NpyType::u32:
    case NpyType::f32:
      return 4;
    case NpyType::i64:
    case NpyType::u64:
    case NpyType::f64:
      return 8;
  }
  return 1;
}

const char* npy_type_name(NpyType type) {
  switch (type) {
    case NpyType::u8:
      return "u8";
    case NpyType::i8:
      return "i8";
    case NpyType::u16:
      return "u16";
    case NpyType::i16:
      return "i16";
    case NpyType::i32:
      return "i32";
    case NpyType::i64:
      return "i64";
    case NpyType::u32:
      return "u32";
    case NpyType::u64:
      return "u64";
    case NpyType::f32:
      return "f32";
    case NpyType::f64:
      return "f64";
    case NpyType::boolean:
      return "bool";
  }
  return "?";
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name) {
  const NpyLayout layout = parse_layout(bytes, size, name);
  NpyArray array;
  array.type = layout.type;
  array.shape = layout.shape;
  array.data.assign(bytes + layout.offset, bytes + size);
  finish(array, layout);
  return array;
}

NpyArray read_npy_file(const std::string& path) {
  return parse_owned(read_file_bytes(path, kMaxNpyBytes + kMaxHeaderBytes + 12, "a .npy file"), path);
}

std::vector<std::pair<std::string, NpyArray>> read_npz_file(const std::string& path) {
  // Opening through read_file_prefix gives the same "cannot open"/"is a directory" messages as .npy files.
  if (read_file_prefix(path, 1).empty()) fail(path, "empty file");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_file_create(path.c_str(), 0, -1, &error);
  if (!source) {
    const std::string msg = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail(path, "cannot open: " + msg);
  }
  ZipArchive zip;
  zip.archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!zip.archive) {
    zip_source_free(source);  // not taken over on failure
    const int code = zip_error_code_zip(&error);
    const std::string msg = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail(path, code == ZIP_ER_NOZIP ? "not an .npz file (not a zip archive)" : "corrupt .npz (zip) archive: " + msg);
  }
  zip_error_fini(&error);

  std::vector<std::pair<std::string, NpyArray>> out;
  std::set<std::string> keys;
  uint64_t total = 0;
  const zip_int64_t count = zip_get_num_entries(zip.archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip.archive, zip_uint64_t(i), 0, &st) != 0)
      fail(path, fmt::format("corrupt .npz (zip) archive: member {}: {}", i, zip_strerror(zip.archive)));
    if (!(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE))
      fail(path, fmt::format("corrupt .npz (zip) archive: member {} has no name or size", i));
    const std::string member = st.name;
    const std::string where = fmt::format("{}: member '{}'", path, member);
    if (!member.empty() && member.back() == '/' && st.size == 0) continue;  // a directory entry
    constexpr std::string_view kSuffix = ".npy";
    if (member.size() <= kSuffix.size() || member.compare(member.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      fail(where, "not a .npy array (an .npz holds only .npy members)");
    const std::string key = member.substr(0, member.size() - kSuffix.size());
    if (!keys.insert(key).second) fail(where, "appears twice in the archive");
    if (st.size > kMaxNpyBytes || total + st.size > kMaxNpyBytes)
      fail(where,
           fmt::format("{} uncompressed; the limit for an .npz is {}", bytes_text(st.size), bytes_text(kMaxNpyBytes)));
    total += st.size;

    ZipMember file;
    file.file = zip_fopen_index(zip.archive, zip_uint64_t(i), 0);
    if (!file.file) fail(where, fmt::format("cannot read: {}", zip_strerror(zip.archive)));
    // The declared size bounds the buffer, which doubles only as data arrives: a zip entry that lies about its
    // size cannot make us allocate what the archive does not hold (415 bytes claiming 3 GiB did).
    // One byte more than declared tells a member that inflates past it (a zip bomb with a lying header) and
    // reaching the end makes libzip check the CRC.
    std::vector<uint8_t> bytes;
    uint64_t got = 0;
    while (got < st.size + 1) {
      bytes.resize(size_t(std::min(st.size + 1, std::max<uint64_t>(uint64_t(1) << 16, 2 * got))));
      const zip_int64_t r = zip_fread(file.file, bytes.data() + got, bytes.size() - got);
      if (r < 0) fail(where, fmt::format("corrupt data: {}", zip_file_strerror(file.file)));
      if (r == 0) break;
      got += uint64_t(r);
    }
    if (got > st.size) fail(where, fmt::format("inflates past the {} bytes its zip entry declares", st.size));
    if (got < st.size) fail(where, fmt::format("holds {} bytes, not the {} its zip entry declares", got, st.size));
    bytes.resize(size_t(st.size));
    out.emplace_back(key, parse_owned(std::move(bytes), where));
  }
  return out;
}

}  // namespace nimble::data
