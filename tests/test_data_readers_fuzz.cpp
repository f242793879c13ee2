// Mutation fuzz for the data-file readers: random byte mutations of a valid PNG, JPEG, .npy and .npz.
// Every read must either succeed or throw nimble::Error with one line naming the file: never another
// exception, a crash, a hang, or (in the NIMBLE_ASAN build) a memory error. PNG mutations are re-signed
// (chunk CRCs recomputed) half of the time so they reach libpng's decoder behind the CRC check.
//
// Deterministic by default; NIMBLE_FUZZ_SEED=<n> picks another seed and NIMBLE_FUZZ_SCALE=<k> multiplies
// the iteration counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <random>

#include "data/image_decode.hpp"
#include "data/npy.hpp"
#include "data_readers_util.hpp"

namespace nimble::data {
namespace {

using namespace testing;

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}
uint64_t fuzz_seed() { return env_u64("NIMBLE_FUZZ_SEED", 20240620); }
int fuzz_iters(int base) { return base * int(std::max<uint64_t>(1, env_u64("NIMBLE_FUZZ_SCALE", 1))); }

// One to four random edits; `hot` bytes at the start (a header) are hit more often than the rest.
std::vector<uint8_t> mutate(const std::vector<uint8_t>& src, std::mt19937_64& rng, size_t hot) {
  std::vector<uint8_t> b = src;
  auto pick = [&](size_t n) { return n ? size_t(rng() % n) : 0; };
  auto position = [&] { return (rng() % 2 && hot) ? pick(std::min(hot, b.size())) : pick(b.size()); };
  const int edits = 1 + int(rng() % 4);
  for (int e = 0; e < edits && !b.empty(); ++e) {
    switch (rng() % 7) {
      case 0:
        b[position()] ^= uint8_t(1u << (rng() % 8));
        break;
      case 1:
        b[position()] = uint8_t(rng());
        break;
      case 2: {
        constexpr uint8_t kInteresting[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE};
        b[position()] = kInteresting[rng() % sizeof kInteresting];
        break;
      }
      case 3:
        b.resize(pick(b.size()));
        break;
      case 4: {
        const size_t at = position(), n = std::min(b.size() - at, 1 + pick(16));
        b.erase(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + n));
        break;
      }
      case 5: {
        const size_t at = position();
        std::vector<uint8_t> ins(1 + pick(16));
        for (auto& v : ins) v = uint8_t(rng());
        b.insert(b.begin() + std::ptrdiff_t(at), ins.begin(), ins.end());
        break;
      }
      default: {
        const size_t at = pick(b.size()), n = std::min(b.size() - at, 1 + pick(64));
        const std::vector<uint8_t> copy(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + n));
        b.insert(b.begin() + std::ptrdiff_t(pick(b.size())), copy.begin(), copy.end());
        break;
      }
    }
  }
  return b;
}

struct Tally {
  int read = 0, rejected = 0;
  std::map<std::string, int> reasons;  // message without the name, digits masked
};

// Runs `read`; a nimble::Error must be one line starting with "<name>: ".
void run_one(const std::function<void()>& read, const std::string& name, Tally& tally) {
  try {
    read();
    ++tally.read;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(name + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    ++tally.rejected;
    std::string key;
    for (char c : msg.substr(std::min(msg.size(), name.size() + 2), 40)) key += (c >= '0' && c <= '9') ? '#' : c;
    ++tally.reasons[key];
  } catch (const std::exception& e) {
    ADD_FAILURE() << name << ": non-nimble exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << name << ": unknown exception";
  }
}

// The counts and the commonest reasons (every reason with NIMBLE_FUZZ_VERBOSE=1): shows what the fuzz reached.
void print(const char* what, const Tally& t) {
  std::cout << "[fuzz] " << what << ": " << t.read << " read, " << t.rejected << " rejected, " << t.reasons.size()
            << " distinct reasons\n";
  std::vector<std::pair<int, std::string>> top;
  for (const auto& [reason, n] : t.reasons) top.emplace_back(n, reason);
  std::sort(top.rbegin(), top.rend());
  const size_t shown = std::getenv("NIMBLE_FUZZ_VERBOSE") ? top.size() : 4;
  for (size_t i = 0; i < top.size() && i < shown; ++i)
    std::cout << "[fuzz]   " << top[i].first << "x " << top[i].second << "\n";
}

void fuzz_image(const char* what, const std::vector<uint8_t>& good, bool png, size_t hot) {
  std::mt19937_64 rng(fuzz_seed() ^ std::hash<std::string>{}(what));
  Tally tally;
  const int iters = fuzz_iters(1000);
  for (int i = 0; i < iters; ++i) {
    std::vector<uint8_t> bad = mutate(good, rng, hot);
    if (png && rng() % 2) fix_png_crcs(bad);
    constexpr int kChannels[] = {0, 1, 3};
    const int channels = kChannels[rng() % 3];
    run_one(
        [&] {
          const DecodedImage img = decode_image(bad.data(), bad.size(), channels, "fuzz.img");
          EXPECT_EQ(img.pixels.size(), size_t(img.height * img.width * img.channels));
        },
        "fuzz.img", tally);
  }
  print(what, tally);
  EXPECT_GT(tally.rejected, 0);
}

TEST(DataReadersFuzz, Png) {
  const std::vector<uint8_t> rgba = pattern(size_t(19 * 11 * 4), 3);
  fuzz_image("png rgba", png_bytes(19, 11, PNG_FORMAT_RGBA, rgba.data()), true, 64);
  std::vector<uint8_t> index(size_t(17 * 5)), map = pattern(3 * 8, 2);
  for (size_t i = 0; i < index.size(); ++i) index[i] = uint8_t(i % 8);
  fuzz_image("png palette", png_bytes(17, 5, PNG_FORMAT_RGB_COLORMAP, index.data(), map.data(), 8), true, 64);
}

TEST(DataReadersFuzz, Jpeg) {
  const std::vector<uint8_t> px = smooth_image(24, 16, 3);
  const std::vector<uint8_t> jpg = jpeg_bytes(24, 16, TJPF_RGB, px.data(), TJSAMP_420);
  fuzz_image("jpeg 4:2:0", jpg, false, 700);
  const std::vector<uint8_t> grey = smooth_image(9, 9, 1);
  fuzz_image("jpeg grey", jpeg_bytes(9, 9, TJPF_GRAY, grey.data(), TJSAMP_GRAY), false, 300);
}

TEST(DataReadersFuzz, Npy) {
  std::mt19937_64 rng(fuzz_seed() ^ 0x4e5059);
  const std::vector<std::vector<uint8_t>> goods = {npy_bytes("<f4", "(2, 3)", pattern(24, 1)),
                                                   npy_bytes(">i8", "(3, 1)", pattern(24, 2), true),
                                                   npy_bytes("|b1", "()", {1}, false, 2)};
  Tally tally;
  for (int i = 0; i < fuzz_iters(1000); ++i) {
    const std::vector<uint8_t> bad = mutate(goods[size_t(i) % goods.size()], rng, 80);
    run_one(
        [&] {
          const NpyArray a = parse_npy(bad.data(), bad.size(), "fuzz.npy");
          EXPECT_EQ(a.data.size(), size_t(a.numel()) * npy_type_size(a.type));
        },
        "fuzz.npy", tally);
  }
  print("npy", tally);
  EXPECT_GT(tally.rejected, 0);
}

TEST(DataReadersFuzz, Npz) {
  std::mt19937_64 rng(fuzz_seed() ^ 0x4e505a);
  TempDir dir;
  std::vector<std::vector<uint8_t>> goods;
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> members = {
      {"a.npy", npy_bytes("<f4", "(8,)", pattern(32, 1))}, {"b.npy", npy_bytes("|u1", "(2, 2)", pattern(4, 2))}};
  for (bool deflate : {false, true}) {
    write_npz(dir / "good.npz", members, deflate);
    goods.push_back(read_bytes(dir / "good.npz"));
  }
  const std::string path = dir / "fuzz.npz";
  Tally tally;
  for (int i = 0; i < fuzz_iters(1000); ++i) {
    write_file(path, mutate(goods[size_t(i) % goods.size()], rng, 0), false);
    run_one(
        [&] {
          for (const auto& [key, a] : read_npz_file(path))
            EXPECT_EQ(a.data.size(), size_t(a.numel()) * npy_type_size(a.type)) << key;
        },
        path, tally);
  }
  print("npz", tally);
  EXPECT_GT(tally.rejected, 0);
}

}  // namespace
}  // namespace nimble::data
