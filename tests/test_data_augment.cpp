// RGB training augmentation: random resized crop (boxes, bilinear resampling), colour jitter, their
// seeding in the loader, and the validation of the options that turn them on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "data/internal.hpp"
#include "data_test_util.hpp"
#include "nimble/data/dataset.hpp"
#include "nimble/model.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/workflows/train.hpp"
#include "nimble/zoo/zoo.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble::data {
namespace {

using namespace testing;

// A 3-channel set whose pixels differ everywhere.
ImageSet colour_set(int64_t n, int64_t h, int64_t w) {
  const std::vector<uint8_t> px = pattern(size_t(n * 3 * h * w));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = int32_t(i % 4);
  return make_set(n, 3, h, w, px, labels, 4);
}

std::vector<float> epoch_images(BatchLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<float> out;
  Batch b;
  while (loader.next(b)) {
    const float* p = b.images.data<float>();
    out.insert(out.end(), p, p + b.images.numel());
  }
  return out;
}

std::vector<float> render(const std::vector<uint8_t>& src, int64_t c, int64_t h, int64_t w, const SampleTransform& t,
                          const std::vector<float>& scale, const std::vector<float>& bias) {
  std::vector<float> dst(src.size(), -99.0f);
  render_sample(dst.data(), src.data(), c, h, w, scale.data(), bias.data(), t);
  return dst;
}
std::vector<float> render_pixels(const std::vector<uint8_t>& src, int64_t c, int64_t h, int64_t w,
                                 const SampleTransform& t) {
  return render(src, c, h, w, t, std::vector<float>(size_t(c), 1.0f), std::vector<float>(size_t(c), 0.0f));
}

// The expected resized crop, written out directly: output (y, x) samples source position
// box_start + (i + 0.5) * box_len / n - 0.5 along each axis, clamped to the image, interpolated
// linearly between the two neighbouring pixels (double precision throughout).
double expected_bilinear(const std::vector<uint8_t>& plane, int64_t h, int64_t w, const SampleTransform& t, int64_t y,
                         int64_t x) {
  const auto coord = [](double start, double len, int64_t n, int64_t i, int64_t size) {
    const double p = start + (double(i) + 0.5) * len / double(n) - 0.5;
    return std::min(std::max(p, 0.0), double(size - 1));
  };
  const double sy = coord(t.box_y, t.box_h, h, y, h), sx = coord(t.box_x, t.box_w, w, x, w);
  const int64_t y0 = int64_t(sy), x0 = int64_t(sx);
  const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
  const double ay = sy - double(y0), ax = sx - double(x0);
  const auto at = [&](int64_t yy, int64_t xx) { return double(plane[size_t(yy * w + xx)]); };
  return (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x1)) + ay * ((1 - ax) * at(y1, x0) + ax * at(y1, x1));
}

TEST(AugmentResizedCrop, SameSeedEpochAndIndexGiveTheSameBatches) {
  const ImageSet s = colour_set(24, 12, 10);
  const Normalization norm{{0.4f, 0.5f, 0.6f}, {0.2f, 0.25f, 0.3f}};
  const Augment aug{.hflip = true, .crop_scale = 0.35f, .jitter = 0.4f};
  BatchLoader a(s, norm, 5, /*shuffle=*/false, false, aug, 17), b(s, norm, 5, false, false, aug, 17);
  const std::vector<float> a0 = epoch_images(a, 0), a1 = epoch_images(a, 1);
  EXPECT_EQ(a0, epoch_images(b, 0));
  EXPECT_EQ(a1, epoch_images(b, 1));
  EXPECT_EQ(a0, epoch_images(a, 0)) << "an epoch replayed gives the same images";
  EXPECT_NE(a0, a1) << "another epoch draws other crops and colours";
  BatchLoader other_seed(s, norm, 5, false, false, aug, 18);
  EXPECT_NE(a0, epoch_images(other_seed, 0));
  // The sample's transform depends on (seed, epoch, index) only: rendering it directly gives the batch row.
  const int64_t idx = 7, per = 3 * 12 * 10;
  Rng rng(mix_seed(17, 1, uint64_t(idx)));
  const SampleTransform t = draw_transform(aug, 12, 10, rng);
  EXPECT_GT(t.box_h, 0.0);
  std::vector<float> scale, bias;
  for (int c = 0; c < 3; ++c) scale.push_back(1.0f / (255.0f * norm.std[size_t(c)]));
  for (int c = 0; c < 3; ++c) bias.push_back(-norm.mean[size_t(c)] / norm.std[size_t(c)]);
  const std::vector<uint8_t> sample(s.images.data<uint8_t>() + idx * per, s.images.data<uint8_t>() + (idx + 1) * per);
  const std::vector<float> row = render(sample, 3, 12, 10, t, scale, bias);
  EXPECT_EQ(row, std::vector<float>(a1.begin() + idx * per, a1.begin() + (idx + 1) * per));
}

TEST(AugmentRender, FullBoxRendersThePlainNormalisedImage) {
  const int64_t c = 3, h = 7, w = 9;
  const std::vector<uint8_t> src = pattern(size_t(c * h * w), 3);
  const std::vector<float> scale{1.0f / (255.0f * 0.2f), 1.0f / (255.0f * 0.3f), 1.0f / 255.0f};
  const std::vector<float> bias{-0.4f / 0.2f, -0.5f / 0.3f, 0.0f};
  SampleTransform full;
  full.box_h = double(h), full.box_w = double(w);
  EXPECT_EQ(render(src, c, h, w, full, scale, bias), render(src, c, h, w, SampleTransform{}, scale, bias));
  // Flipping the full box is the plain flip.
  full.flip = true;
  SampleTransform flip;
  flip.flip = true;
  EXPECT_EQ(render(src, c, h, w, full, scale, bias), render(src, c, h, w, flip, scale, bias));
}

TEST(AugmentRender, LeftHalfOfAGradientIsStretchedBilinearly) {
  const int64_t h = 3, w = 8;
  std::vector<uint8_t> src(size_t(h * w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) src[size_t(y * w + x)] = uint8_t(10 + 30 * x);  // 10, 40, ..., 220
  SampleTransform t;
  t.box_y = 0, t.box_x = 0, t.box_h = double(h), t.box_w = double(w) / 2;
  const std::vector<float> out = render_pixels(src, 1, h, w, t);
  // Output column x samples source column (x + 0.5) / 2 - 0.5 (clamped at 0) of the linear ramp.
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double sx = std::max(0.0, (double(x) + 0.5) / 2.0 - 0.5);
      EXPECT_NEAR(out[size_t(y * w + x)], 10.0 + 30.0 * sx, 1e-4) << y << "," << x;
      EXPECT_NEAR(out[size_t(y * w + x)], expected_bilinear(src, h, w, t, y, x), 1e-4) << y << "," << x;
    }
  EXPECT_FLOAT_EQ(out[0], 10.0f);
  EXPECT_FLOAT_EQ(out[size_t(w - 1)], 10.0f + 30.0f * 3.25f);
  // The flip applies to the output.
  t.flip = true;
  const std::vector<float> flipped = render_pixels(src, 1, h, w, t);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) EXPECT_EQ(flipped[size_t(y * w + x)], out[size_t(y * w + (w - 1 - x))]);
}

TEST(AugmentRender, FractionalBoxMatchesADirectBilinearFormula) {
  const int64_t c = 2, h = 9, w = 11;
  const std::vector<uint8_t> src = pattern(size_t(c * h * w), 5);
  for (const SampleTransform& t : {SampleTransform{.box_y = 1.5, .box_x = 2.25, .box_h = 5.5, .box_w = 7.0},
                                   SampleTransform{.box_y = 0, .box_x = 4, .box_h = 9, .box_w = 7},
                                   SampleTransform{.box_y = 3, .box_x = 0, .box_h = 2.5, .box_w = 3.75}}) {
    const std::vector<float> out = render_pixels(src, c, h, w, t);
    for (int64_t ch = 0; ch < c; ++ch) {
      const std::vector<uint8_t> plane(src.begin() + ch * h * w, src.begin() + (ch + 1) * h * w);
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          EXPECT_NEAR(out[size_t((ch * h + y) * w + x)], expected_bilinear(plane, h, w, t, y, x), 1e-3)
              << t.box_y << "," << t.box_x << " " << ch << "," << y << "," << x;
    }
  }
}

TEST(AugmentDraw, ResizedCropBoxesLieInsideWithTheirAreaAndAspect) {
  struct Case {
    int64_t h, w;
    float scale;
  };
  for (const Case& k : {Case{28, 28, 0.08f}, Case{32, 32, 0.35f}, Case{24, 32, 0.5f}, Case{28, 28, 1.0f},
                        Case{12, 40, 0.35f}, Case{40, 12, 0.08f}, Case{5, 5, 0.35f}}) {
    const Augment aug{.crop_scale = k.scale};
    Rng rng(uint64_t(k.h * 100 + k.w));
    const double area = double(k.h * k.w);
    std::set<std::pair<double, double>> offsets;
    int fallbacks = 0, partial = 0;
    const int trials = 3000;
    for (int i = 0; i < trials; ++i) {
      const SampleTransform t = draw_transform(aug, k.h, k.w, rng);
      const std::string where = std::to_string(k.h) + "x" + std::to_string(k.w) + " draw " + std::to_string(i);
      ASSERT_GT(t.box_h, 0.0) << where;
      ASSERT_GT(t.box_w, 0.0) << where;
      EXPECT_EQ(t.box_h, std::floor(t.box_h)) << where;  // whole pixels, as torchvision
      EXPECT_EQ(t.box_w, std::floor(t.box_w)) << where;
      EXPECT_GE(t.box_y, 0.0) << where;
      EXPECT_GE(t.box_x, 0.0) << where;
      EXPECT_LE(t.box_y + t.box_h, double(k.h)) << where;
      EXPECT_LE(t.box_x + t.box_w, double(k.w)) << where;
      EXPECT_FALSE(t.flip);
      EXPECT_EQ(t.shift_x, 0);
      EXPECT_EQ(t.brightness, 1.0f);
      // Aspect w/h in [3/4, 4/3] up to rounding each side to whole pixels.
      EXPECT_GE((t.box_w + 0.5) / (t.box_h - 0.5), 0.75 - 1e-9) << where;
      EXPECT_LE((t.box_w - 0.5) / (t.box_h + 0.5), 4.0 / 3.0 + 1e-9) << where;
      // The fallback is the whole image centre-cropped to the nearest allowed aspect: full along one side.
      const bool fallback = (t.box_h == double(k.h) || t.box_w == double(k.w)) &&
                            std::abs(t.box_y - std::floor((double(k.h) - t.box_h) / 2)) < 1e-9 &&
                            std::abs(t.box_x - std::floor((double(k.w) - t.box_w) / 2)) < 1e-9;
      fallbacks += fallback;
      if (!fallback) {
        EXPECT_GE((t.box_h + 0.5) * (t.box_w + 0.5), double(k.scale) * area - 1e-9) << where;
      }
      EXPECT_LE(t.box_h * t.box_w, area) << where;
      partial += t.box_h * t.box_w < area;
      offsets.insert({t.box_y, t.box_x});
    }
    // Images of an allowed aspect rarely need the fallback; very wide or tall ones often do.
    const double aspect = double(k.w) / double(k.h);
    if (k.scale < 1.0f && k.h >= 12 && aspect >= 0.75 && aspect <= 4.0 / 3.0) {
      EXPECT_LT(fallbacks, trials / 10) << k.h << "x" << k.w;
      EXPECT_GT(partial, trials / 2) << k.h << "x" << k.w;
      EXPECT_GT(offsets.size(), 20u) << k.h << "x" << k.w;
    }
  }
}

TEST(AugmentDraw, JitterFactorsAreUniformInTheirRangeAndOffLeavesThemAtOne) {
  const Augment aug{.jitter = 0.3f};
  Rng rng(5);
  double sum[3] = {0, 0, 0};
  const int trials = 4000;
  for (int i = 0; i < trials; ++i) {
    const SampleTransform t = draw_transform(aug, 8, 8, rng);
    const float f[3] = {t.brightness, t.contrast, t.saturation};
    for (int k = 0; k < 3; ++k) {
      EXPECT_GE(f[k], 0.7f);
      EXPECT_LE(f[k], 1.3f);
      sum[k] += f[k];
    }
    EXPECT_EQ(t.box_h, 0.0);
  }
  for (double s : sum) EXPECT_NEAR(s / trials, 1.0, 0.02);
  Rng rng2(5);
  const SampleTransform off = draw_transform(Augment{.hflip = true}, 8, 8, rng2);
  EXPECT_TRUE(off.brightness == 1.0f && off.contrast == 1.0f && off.saturation == 1.0f);
}

TEST(AugmentJitter, BrightnessScalesPixelsAndClampsAt255) {
  const int64_t c = 3, h = 4, w = 5;
  std::vector<uint8_t> src = pattern(size_t(c * h * w), 1);
  SampleTransform t;
  t.brightness = 1.5f;
  const std::vector<float> out = render_pixels(src, c, h, w, t);
  for (size_t i = 0; i < src.size(); ++i) EXPECT_FLOAT_EQ(out[i], std::min(255.0f, float(src[i]) * 1.5f)) << i;
  t.brightness = 0.5f;
  const std::vector<float> dim = render_pixels(src, c, h, w, t);
  for (size_t i = 0; i < src.size(); ++i) EXPECT_FLOAT_EQ(dim[i], float(src[i]) * 0.5f) << i;
}

TEST(AugmentJitter, ContrastBlendsWithTheMeanGrey) {
  const int64_t h = 3, w = 4;
  std::vector<uint8_t> grey(size_t(h * w));
  double mean = 0;
  for (size_t i = 0; i < grey.size(); ++i) mean += grey[i] = uint8_t(20 + 15 * i);
  mean /= double(grey.size());
  SampleTransform t;
  t.contrast = 0.5f;
  const std::vector<float> out = render_pixels(grey, 1, h, w, t);
  for (size_t i = 0; i < grey.size(); ++i) EXPECT_NEAR(out[i], (grey[i] - mean) * 0.5 + mean, 1e-3) << i;
  // Colour: the mean is of the luma; a uniform colour has no contrast to change.
  std::vector<uint8_t> flat(size_t(3 * h * w));
  for (int64_t k = 0; k < h * w; ++k)
    flat[size_t(k)] = 200, flat[size_t(h * w + k)] = 50, flat[size_t(2 * h * w + k)] = 100;
  t.contrast = 1.8f;
  const std::vector<float> rgb = render_pixels(flat, 3, h, w, t);
  const double m = 0.299 * 200 + 0.587 * 50 + 0.114 * 100;
  for (int64_t ch = 0; ch < 3; ++ch) {
    const double v = flat[size_t(ch * h * w)];
    const double want = std::clamp((v - m) * 1.8 + m, 0.0, 255.0);
    EXPECT_NEAR(rgb[size_t(ch * h * w)], want, 1e-3) << ch;
  }
}

TEST(AugmentJitter, SaturationLeavesGreyImagesAloneAndScalesColourAboutTheLuma) {
  const int64_t h = 4, w = 6;
  const std::vector<uint8_t> one = pattern(size_t(h * w), 2);
  SampleTransform t;
  t.saturation = 1.7f;
  EXPECT_EQ(render_pixels(one, 1, h, w, t), render_pixels(one, 1, h, w, SampleTransform{})) << "one channel: no-op";
  std::vector<uint8_t> grey3;
  for (int c = 0; c < 3; ++c) grey3.insert(grey3.end(), one.begin(), one.end());
  const std::vector<float> out = render_pixels(grey3, 3, h, w, t);
  for (size_t i = 0; i < grey3.size(); ++i) EXPECT_NEAR(out[i], float(grey3[i]), 1e-3) << i;
  // A colour pixel moves away from its luma (s > 1) and onto it (s = 0).
  const std::vector<uint8_t> px{180, 60, 90};  // (3, 1, 1)
  const double g = 0.299 * 180 + 0.587 * 60 + 0.114 * 90;
  t.saturation = 0.0f;
  const std::vector<float> flat = render_pixels(px, 3, 1, 1, t);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(flat[size_t(c)], g, 1e-3);
  t.saturation = 1.5f;
  const std::vector<float> vivid = render_pixels(px, 3, 1, 1, t);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(vivid[size_t(c)], std::clamp((px[size_t(c)] - g) * 1.5 + g, 0.0, 255.0), 1e-3);
}

TEST(AugmentJitter, OutputsStayInTheNormalisedRangeOfPixelValues) {
  const ImageSet s = colour_set(64, 10, 12);
  const Normalization norm{{0.3f, 0.5f, 0.7f}, {0.2f, 0.3f, 0.25f}};
  BatchLoader loader(s, norm, 16, true, false, {.hflip = true, .crop_scale = 0.08f, .jitter = 1.0f}, 3);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    Batch b;
    while (loader.next(b)) {
      const float* p = b.images.data<float>();
      for (int64_t i = 0; i < b.count; ++i)
        for (int64_t c = 0; c < 3; ++c) {
          const float lo = -norm.mean[size_t(c)] / norm.std[size_t(c)];
          const float hi = (1.0f - norm.mean[size_t(c)]) / norm.std[size_t(c)];
          for (int64_t k = 0; k < 10 * 12; ++k) {
            const float v = p[(i * 3 + c) * 120 + k];
            ASSERT_GE(v, lo - 1e-4f);
            ASSERT_LE(v, hi + 1e-4f);
          }
        }
    }
  }
}

TEST(AugmentLoader, RejectsResizedCropWithPaddingAndOutOfRangeValues) {
  const ImageSet s = colour_set(8, 6, 6);
  const Normalization id{{0, 0, 0}, {1, 1, 1}};
  EXPECT_THROW(BatchLoader(s, id, 4, false, false, {.crop_padding = 2, .crop_scale = 0.5f}), Error);
  EXPECT_THROW(BatchLoader(s, id, 4, false, false, {.crop_scale = 1.5f}), Error);
  EXPECT_THROW(BatchLoader(s, id, 4, false, false, {.crop_scale = -0.1f}), Error);
  EXPECT_THROW(BatchLoader(s, id, 4, false, false, {.jitter = 1.2f}), Error);
  EXPECT_NO_THROW(BatchLoader(s, id, 4, false, false, {.crop_scale = 1.0f, .jitter = 1.0f}));
}

}  // namespace
}  // namespace nimble::data

namespace nimble {
namespace {

// The field an option error names, or "" when the options are valid.
std::string rejected_field(const TrainOptions& o) {
  try {
    o.validate();
  } catch (const OptionError& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    return e.field();
  }
  return "";
}

TEST(AugmentOptions, TrainRejectsCropScaleAndJitterOutOfRangeAndCropScaleWithPadding) {
  TrainOptions o;
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    o.crop_scale = bad;
    EXPECT_EQ(rejected_field(o), "crop_scale") << bad;
  }
  for (double good : {0.0, 0.08, 1.0}) {
    o.crop_scale = good;
    EXPECT_EQ(rejected_field(o), "") << good;
  }
  o.crop_scale = 0.35;
  o.crop_padding = 2;
  EXPECT_EQ(rejected_field(o), "crop_scale");
  try {
    o.validate();
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("crop_padding"), std::string::npos) << e.what();
  }
  o.crop_padding = 0;
  EXPECT_EQ(rejected_field(o), "");
  o = TrainOptions{};
  for (double bad : {-0.1, 1.01}) {
    o.jitter = bad;
    EXPECT_EQ(rejected_field(o), "jitter") << bad;
  }
  o.jitter = 0.4;
  EXPECT_EQ(rejected_field(o), "");
  o.resume = "x.nimble";
  EXPECT_EQ(rejected_field(o), "jitter") << "a resumed run takes its augmentation from the checkpoint";
}

TEST(AugmentOptions, FineTuningReusesTheRecipesCropScaleAndJitter) {
  zoo::ModelConfig c;
  c.input = {3, 12, 12};
  c.classes = 3;
  Model m(zoo::build(c));
  TrainRecipe r;
  r.crop_scale = 0.35, r.jitter = 0.25, r.hflip = true;
  m.provenance.recipe = r;
  const train::TrainConfig tc = workflow::fine_tune_config(m, 1, 0.01, 0, false);
  EXPECT_FLOAT_EQ(tc.augment.crop_scale, 0.35f);
  EXPECT_FLOAT_EQ(tc.augment.jitter, 0.25f);
  EXPECT_EQ(tc.augment.crop_padding, 0);
  EXPECT_TRUE(tc.augment.any());
}

}  // namespace
}  // namespace nimble
