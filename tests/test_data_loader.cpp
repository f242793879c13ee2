// BatchLoader (epochs, padding, seeding, threading, lifetime) and augmentation (crop, flip, erase).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <thread>

#include "data/internal.hpp"
#include "data_test_util.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {
namespace {

using namespace testing;

const Normalization kIdentity{{0.0f}, {1.0f}};  // value = pixel / 255

// Every batch of one epoch.
std::vector<Batch> epoch_batches(BatchLoader& loader, int64_t epoch, int sleep_every = 0) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) {
    out.push_back(b);
    if (sleep_every && out.size() % size_t(sleep_every) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  return out;
}

std::vector<int32_t> all_labels(const std::vector<Batch>& batches) {
  std::vector<int32_t> labels;
  for (const Batch& b : batches) labels.insert(labels.end(), b.labels.begin(), b.labels.begin() + b.count);
  return labels;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].count != b[i].count || a[i].labels != b[i].labels || a[i].images.shape() != b[i].images.shape())
      return false;
    if (std::memcmp(a[i].images.raw(), b[i].images.raw(), a[i].images.nbytes()) != 0) return false;
  }
  return true;
}

// A set whose pixels differ everywhere (so shifts and flips are identifiable) and avoid 127/128.
ImageSet textured_set(int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<uint8_t> px(size_t(n * c * h * w));
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(1 + (i * 7) % 120);  // 1..120: never black, never 127.5
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = int32_t(i);
  return make_set(n, c, h, w, px, labels, n);
}

TEST(BatchLoaderEpoch, EverySampleExactlyOnceWithPaddedLastBatch) {
  ImageSet s = indexed_set(103);
  BatchLoader loader(s, kIdentity, 10, /*shuffle=*/true, /*drop_last=*/false, {}, 42);
  EXPECT_EQ(loader.batches_per_epoch(), 11);
  std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 11u);
  for (size_t k = 0; k < batches.size(); ++k) {
    const Batch& b = batches[k];
    EXPECT_EQ(b.images.shape(), (Shape{10, 1, 4, 4}));
    EXPECT_EQ(b.images.dtype(), DType::f32);
    ASSERT_EQ(b.labels.size(), 10u);
    EXPECT_EQ(b.count, k + 1 < batches.size() ? 10 : 3);
    for (int64_t r = 0; r < 10; ++r) {
      const float* row = b.images.data<float>() + r * 16;
      if (r < b.count) {
        // pixels belong to the row's sample: sample i has every pixel == i
        for (int p = 0; p < 16; ++p) EXPECT_NEAR(row[p], float(b.labels[size_t(r)]) / 255.0f, 1e-6f);
      } else {
        EXPECT_EQ(b.labels[size_t(r)], -1);
        for (int p = 0; p < 16; ++p) EXPECT_EQ(row[p], 0.0f);
      }
    }
  }
  std::vector<int32_t> labels = all_labels(batches);
  std::set<int32_t> unique(labels.begin(), labels.end());
  EXPECT_EQ(labels.size(), 103u);
  EXPECT_EQ(unique.size(), 103u);
  EXPECT_EQ(*unique.begin(), 0);
  EXPECT_EQ(*unique.rbegin(), 102);
  std::vector<int32_t> in_order(103);
  std::iota(in_order.begin(), in_order.end(), 0);
  EXPECT_NE(labels, in_order) << "shuffle on";
  Batch b;
  EXPECT_FALSE(loader.next(b)) << "end of epoch stays the end";
}

TEST(BatchLoaderEpoch, DropLastAndNoShuffle) {
  ImageSet s = indexed_set(103);
  BatchLoader loader(s, kIdentity, 10, /*shuffle=*/false, /*drop_last=*/true, {}, 1);
  EXPECT_EQ(loader.batches_per_epoch(), 10);
  EXPECT_EQ(loader.batch_size(), 10);
  std::vector<Batch> batches = epoch_batches(loader, 3);
  ASSERT_EQ(batches.size(), 10u);
  for (const Batch& b : batches) EXPECT_EQ(b.count, 10);
  std::vector<int32_t> in_order(100);
  std::iota(in_order.begin(), in_order.end(), 0);
  EXPECT_EQ(all_labels(batches), in_order);

  // A batch larger than the set: one padded batch, or none with drop_last.
  BatchLoader big(s, kIdentity, 128, false, false, {}, 1);
  EXPECT_EQ(big.batches_per_epoch(), 1);
  auto one = epoch_batches(big, 0);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].count, 103);
  EXPECT_EQ(one[0].labels[127], -1);
  BatchLoader none(s, kIdentity, 128, false, true, {}, 1);
  EXPECT_EQ(none.batches_per_epoch(), 0);
  EXPECT_TRUE(epoch_batches(none, 0).empty());
}

TEST(BatchLoaderEpoch, NormalisesPerChannel) {
  // 1 image, 2 channels of 1x2.
  ImageSet s = make_set(1, 2, 1, 2, {0, 255, 51, 102}, {0}, 1);
  Normalization norm{{0.5f, 0.2f}, {0.25f, 0.1f}};
  BatchLoader loader(s, norm, 1, false, false, {}, 0);
  Batch b;
  ASSERT_TRUE(loader.next(b));  // no start_epoch: epoch 0
  const float* v = b.images.data<float>();
  EXPECT_NEAR(v[0], (0.0f - 0.5f) / 0.25f, 1e-5f);
  EXPECT_NEAR(v[1], (1.0f - 0.5f) / 0.25f, 1e-5f);
  EXPECT_NEAR(v[2], (0.2f - 0.2f) / 0.1f, 1e-5f);
  EXPECT_NEAR(v[3], (0.4f - 0.2f) / 0.1f, 1e-5f);
  EXPECT_FALSE(loader.next(b));
}

TEST(BatchLoaderSeed, SameSeedSameBatchesWhateverTheTiming) {
  ImageSet s = textured_set(57, 2, 6, 5);
  Normalization norm = compute_normalization(s);
  Augment aug{.crop_padding = 2, .hflip = true, .erase_prob = 0.5f};
  BatchLoader a(s, norm, 8, true, false, aug, 123), b(s, norm, 8, true, false, aug, 123);
  for (int64_t epoch : {0, 1}) {
    auto fast = epoch_batches(a, epoch);
    auto slow = epoch_batches(b, epoch, /*sleep_every=*/2);  // the worker runs far ahead here
    EXPECT_TRUE(same_batches(fast, slow)) << "epoch " << epoch;
  }
  BatchLoader c(s, norm, 8, true, false, aug, 124);
  EXPECT_FALSE(same_batches(epoch_batches(a, 0), epoch_batches(c, 0))) << "another seed, another run";
}

TEST(BatchLoaderSeed, DifferentEpochsDifferentOrder) {
  ImageSet s = indexed_set(200);
  BatchLoader loader(s, kIdentity, 16, true, false, {}, 5);
  const auto e0 = all_labels(epoch_batches(loader, 0));
  const auto e1 = all_labels(epoch_batches(loader, 1));
  const auto e0_again = all_labels(epoch_batches(loader, 0));
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, e0_again) << "an epoch's order depends only on (seed, epoch)";
  EXPECT_EQ(std::set<int32_t>(e1.begin(), e1.end()).size(), 200u);
}

TEST(BatchLoaderSeed, AugmentationDiffersAcrossEpochs) {
  ImageSet s = textured_set(16, 1, 8, 8);
  Augment aug{.crop_padding = 3, .hflip = true};
  BatchLoader loader(s, kIdentity, 16, /*shuffle=*/false, false, aug, 9);
  EXPECT_FALSE(same_batches(epoch_batches(loader, 0), epoch_batches(loader, 1)));
}

TEST(BatchLoaderLifetime, RestartMidEpoch) {
  ImageSet s = textured_set(90, 1, 5, 5);
  Augment aug{.crop_padding = 1, .hflip = true, .erase_prob = 0.5f};
  BatchLoader fresh(s, kIdentity, 7, true, false, aug, 77);
  const auto want0 = epoch_batches(fresh, 0), want1 = epoch_batches(fresh, 1);

  BatchLoader loader(s, kIdentity, 7, true, false, aug, 77);
  Batch b;
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next(b));
  ASSERT_TRUE(loader.next(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let the worker fill its queue
  EXPECT_TRUE(same_batches(epoch_batches(loader, 0), want0)) << "restart of the same epoch";
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next(b));
  EXPECT_TRUE(same_batches(epoch_batches(loader, 1), want1)) << "switch to another epoch mid-way";
}

TEST(BatchLoaderLifetime, DestroyMidEpochAndBeforeStart) {
  ImageSet s = textured_set(500, 3, 16, 16);
  Normalization norm = compute_normalization(s);
  for (int consumed : {0, 1, 5}) {
    BatchLoader loader(s, norm, 4, true, false, {.crop_padding = 2}, 1);
    loader.start_epoch(0);
    Batch b;
    for (int i = 0; i < consumed; ++i) ASSERT_TRUE(loader.next(b));
  }  // the destructor must stop and join the worker with batches pending
  { BatchLoader never_started(s, norm, 4, true, false, {}, 1); }
  SUCCEED();
}

TEST(BatchLoaderLifetime, KeepsTheSetAliveAndMoves) {
  std::unique_ptr<BatchLoader> loader;
  {
    ImageSet s = indexed_set(20);
    loader = std::make_unique<BatchLoader>(s, kIdentity, 20, false, false, Augment{}, 0);
  }  // the caller's set is gone; the loader's copy of the handle keeps the pixels
  BatchLoader moved = std::move(*loader);
  loader.reset();
  auto batches = epoch_batches(moved, 0);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_NEAR(batches[0].images.data<float>()[19 * 16 + 3], 19.0f / 255.0f, 1e-6f);
}

TEST(BatchLoaderArgs, BadArgumentsThrow) {
  ImageSet s = indexed_set(10);
  EXPECT_THROW(BatchLoader(s, kIdentity, 0, false, false), Error);
  EXPECT_THROW(BatchLoader(s, Normalization{{0.f, 0.f}, {1.f, 1.f}}, 4, false, false), Error);
  EXPECT_THROW(BatchLoader(s, Normalization{{0.f}, {0.f}}, 4, false, false), Error);
  EXPECT_THROW(BatchLoader(s, kIdentity, 4, false, false, {.erase_prob = 1.5f}), Error);
  EXPECT_THROW(BatchLoader(s, kIdentity, 4, false, false, {.crop_padding = -1}), Error);
  EXPECT_THROW(BatchLoader(ImageSet{}, kIdentity, 4, false, false), Error);
}

// The real data set through the loader with every augmentation: one full epoch, each sample once.
TEST(BatchLoaderFashionMnist, FullAugmentedEpoch) {
  IdxData d = load_idx_dir(kDefaultDataDir);
  Split split = split_validation(d.train, 5000, 0);
  Normalization norm = compute_normalization(split.train);
  BatchLoader loader(split.train, norm, 256, true, false, {.crop_padding = 2, .hflip = true, .erase_prob = 0.5f}, 0);
  EXPECT_EQ(loader.batches_per_epoch(), (55000 + 255) / 256);
  std::vector<int> per_class(10);
  int64_t rows = 0;
  loader.start_epoch(0);
  Batch b;
  while (loader.next(b)) {
    ASSERT_EQ(b.images.shape(), (Shape{256, 1, 28, 28}));
    rows += b.count;
    for (int64_t r = 0; r < b.count; ++r) per_class[size_t(b.labels[size_t(r)])]++;
  }
  EXPECT_EQ(rows, 55000);
  int total = 0;
  for (int c = 0; c < 10; ++c) total += per_class[size_t(c)];
  EXPECT_EQ(total, 55000);
}

// --- augmentation primitives ---

std::vector<float> render(const std::vector<uint8_t>& src, int64_t c, int64_t h, int64_t w, const SampleTransform& t,
                          float bias = 0.0f) {
  std::vector<float> dst(src.size(), -99.0f), scale(size_t(c), 1.0f), b(size_t(c), bias);
  render_sample(dst.data(), src.data(), c, h, w, scale.data(), b.data(), t);
  return dst;
}

TEST(AugmentRender, CropWithPaddingShiftsContent) {
  const int64_t c = 2, h = 4, w = 5;
  std::vector<uint8_t> src = pattern(size_t(c * h * w));
  for (auto& p : src) p = uint8_t(p | 1);  // never black, so padding is recognisable
  SampleTransform t;
  t.shift_y = 1;   // crop window one row down: content moves up
  t.shift_x = -2;  // two columns left: content moves right, black enters from the left
  const std::vector<float> out = render(src, c, h, w, t, /*bias=*/-0.5f);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y + 1, sx = x - 2;
        const float want = (sy < h && sx >= 0) ? float(src[size_t((ch * h + sy) * w + sx)]) - 0.5f
                                               : -0.5f;  // black padding, normalised
        EXPECT_EQ(out[size_t((ch * h + y) * w + x)], want) << ch << "," << y << "," << x;
      }
}

TEST(AugmentRender, FlipMirrors) {
  const int64_t c = 3, h = 2, w = 5;
  const std::vector<uint8_t> src = pattern(size_t(c * h * w));
  SampleTransform t;
  t.flip = true;
  const std::vector<float> out = render(src, c, h, w, t);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        EXPECT_EQ(out[size_t((ch * h + y) * w + x)], float(src[size_t((ch * h + y) * w + (w - 1 - x))]));
  // crop then flip (torchvision order): out(y, x) = src(y + sy, W-1-x + sx)
  t.shift_x = 1;
  const std::vector<float> both = render(src, 1, h, w, t);
  EXPECT_EQ(both[0], 0.0f);                       // x=0 reads column W: outside -> black
  EXPECT_EQ(both[1], float(src[size_t(w - 1)]));  // x=1 reads column W-1
}

TEST(AugmentRender, EraseFillsARectangleWithZero) {
  const int64_t c = 2, h = 6, w = 7;
  const std::vector<uint8_t> src = pattern(size_t(c * h * w));
  SampleTransform t;
  t.erase_y = 1, t.erase_x = 2, t.erase_h = 3, t.erase_w = 4;
  const std::vector<float> out = render(src, c, h, w, t, /*bias=*/0.25f);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const bool inside = y >= 1 && y < 4 && x >= 2 && x < 6;
        const size_t i = size_t((ch * h + y) * w + x);
        EXPECT_EQ(out[i], inside ? 0.0f : float(src[i]) + 0.25f) << ch << "," << y << "," << x;
      }
}

TEST(AugmentDraw, OffsetsFlipAndEraseBoxesInRange) {
  Augment aug{.crop_padding = 2, .hflip = true, .erase_prob = 1.0f};
  Rng rng(3);
  std::set<std::pair<int64_t, int64_t>> shifts;
  int flips = 0, erased = 0;
  const int trials = 4000;
  for (int i = 0; i < trials; ++i) {
    SampleTransform t = draw_transform(aug, 28, 28, rng);
    EXPECT_TRUE(t.shift_y >= -2 && t.shift_y <= 2 && t.shift_x >= -2 && t.shift_x <= 2);
    shifts.insert({t.shift_y, t.shift_x});
    flips += t.flip;
    if (t.erase_h == 0) continue;
    ++erased;
    EXPECT_GE(t.erase_y, 0);
    EXPECT_GE(t.erase_x, 0);
    EXPECT_LE(t.erase_y + t.erase_h, 28);
    EXPECT_LE(t.erase_x + t.erase_w, 28);
    const double area = double(t.erase_h * t.erase_w) / (28.0 * 28.0);
    EXPECT_GE(area, 0.012);  // 0.02..0.33 before rounding the sides to whole pixels
    EXPECT_LE(area, 0.36);
    const double aspect = double(t.erase_h) / double(t.erase_w);
    EXPECT_GE(aspect, 0.22);
    EXPECT_LE(aspect, 4.5);
  }
  EXPECT_EQ(shifts.size(), 25u) << "every offset of a 2-pixel padding occurs";
  EXPECT_NEAR(double(flips) / trials, 0.5, 0.05);
  EXPECT_GT(erased, trials * 95 / 100) << "erase_prob 1: nearly every draw finds a box";

  Rng rng2(4);
  Augment some{.erase_prob = 0.3f};
  erased = 0;
  for (int i = 0; i < trials; ++i) erased += draw_transform(some, 28, 28, rng2).erase_h > 0;
  EXPECT_NEAR(double(erased) / trials, 0.3, 0.04);
  Augment off{};
  SampleTransform t = draw_transform(off, 28, 28, rng2);
  EXPECT_TRUE(t.shift_x == 0 && t.shift_y == 0 && !t.flip && t.erase_h == 0);
}

// --- augmentation as the loader applies it ---

// Normalised value of a pixel under `norm` with one channel.
float normalised(uint8_t p, const Normalization& norm) { return (float(p) / 255.0f - norm.mean[0]) / norm.std[0]; }

TEST(AugmentLoader, CropOutputIsAShiftedSampleWithBlackPadding) {
  const int64_t h = 6, w = 7, pad = 2;
  ImageSet s = textured_set(30, 1, h, w);
  Normalization norm{{0.3f}, {0.2f}};
  BatchLoader loader(s, norm, 30, false, false, {.crop_padding = pad}, 11);
  auto batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  std::set<std::pair<int, int>> used;
  for (int64_t r = 0; r < 30; ++r) {
    const float* out = batches[0].images.data<float>() + r * h * w;
    const uint8_t* src = s.images.data<uint8_t>() + r * h * w;
    bool found = false;
    for (int dy = -pad; dy <= pad && !found; ++dy)
      for (int dx = -pad; dx <= pad && !found; ++dx) {
        bool ok = true;
        for (int64_t y = 0; y < h && ok; ++y)
          for (int64_t x = 0; x < w && ok; ++x) {
            const int64_t sy = y + dy, sx = x + dx;
            const uint8_t p = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? src[sy * w + sx] : 0;
            ok = std::fabs(out[y * w + x] - normalised(p, norm)) < 1e-5f;
          }
        if (ok) found = true, used.insert({dy, dx});
      }
    EXPECT_TRUE(found) << "row " << r << " is not a padded crop of its sample";
  }
  EXPECT_GT(used.size(), 5u) << "offsets vary between samples";
}

TEST(AugmentLoader, FlipOutputIsTheSampleOrItsMirror) {
  const int64_t h = 3, w = 5;
  ImageSet s = textured_set(64, 1, h, w);
  BatchLoader loader(s, kIdentity, 64, false, false, {.hflip = true}, 2);
  auto batches = epoch_batches(loader, 0);
  int mirrored = 0;
  for (int64_t r = 0; r < 64; ++r) {
    const float* out = batches[0].images.data<float>() + r * h * w;
    const uint8_t* src = s.images.data<uint8_t>() + r * h * w;
    bool same = true, mirror = true;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        same &= std::fabs(out[y * w + x] - src[y * w + x] / 255.0f) < 1e-6f;
        mirror &= std::fabs(out[y * w + x] - src[y * w + (w - 1 - x)] / 255.0f) < 1e-6f;
      }
    EXPECT_TRUE(same || mirror) << "row " << r;
    mirrored += mirror;
  }
  EXPECT_GT(mirrored, 16);
  EXPECT_LT(mirrored, 48);
}

TEST(AugmentLoader, ErasedPixelsFormOneRectangleOfZeros) {
  const int64_t c = 2, h = 20, w = 20;
  ImageSet s = textured_set(40, c, h, w);
  Normalization norm{{0.5f, 0.5f}, {0.5f, 0.5f}};  // textured pixels never normalise to exactly 0
  BatchLoader loader(s, norm, 40, false, false, {.erase_prob = 1.0f}, 8);
  auto batches = epoch_batches(loader, 0);
  int erased_rows = 0;
  for (int64_t r = 0; r < 40; ++r) {
    const float* out = batches[0].images.data<float>() + r * c * h * w;
    int64_t y0 = h, y1 = -1, x0 = w, x1 = -1, zeros = 0;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        if (out[y * w + x] == 0.0f) {
          ++zeros;
          y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x), x1 = std::max(x1, x);
        }
    if (zeros == 0) continue;
    ++erased_rows;
    EXPECT_EQ(zeros, (y1 - y0 + 1) * (x1 - x0 + 1)) << "row " << r << ": zeros are not a filled rectangle";
    const double frac = double(zeros) / double(h * w);
    EXPECT_GE(frac, 0.012);
    EXPECT_LE(frac, 0.36);
    // the same rectangle in every channel
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) EXPECT_EQ(out[y * w + x] == 0.0f, out[h * w + y * w + x] == 0.0f);
  }
  EXPECT_GE(erased_rows, 36);
}

}  // namespace
}  // namespace nimble::data
