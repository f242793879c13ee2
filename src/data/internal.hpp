#pragma once
// Internals of the data layer shared by its .cpp files and its tests (not part of the public API).
#include <cstdint>

#include "nimble/core/rng.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {

// Throws Error unless `set` is empty or a (N, C, H, W) u8 tensor with N labels; `who` prefixes the message.
void check_image_set(const ImageSet& set, const char* who);

// A stream seed for (seed, a, b): distinct inputs give unrelated streams (splitmix64 finaliser).
uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b);

// One sample's random augmentation, drawn up front so rendering is a pure function.
// out(c, y, x) = src(c, y + shift_y, xs + shift_x) with xs = W-1-x when flipped, else x;
// a source pixel outside the image is 0 (black). This is pad-then-crop followed by a flip.
struct SampleTransform {
  int64_t shift_y = 0, shift_x = 0;  // crop offset minus the padding, in [-pad, pad]
  bool flip = false;
  int64_t erase_y = 0, erase_x = 0, erase_h = 0, erase_w = 0;  // erase_h == 0: nothing erased
};

SampleTransform draw_transform(const Augment& aug, int64_t height, int64_t width, Rng& rng);

// Applies `t` to one (C, H, W) u8 sample and normalises it: dst = pixel * scale[c] + bias[c]
// (scale = 1 / (255 std), bias = -mean / std); the erased rectangle is set to 0 afterwards.
void render_sample(float* dst /* (C, H, W) */, const uint8_t* src /* (C, H, W) */, int64_t channels, int64_t height,
                   int64_t width, const float* scale /* (C) */, const float* bias /* (C) */, const SampleTransform& t);

}  // namespace nimble::data
