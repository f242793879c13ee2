// Corruption fuzz for `.nimble` checkpoints and graph JSON. Every load must either succeed or throw
// nimble::Error with a one-line message naming the file: never another exception, a crash, a hang,
// or (in the NIMBLE_ASAN build) a memory error. Byte flips and truncations must all be detected,
// since every byte of the file is covered by a check. Mutations behind a re-signed header CRC reach
// the JSON, table and graph validators that the CRC would otherwise shield.
//
// Deterministic by default; NIMBLE_FUZZ_SEED=<n> picks another seed and NIMBLE_FUZZ_SCALE=<k>
// multiplies the iteration counts, for longer runs; NIMBLE_FUZZ_VERBOSE=1 lists every rejection reason.
#include <cstdlib>
#include <iostream>
#include <map>

#include "test_checkpoint_util.hpp"

namespace nimble::testing_io {
namespace {

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}
uint64_t fuzz_seed() { return env_u64("NIMBLE_FUZZ_SEED", 20240601); }
int fuzz_iters(int base) { return base * int(std::max<uint64_t>(1, env_u64("NIMBLE_FUZZ_SCALE", 1))); }

// Tallies outcomes; prints a short summary so a run shows what the fuzz actually reached.
struct Tally {
  int loaded = 0, rejected = 0;
  std::map<std::string, int> reasons;  // message with the file prefix and digits removed
  void add_rejection(const std::string& msg, const std::string& prefix) {
    ++rejected;
    std::string r = msg.substr(std::min(msg.size(), prefix.size()));
    std::string key;
    for (char c : r.substr(0, 48)) key += (c >= '0' && c <= '9') ? '#' : c;
    ++reasons[key];
  }
  void print(const char* what) const {
    std::cout << "[fuzz] " << what << ": " << loaded << " loaded, " << rejected << " rejected, " << reasons.size()
              << " distinct reasons\n";
    std::vector<std::pair<int, std::string>> top;
    for (auto& [k, n] : reasons) top.emplace_back(n, k);
    std::sort(top.rbegin(), top.rend());
    const size_t shown = std::getenv("NIMBLE_FUZZ_VERBOSE") ? top.size() : 6;  // every reason when asked
    for (size_t i = 0; i < top.size() && i < shown; ++i)
      std::cout << "[fuzz]   " << top[i].first << "x " << top[i].second << "\n";
  }
};

// Loads `path`: true when it loaded. Any non-nimble exception is a test failure.
bool try_load(const std::string& path, Tally& tally) {
  try {
    io::Checkpoint ck = io::load_checkpoint(path);
    ck.graph.validate();
    ++tally.loaded;
    return true;
  } catch (const Error& e) {
    EXPECT_TRUE(is_checkpoint_error(e.what(), path));
    tally.add_rejection(e.what(), "checkpoint " + path + ": ");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-nimble exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "non-std exception";
  }
  return false;
}

class CheckpointFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("fuzz.nimble");
    io::save_checkpoint(small_graph(), path_, R"({"lr":0.1,"norm":{"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2]}})");
    good_ = read_bytes(path_);
    header_end_ = 24 + get_le(good_.data() + 12, 8);
    data_offset_ = (header_end_ + 63) / 64 * 64;
    std::cout << "[fuzz] seed " << fuzz_seed() << ", file " << good_.size() << " bytes, header " << header_end_ - 24
              << " bytes, data section at " << data_offset_ << "\n";
  }
  TempDir dir_;
  std::string path_;
  Bytes good_;
  uint64_t header_end_ = 0, data_offset_ = 0;
};

TEST_F(CheckpointFuzz, ByteFlipsAreAllDetected) {
  Rng rng(fuzz_seed());
  Tally tally;
  const int iters = fuzz_iters(1200);
  for (int it = 0; it < iters; ++it) {
    Bytes b = good_;
    const int flips = 1 + int(rng.below(8));
    for (int f = 0; f < flips; ++f) {
      // Half the flips aim at the prefix and header, where the parsing happens.
      const uint64_t range = rng.below(2) ? data_offset_ : b.size();
      const uint64_t pos = rng.below(range);
      const uint64_t burst = rng.below(4) == 0 ? 1 + rng.below(16) : 1;  // sometimes a run of bytes
      for (uint64_t k = 0; k < burst && pos + k < b.size(); ++k) b[pos + k] ^= uint8_t(1 + rng.below(255));
    }
    write_bytes(path_, b);
    SCOPED_TRACE("iteration " + std::to_string(it));
    const bool loaded = try_load(path_, tally);
    if (b != good_) {
      EXPECT_FALSE(loaded) << "a corrupted file loaded";
    }
  }
  tally.print("byte flips");
  EXPECT_GE(tally.rejected, iters * 9 / 10);
}

TEST_F(CheckpointFuzz, TruncationsAreAllDetected) {
  Rng rng(fuzz_seed() + 1);
  Tally tally;
  std::vector<uint64_t> lengths = {0,
                                   1,
                                   7,
                                   8,
                                   9,
                                   12,
                                   20,
                                   23,
                                   24,
                                   25,
                                   header_end_ - 1,
                                   header_end_,
                                   header_end_ + 1,
                                   data_offset_ - 1,
                                   data_offset_,
                                   data_offset_ + 1,
                                   good_.size() - 1};
  for (int i = 0; i < fuzz_iters(250); ++i) lengths.push_back(rng.below(good_.size()));
  for (uint64_t len : lengths) {
    write_bytes(path_, Bytes(good_.begin(), good_.begin() + std::ptrdiff_t(len)));
    SCOPED_TRACE("length " + std::to_string(len));
    EXPECT_FALSE(try_load(path_, tally)) << "a truncated file loaded";
  }
  // Appending is caught as well.
  for (int extra : {1, 63, 64, 1000}) {
    Bytes b = good_;
    b.resize(b.size() + size_t(extra), 0);
    write_bytes(path_, b);
    EXPECT_FALSE(try_load(path_, tally)) << "a file with " << extra << " trailing bytes loaded";
  }
  tally.print("truncations");
}

// Header byte flips with the CRC fixed up: the JSON parser and validators see the damage.
TEST_F(CheckpointFuzz, ResignedHeaderByteFlips) {
  Rng rng(fuzz_seed() + 2);
  Tally tally;
  const Parts parts = split(good_);
  const std::string tokens[] = {"{",
                                "}",
                                "[",
                                "]",
                                ",",
                                ":",
                                "\"",
                                "0",
                                "-",
                                "9",
                                "e",
                                ".",
                                "1e999",
                                "null",
                                "true",
                                "\\",
                                "\\u0000",
                                "18446744073709551616",
                                "-9223372036854775809",
                                "2147483648"};
  for (int it = 0; it < fuzz_iters(1000); ++it) {
    std::string h = parts.header;
    const int edits = 1 + int(rng.below(3));
    for (int e = 0; e < edits && !h.empty(); ++e) {
      const size_t pos = size_t(rng.below(h.size()));
      switch (rng.below(4)) {
        case 0:
          h[pos] = char(rng.below(256));
          break;
        case 1:
          h.erase(pos, 1 + size_t(rng.below(8)));
          break;
        case 2:
          h.insert(pos, tokens[rng.below(std::size(tokens))]);
          break;
        default:
          h[pos] = "0123456789"[rng.below(10)];
          break;  // a digit for a digit: often still valid JSON
      }
    }
    write_bytes(path_, assemble(h, parts.data));
    SCOPED_TRACE("iteration " + std::to_string(it));
    try_load(path_, tally);
  }
  tally.print("re-signed header byte edits");
}

// Replaces one value anywhere in the header JSON (graph, attributes, table, sizes) with a hostile
// one, keeping the JSON valid and the CRC right: the deepest validators get exercised.
void collect(json& j, std::vector<json*>& out) {
  out.push_back(&j);
  if (j.is_object() || j.is_array())
    for (auto& v : j) collect(v, out);
}

json hostile_value(Rng& rng) {
  switch (rng.below(16)) {
    case 0:
      return int64_t(rng.below(5)) - 1;
    case 1:
      return int64_t(1) << (30 + rng.below(34));
    case 2:
      return std::numeric_limits<int64_t>::min();
    case 3:
      return std::numeric_limits<uint64_t>::max();
    case 4:
      return 2147483647;
    case 5:
      return 0.5;
    case 6:
      return "";
    case 7:
      return std::vector<std::string>{
          "conv2d", "linear", "relu", "f32", "bf16", "s8", "stem.conv.weights"}[rng.below(7)];
    case 8:
      return nullptr;
    case 9:
      return true;
    case 10:
      return json::array();
    case 11:
      return json::object();
    case 12:
      return json::array({int64_t(rng.below(40)), int64_t(rng.below(40))});
    case 13:
      return json::array({8, 3, 3, 3});
    case 14:
      return {{"float", "nan"}};
    default:
      return int64_t(rng.below(100));
  }
}

TEST_F(CheckpointFuzz, ResignedStructuredMutations) {
  Rng rng(fuzz_seed() + 3);
  Tally tally;
  const Parts parts = split(good_);
  const json base = json::parse(parts.header);
  for (int it = 0; it < fuzz_iters(1000); ++it) {
    json h = base;
    const int edits = 1 + int(rng.below(2));
    for (int e = 0; e < edits; ++e) {
      std::vector<json*> all;
      collect(h, all);
      json* target = all[rng.below(all.size())];
      if (rng.below(5) == 0 && target->is_object() && !target->empty()) {
        auto k = target->begin();
        std::advance(k, std::ptrdiff_t(rng.below(target->size())));
        target->erase(k.key());  // drop a key
      } else if (rng.below(5) == 0 && target->is_array() && !target->empty()) {
        target->push_back((*target)[rng.below(target->size())]);  // duplicate an element
      } else {
        *target = hostile_value(rng);
      }
    }
    write_bytes(path_, assemble(h.dump(), parts.data));
    SCOPED_TRACE("iteration " + std::to_string(it) + ": " + h.dump().substr(0, 200));
    try_load(path_, tally);
  }
  tally.print("re-signed structured mutations");
  EXPECT_GT(tally.reasons.size(), 20u) << "the mutations should reach many different checks";
}

// graph_from_json on mutated text: Error or success, nothing else.
TEST(GraphJsonFuzz, MutatedTextOnlyThrowsError) {
  Rng rng(fuzz_seed() + 4);
  const std::string text = io::graph_to_json(small_graph());
  int loaded = 0, rejected = 0;
  for (int it = 0; it < fuzz_iters(2000); ++it) {
    std::string t = text;
    const int edits = 1 + int(rng.below(4));
    for (int e = 0; e < edits && !t.empty(); ++e) {
      const size_t pos = size_t(rng.below(t.size()));
      switch (rng.below(4)) {
        case 0:
          t[pos] = char(rng.below(256));
          break;
        case 1:
          t.erase(pos, 1 + size_t(rng.below(16)));
          break;
        case 2:
          t.insert(pos, t.substr(size_t(rng.below(t.size())), 1 + size_t(rng.below(16))));
          break;
        default:
          t[pos] = "{}[],:\"0123456789-.e"[rng.below(21)];
          break;
      }
    }
    try {
      io::graph_from_json(t);
      ++loaded;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("graph JSON: ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-nimble exception: " << e.what();
    }
  }
  std::cout << "[fuzz] graph JSON text edits: " << loaded << " loaded, " << rejected << " rejected\n";
}

}  // namespace
}  // namespace nimble::testing_io
