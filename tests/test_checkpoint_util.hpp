#pragma once
// Shared by the checkpoint tests: a small graph that uses every parameter kind, a temp directory,
// byte-level file helpers and a re-signer that edits a checkpoint's header behind its CRC (so the
// validators behind the CRC get exercised, not just the CRC).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"

namespace nimble::testing_io {

using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;

// conv -> batch-norm -> relu -> depthwise conv (no bias) + skip -> global pool -> flatten -> linear,
// on an odd 3x9x11 input; batch-norm parameters randomised so none is constant.
inline Graph small_graph(uint64_t seed = 7) {
  Graph g;
  Rng rng(seed);
  using V = std::vector<int64_t>;
  int x = g.add_input("image", {3, 9, 11});
  x = g.add_node(OpKind::conv2d, "stem.conv", {x},
                 {{"out_channels", int64_t(8)},
                  {"kernel", V{3, 3}},
                  {"stride", V{1, 1}},
                  {"padding", V{1, 1}},
                  {"activation", std::string("none")}},
                 &rng);
  x = g.add_node(OpKind::batch_norm2d, "stem.bn", {x}, {{"eps", 1e-3}, {"momentum", 0.1}}, &rng);
  for (auto& [k, p] : g.nodes().back().params)
    for (int64_t i = 0; i < p->data.numel(); ++i) p->data.data<float>()[i] = rng.uniform(0.5f, 1.5f);
  x = g.add_node(OpKind::relu, "stem.relu", {x}, {}, &rng);
  const int skip = x;
  x = g.add_node(OpKind::conv2d, "block.dw", {x},
                 {{"out_channels", int64_t(8)},
                  {"kernel", V{3, 3}},
                  {"padding", V{1, 1}},
                  {"groups", int64_t(8)},
                  {"bias", int64_t(0)}},
                 &rng);
  x = g.add_node(OpKind::add, "block.add", {x, skip}, {}, &rng);
  x = g.add_node(OpKind::global_avg_pool, "pool", {x}, {}, &rng);
  x = g.add_node(OpKind::flatten, "flatten", {x}, {}, &rng);
  x = g.add_node(OpKind::linear, "head", {x}, {{"out_features", int64_t(5)}}, &rng);
  g.set_output(x);
  g.meta["name"] = "tiny";
  g.meta["classes"] = "a,b,c,d,e";
  return g;
}

// A fresh directory under the test temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "nimble-ckpt-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

inline Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

inline uint64_t get_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}
inline void put_le(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = uint8_t(v >> (8 * i));
}

// A checkpoint split into its parts (for a well-formed file).
struct Parts {
  std::string header;  // the JSON text
  Bytes data;          // the data section
};

inline Parts split(const Bytes& file) {
  const uint64_t len = get_le(file.data() + 12, 8);
  Parts p;
  p.header.assign(reinterpret_cast<const char*>(file.data()) + 24, len);
  const uint64_t data_offset = (24 + len + 63) / 64 * 64;
  p.data.assign(file.begin() + std::ptrdiff_t(data_offset), file.end());
  return p;
}

// Reassembles a file with a valid prefix and header CRC around any header text.
inline Bytes assemble(const std::string& header, const Bytes& data, uint32_t version = 1) {
  Bytes out(24, 0);
  std::memcpy(out.data(), io::kCheckpointMagic, 8);
  put_le(out.data() + 8, version, 4);
  put_le(out.data() + 12, header.size(), 8);
  put_le(out.data() + 20, crc32(0, reinterpret_cast<const Bytef*>(header.data()), uInt(header.size())), 4);
  out.insert(out.end(), header.begin(), header.end());
  out.resize((out.size() + 63) / 64 * 64, 0);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Edits the parsed header (and optionally the data section) and re-signs.
inline Bytes resign(const Bytes& file, const std::function<void(json&, Bytes&)>& edit) {
  Parts p = split(file);
  json h = json::parse(p.header);
  edit(h, p.data);
  return assemble(h.dump(), p.data);
}

inline bool same_attr(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (auto* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    if (std::isnan(*x)) return std::isnan(y);
    return *x == y && std::signbit(*x) == std::signbit(y);  // keeps -0.0 apart from 0.0
  }
  return a == b;
}

// Same structure, attributes, meta and (when `with_data`) bit-identical parameter data.
inline void expect_same_graph(const Graph& a, const Graph& b, bool with_data = true) {
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  EXPECT_EQ(a.values()[a.input()].name, b.values()[b.input()].name);
  EXPECT_EQ(a.input_shape(), b.input_shape());
  EXPECT_EQ(a.values()[a.output()].name, b.values()[b.output()].name);
  EXPECT_EQ(a.output_shape(), b.output_shape());
  EXPECT_EQ(a.meta, b.meta);
  for (size_t n = 0; n < a.nodes().size(); ++n) {
    const Node &x = a.nodes()[n], &y = b.nodes()[n];
    SCOPED_TRACE("node " + x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op, y.op);
    ASSERT_EQ(x.inputs.size(), y.inputs.size());
    for (size_t i = 0; i < x.inputs.size(); ++i) EXPECT_EQ(a.values()[x.inputs[i]].name, b.values()[y.inputs[i]].name);
    EXPECT_EQ(a.values()[x.output].shape, b.values()[y.output].shape);
    ASSERT_EQ(x.attrs.size(), y.attrs.size());
    for (auto& [k, v] : x.attrs) {
      ASSERT_TRUE(y.attrs.count(k)) << k;
      EXPECT_TRUE(same_attr(v, y.attrs.at(k))) << "attribute " << k;
    }
    ASSERT_EQ(x.params.size(), y.params.size());
    for (auto& [k, p] : x.params) {
      ASSERT_TRUE(y.params.count(k)) << k;
      const Param& q = *y.params.at(k);
      EXPECT_EQ(p->data.dtype(), q.data.dtype()) << k;
      EXPECT_EQ(p->data.shape(), q.data.shape()) << k;
      EXPECT_EQ(p->trainable, q.trainable) << k;
      EXPECT_TRUE(q.grad.defined()) << k;
      if (with_data && p->data.nbytes() == q.data.nbytes()) {
        EXPECT_EQ(std::memcmp(p->data.raw(), q.data.raw(), p->data.nbytes()), 0) << "data of " << k;
      }
    }
  }
}

// Every failure message: one line, naming the file.
inline ::testing::AssertionResult is_checkpoint_error(const std::string& msg, const std::string& path) {
  if (msg.find('\n') != std::string::npos || msg.find('\r') != std::string::npos)
    return ::testing::AssertionFailure() << "multi-line message: " << msg;
  if (msg.rfind("checkpoint " + path + ": ", 0) != 0)
    return ::testing::AssertionFailure() << "message does not start with 'checkpoint " << path << ": ': " << msg;
  return ::testing::AssertionSuccess();
}

}  // namespace nimble::testing_io
