// Per-sample augmentation: random crop after zero padding, horizontal flip, random erasing.
#include <algorithm>
#include <cmath>

#include "data/internal.hpp"

namespace nimble::data {

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
  return t;
}

void render_sample(float* dst, const uint8_t* src, int64_t channels, int64_t height, int64_t width, const float* scale,
                   const float* bias, const SampleTransform& t) {
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
  if (t.erase_h > 0)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = t.erase_y; y < t.erase_y + t.erase_h; ++y)
        std::fill_n(dst + c * plane + y * width + t.erase_x, t.erase_w, 0.0f);
}

}  // namespace nimble::data
