// Per-sample augmentation: random crop after zero padding or random resized crop, horizontal flip,
// random erasing, colour jitter.
#include <algorithm>
#include <cmath>
#include <vector>

#include "data/internal.hpp"

namespace nimble::data {

namespace {

constexpr double kMinAspect = 3.0 / 4.0, kMaxAspect = 4.0 / 3.0;  // resized-crop box width / height

// The resized-crop box: up to 10 tries at an area fraction in [scale, 1] and a log-uniform aspect
// ratio, kept when it fits; otherwise the whole image, centre-cropped to the nearest allowed aspect.
void draw_resized_crop(SampleTransform& t, double scale, int64_t height, int64_t width, Rng& rng) {
  const double area = double(height) * double(width);
  const double log_lo = std::log(kMinAspect), log_hi = std::log(kMaxAspect);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale + (1.0 - scale) * double(rng.uniform()));
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * double(rng.uniform()));
    const int64_t w = std::llround(std::sqrt(target * aspect)), h = std::llround(std::sqrt(target / aspect));
    if (w < 1 || h < 1 || w > width || h > height) continue;
    t.box_h = double(h), t.box_w = double(w);
    t.box_y = double(rng.below(uint64_t(height - h + 1)));
    t.box_x = double(rng.below(uint64_t(width - w + 1)));
    return;
  }
  const double aspect = double(width) / double(height);
  int64_t h = height, w = width;
  if (aspect < kMinAspect)
    h = std::clamp<int64_t>(std::llround(double(width) / kMinAspect), 1, height);
  else if (aspect > kMaxAspect)
    w = std::clamp<int64_t>(std::llround(double(height) * kMaxAspect), 1, width);
  t.box_h = double(h), t.box_w = double(w);
  const int64_t top = (height - h) / 2, left = (width - w) / 2;  // whole pixels
  t.box_y = double(top), t.box_x = double(left);
}

// Bilinear taps along one axis: output i of n reads source positions lo[i] and hi[i] of a `size`-long
// axis with weight frac[i] on hi, sampling [start, start + len) at half-pixel centres.
struct Taps {
  std::vector<int64_t> lo, hi;
  std::vector<float> frac;
};
Taps bilinear_taps(double start, double len, int64_t n, int64_t size) {
  Taps t;
  t.lo.resize(size_t(n)), t.hi.resize(size_t(n)), t.frac.resize(size_t(n));
  const double step = len / double(n);
  for (int64_t i = 0; i < n; ++i) {
    const double pos = std::clamp(start + (double(i) + 0.5) * step - 0.5, 0.0, double(size - 1));
    const int64_t lo = int64_t(std::floor(pos));
    t.lo[size_t(i)] = lo;
    t.hi[size_t(i)] = std::min(lo + 1, size - 1);
    t.frac[size_t(i)] = float(pos - double(lo));
  }
  return t;
}

// Pixel values (unnormalised) of the box of `src` resampled to height x width, flipped if asked.
void resample_box(float* dst /* (C, H, W) */, const uint8_t* src /* (C, H, W) */, int64_t channels, int64_t height,
                  int64_t width, const SampleTransform& t) {
  const Taps ty = bilinear_taps(t.box_y, t.box_h, height, height);
  const Taps tx = bilinear_taps(t.box_x, t.box_w, width, width);
  const int64_t plane = height * width;
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* s = src + c * plane;
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* r0 = s + ty.lo[size_t(y)] * width;
      const uint8_t* r1 = s + ty.hi[size_t(y)] * width;
      const float fy = ty.frac[size_t(y)];
      float* row = dst + c * plane + y * width;
      for (int64_t x = 0; x < width; ++x) {
        const size_t k = size_t(t.flip ? width - 1 - x : x);
        const int64_t x0 = tx.lo[k], x1 = tx.hi[k];
        const float fx = tx.frac[k];
        const float top = float(r0[x0]) * (1.0f - fx) + float(r0[x1]) * fx;
        const float bottom = float(r1[x0]) * (1.0f - fx) + float(r1[x1]) * fx;
        row[x] = top * (1.0f - fy) + bottom * fy;
      }
    }
  }
}

float clamp_pixel(float v) { return std::clamp(v, 0.0f, 255.0f); }

// Brightness, contrast, saturation on pixel values in [0, 255] (see render_sample).
void apply_jitter(float* px /* (C, H, W) */, int64_t channels, int64_t plane, const SampleTransform& t) {
  const int64_t n = channels * plane;
  if (t.brightness != 1.0f)
    for (int64_t k = 0; k < n; ++k) px[k] = clamp_pixel(px[k] * t.brightness);
  const auto luma = [&](int64_t k) { return 0.299f * px[k] + 0.587f * px[plane + k] + 0.114f * px[2 * plane + k]; };
  if (t.contrast != 1.0f) {
    double sum = 0;
    if (channels == 3)
      for (int64_t k = 0; k < plane; ++k) sum += double(luma(k));
    else
      for (int64_t k = 0; k < n; ++k) sum += double(px[k]);
    const float mean = float(sum / double(channels == 3 ? plane : n));
    for (int64_t k = 0; k < n; ++k) px[k] = clamp_pixel((px[k] - mean) * t.contrast + mean);
  }
  if (t.saturation != 1.0f && channels == 3)
    for (int64_t k = 0; k < plane; ++k) {
      const float grey = luma(k);
      for (int64_t c = 0; c < 3; ++c) {
        float& v = px[c * plane + k];
        v = clamp_pixel((v - grey) * t.saturation + grey);
      }
    }
}

// Pad-then-crop and flip of `src`, normalised: pixel * scale[c] + bias[c] (black padding: bias[c]).
void shift_and_flip(float* dst /* (C, H, W) */, const uint8_t* src /* (C, H, W) */, int64_t channels, int64_t height,
                    int64_t width, const float* scale, const float* bias, const SampleTransform& t) {
  const int64_t plane = height * width;
  const bool identity = t.shift_y == 0 && t.shift_x == 0 && !t.flip;
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* s = src + c * plane;
    float* d = dst + c * plane;
    const float sc = scale[c], b = bias[c];  // b is what a black (padding) pixel normalises to
    if (identity) {
      for (int64_t k = 0; k < plane; ++k) d[k] = float(s[k]) * sc + b;
      continue;
    }
    for (int64_t y = 0; y < height; ++y) {
      float* row = d + y * width;
      const int64_t sy = y + t.shift_y;
      if (sy < 0 || sy >= height) {
        std::fill_n(row, width, b);
        continue;
      }
      const uint8_t* srow = s + sy * width;
      for (int64_t x = 0; x < width; ++x) {
        const int64_t sx = (t.flip ? width - 1 - x : x) + t.shift_x;
        row[x] = (sx >= 0 && sx < width) ? float(srow[sx]) * sc + b : b;
      }
    }
  }
}

}  // namespace

uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b) {
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ a) ^ b);
}

SampleTransform draw_transform(const Augment& aug, int64_t height, int64_t width, Rng& rng) {
  SampleTransform t;
  if (aug.crop_padding > 0) {
    const uint64_t span = uint64_t(2 * aug.crop_padding + 1);
    t.shift_y = int64_t(rng.below(span)) - aug.crop_padding;
    t.shift_x = int64_t(rng.below(span)) - aug.crop_padding;
  } else if (aug.crop_scale > 0.0f) {
    draw_resized_crop(t, double(aug.crop_scale), height, width, rng);
  }
  if (aug.hflip) t.flip = rng.uniform() < 0.5f;
  if (aug.erase_prob > 0.0f && rng.uniform() < aug.erase_prob) {
    // Zhong et al. / torchvision RandomErasing: up to 10 tries at a box that fits inside the image.
    const double area = double(height) * double(width);
    const double log_lo = std::log(0.3), log_hi = std::log(3.3);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * (0.02 + 0.31 * double(rng.uniform()));
      const double aspect = std::exp(log_lo + (log_hi - log_lo) * double(rng.uniform()));
      const int64_t h = std::llround(std::sqrt(target * aspect)), w = std::llround(std::sqrt(target / aspect));
      if (h < 1 || w < 1 || h >= height || w >= width) continue;
      t.erase_h = h;
      t.erase_w = w;
      t.erase_y = int64_t(rng.below(uint64_t(height - h + 1)));
      t.erase_x = int64_t(rng.below(uint64_t(width - w + 1)));
      break;
    }
  }
  if (aug.jitter > 0.0f) {
    t.brightness = rng.uniform(1.0f - aug.jitter, 1.0f + aug.jitter);
    t.contrast = rng.uniform(1.0f - aug.jitter, 1.0f + aug.jitter);
    t.saturation = rng.uniform(1.0f - aug.jitter, 1.0f + aug.jitter);
  }
  return t;
}

void render_sample(float* dst, const uint8_t* src, int64_t channels, int64_t height, int64_t width, const float* scale,
                   const float* bias, const SampleTransform& t) {
  const int64_t plane = height * width;
  const bool resized = t.box_h > 0 && t.box_w > 0;
  const bool jitter = t.brightness != 1.0f || t.contrast != 1.0f || t.saturation != 1.0f;
  if (!resized && !jitter) {
    shift_and_flip(dst, src, channels, height, width, scale, bias, t);
  } else {
    // Pixel values first (the colour steps need whole images), normalised in place afterwards.
    if (resized) {
      resample_box(dst, src, channels, height, width, t);
    } else {
      const std::vector<float> unit(size_t(channels), 1.0f), zero(size_t(channels), 0.0f);
      shift_and_flip(dst, src, channels, height, width, unit.data(), zero.data(), t);
    }
    if (jitter) apply_jitter(dst, channels, plane, t);
    for (int64_t c = 0; c < channels; ++c) {
      float* d = dst + c * plane;
      const float sc = scale[c], b = bias[c];
      for (int64_t k = 0; k < plane; ++k) d[k] = d[k] * sc + b;
    }
  }
  if (t.erase_h > 0)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = t.erase_y; y < t.erase_y + t.erase_h; ++y)
        std::fill_n(dst + c * plane + y * width + t.erase_x, t.erase_w, 0.0f);
}

}  // namespace nimble::data
