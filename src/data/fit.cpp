// Bringing an image to the model's input: channel conversion (grey <-> RGB) and resizing with
// stb_image_resize (Debian's libstb), a filtered resampler, so that shrinking a large photo
// averages its pixels instead of skipping most of them.
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <cmath>
#include <fmt/format.h>
#include <thread>
#include <vector>

#include "data/internal.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

const char* fit_mode_name(FitMode m) { return m == FitMode::crop ? "crop" : "stretch"; }

FitMode parse_fit_mode(const std::string& s) {
  if (s == "crop") return FitMode::crop;
  if (s == "stretch") return FitMode::stretch;
  throw Error("fit must be crop (resize the shorter side, crop the centre) or stretch (resize both sides), got '" +
              s + "'");
}

CropBox centre_crop_box(int64_t height, int64_t width, int64_t target_h, int64_t target_w, FitMode mode) {
  if (mode == FitMode::stretch) return {0.0, 0.0, double(height), double(width)};
  // The largest centred box of the target's aspect ratio: what resizing the shorter side to the
  // target and cropping the centre keeps.
  const double aspect = double(target_w) / double(target_h);
  double h = double(height), w = h * aspect;
  if (w > double(width)) w = double(width), h = w / aspect;
  return {(double(height) - h) / 2.0, (double(width) - w) / 2.0, h, w};
}

void resize_region(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels, const CropBox& box,
                   uint8_t* out_hwc, int64_t out_h, int64_t out_w) {
  if (box.y == 0.0 && box.x == 0.0 && box.h == double(height) && box.w == double(width) && out_h == height &&
      out_w == width) {
    std::copy_n(hwc, height * width * channels, out_hwc);
    return;
  }
  const int ok = stbir_resize_region(hwc, int(width), int(height), int(width * channels), out_hwc, int(out_w),
                                     int(out_h), int(out_w * channels), STBIR_TYPE_UINT8, int(channels),
                                     STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_EDGE_CLAMP,
                                     STBIR_FILTER_TRIANGLE, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr,
                                     float(box.x / double(width)), float(box.y / double(height)),
                                     float((box.x + box.w) / double(width)), float((box.y + box.h) / double(height)));
  NIMBLE_CHECK(ok != 0, "resizing an image failed (out of memory)");
}

void convert_channels(const uint8_t* hwc, int64_t pixels, int64_t from, int64_t to, uint8_t* out) {
  if (from == to) {
    std::copy_n(hwc, pixels * from, out);
  } else if (from == 1 && to == 3) {
    for (int64_t p = 0; p < pixels; ++p) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = hwc[p];
  } else if (from == 3 && to == 1) {
    // ITU-R BT.601 luma with PIL's integer weights (Image.convert("L")), rounded.
    for (int64_t p = 0; p < pixels; ++p)
      out[p] = uint8_t((hwc[3 * p] * 299 + hwc[3 * p + 1] * 587 + hwc[3 * p + 2] * 114 + 500) / 1000);
  } else {
    throw Error(fmt::format("cannot convert {}-channel images to {} channels (1 and 3 are supported)", from, to));
  }
}

int64_t smallest_fitting_side(int64_t target_h, int64_t target_w) {
  return std::max<int64_t>(2, (std::min(target_h, target_w) + 3) / 4);
}

void fit_image(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels, const Shape& target, FitMode mode,
               uint8_t* chw) {
  const int64_t c = target[0], th = target[1], tw = target[2];
  const int64_t least = smallest_fitting_side(th, tw);
  NIMBLE_CHECK(std::min(height, width) >= least,
               fmt::format("{}x{} image is too small for the {}x{} input (the shorter side must be at least {})", width,
                           height, tw, th, least));
  std::vector<uint8_t> converted(size_t(height * width * c)), resized(size_t(th * tw * c));
  convert_channels(hwc, height * width, channels, c, converted.data());
  resize_region(converted.data(), height, width, c, centre_crop_box(height, width, th, tw, mode), resized.data(), th,
                tw);
  for (int64_t k = 0; k < c; ++k)
    for (int64_t p = 0; p < th * tw; ++p) chw[k * th * tw + p] = resized[size_t(p * c + k)];
}

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  const int64_t workers =
      std::min<int64_t>(n, threads > 0 ? threads : std::max<int64_t>(1, std::thread::hardware_concurrency()));
  if (workers <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  int64_t error_at = n;
  std::mutex error_mu;
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (int64_t i = next++; i < n; i = next++) {
        try {
          fn(i);
        } catch (...) {
          // Items are taken in order and every earlier one finishes, so the failure reported is
          // the first in item order whatever the timing.
          std::lock_guard lk(error_mu);
          if (i < error_at) error = std::current_exception(), error_at = i;
          next = n;
        }
      }
    });
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace nimble::data
