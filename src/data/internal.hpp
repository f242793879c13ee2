#pragma once
// Internals of the data layer shared by its .cpp files and its tests (not part of the public API).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nimble/core/rng.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {

// Throws Error unless `set` is empty or a (N, C, H, W) u8 tensor with N labels; `who` prefixes the message.
void check_image_set(const ImageSet& set, const char* who);

// A stream seed for (seed, a, b): distinct inputs give unrelated streams (splitmix64 finaliser).
uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b);

// One sample's random augmentation, drawn up front so rendering is a pure function.
// Without a box: out(c, y, x) = src(c, y + shift_y, xs + shift_x) with xs = W-1-x when flipped,
// else x; a source pixel outside the image is 0 (black). This is pad-then-crop followed by a flip.
// With a box (box_h > 0, random resized crop): the box of the source, in pixels, is resampled to
// H x W by bilinear interpolation with half-pixel centres (edge pixels repeated), then flipped.
// Colour factors other than 1 are then applied to the pixel values (see render_sample).
struct SampleTransform {
  int64_t shift_y = 0, shift_x = 0;  // crop offset minus the padding, in [-pad, pad]
  bool flip = false;
  int64_t erase_y = 0, erase_x = 0, erase_h = 0, erase_w = 0;   // erase_h == 0: nothing erased
  double box_y = 0, box_x = 0, box_h = 0, box_w = 0;            // box_h == 0: no resized crop
  float brightness = 1.0f, contrast = 1.0f, saturation = 1.0f;  // colour jitter factors, 1: unchanged
};

// Draws (in this order, each only when enabled) the padded crop or resized-crop box, the flip, the
// erased rectangle and the colour factors, so options that are off consume nothing from `rng`.
SampleTransform draw_transform(const Augment& aug, int64_t height, int64_t width, Rng& rng);

// Applies `t` to one (C, H, W) u8 sample and normalises it: dst = pixel * scale[c] + bias[c]
// (scale = 1 / (255 std), bias = -mean / std); the erased rectangle is set to 0 afterwards.
// Colour jitter works on pixel values in [0, 255], clamping after each step: brightness v * b;
// contrast (v - m) * c + m with m the image's mean grey (luma 0.299/0.587/0.114 for 3 channels,
// the plain mean otherwise); saturation (v - g) * s + g with g the pixel's luma (3 channels only).
void render_sample(float* dst /* (C, H, W) */, const uint8_t* src /* (C, H, W) */, int64_t channels, int64_t height,
                   int64_t width, const float* scale /* (C) */, const float* bias /* (C) */, const SampleTransform& t);

// ---- fit.cpp: bringing images to the model's input ----

// A region of an image in pixels (fractional: a centred crop of an odd margin).
struct CropBox {
  double y = 0, x = 0, h = 0, w = 0;
};
// The part of a height x width image that `mode` maps onto a target_h x target_w input.
CropBox centre_crop_box(int64_t height, int64_t width, int64_t target_h, int64_t target_w, FitMode mode);
// Resamples `box` of an interleaved (H, W, C) u8 image to out_h x out_w (a copy when nothing changes).
void resize_region(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels, const CropBox& box,
                   uint8_t* out_hwc, int64_t out_h, int64_t out_w);
// Interleaved pixels from `from` to `to` channels (1 <-> 3: grey replicated, or BT.601 luma).
void convert_channels(const uint8_t* hwc, int64_t pixels, int64_t from, int64_t to, uint8_t* out);
// The shorter side an image needs for a target_h x target_w input: a quarter of the target's
// (at least 2 px); anything smaller would be mostly interpolation.
int64_t smallest_fitting_side(int64_t target_h, int64_t target_w);
// Throws Error when a height x width image is smaller than smallest_fitting_side.
void check_big_enough(int64_t height, int64_t width, int64_t target_h, int64_t target_w);
// One (H, W, C) u8 image into a (C, H, W) slot of `target` (C, H, W): channels converted, then the
// crop box of `mode` resized. Throws Error for an image smaller than smallest_fitting_side.
void fit_image(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels, const Shape& target, FitMode mode,
               uint8_t* chw);

// fn(0..n-1) on `threads` threads (0: one per core), items taken in order; rethrows the failure
// of the lowest-numbered item that failed.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);

// ---- image_set.cpp ----

// The samples listed in `index` (in that order) as a new set.
ImageSet gather(const ImageSet& set, const std::vector<int64_t>& index);

// ---- load_data.cpp ----

// Throws Error, before allocating, when n decoded samples of `per_sample` bytes would not fit in
// the memory this machine has (the message names `what` and says how much they need).
void check_cache_fits(int64_t n, int64_t per_sample, const std::string& what);
// The memory decoded images may take: `cache_bytes`, or when 0 half of this machine's memory.
int64_t cache_budget(int64_t cache_bytes);
// Widens DataSet's record of the stored channels and sizes by one image.
void note_stored_size(DataSet& report, int64_t height, int64_t width, int64_t channels);

// ---- image_folder.cpp ----

struct FolderFiles {
  std::vector<std::string> files;  // sorted paths
  std::vector<int32_t> labels;     // index into FolderLayout::classes
};
struct FolderLayout {
  std::vector<std::string> classes;  // sorted folder names
  FolderFiles train, val, test;
  std::string val_dir, test_dir;  // empty when the data has no such split
};
// Whether `root` holds class folders with images (or a train/ folder of them).
bool looks_like_image_folder(const std::string& root);
// Lists the files; throws Error for no class folders, an empty training class folder, or a val/
// test class that is not a training class.
FolderLayout scan_image_folder(const std::string& root);
// The input an image folder gets when none is given: 3 channels if any image has colour, else 1;
// the size most images have, or when sizes vary a square of the median shorter side; at most 224.
Shape choose_folder_input(const std::vector<std::string>& files, int threads);
// Decodes and fits the files into a set (in parallel), or with `on_the_fly` checks their headers
// and returns a set that decodes them when read; bad files throw, or with skip_bad are counted in
// `report` and left out.
ImageSet decode_image_files(const FolderFiles& f, int64_t num_classes, const Shape& target, FitMode mode,
                            const DataOptions& opt, bool on_the_fly, DataSet& report);

}  // namespace nimble::data
