// Bringing an image to the model's input: channel conversion (grey <-> RGB) and resizing with a
// filtered resampler, so that shrinking a large photo averages its pixels instead of skipping most
// of them. The resampler is ours: Debian 12's stb_image_resize (0.97) aborts on an assertion for
// some size pairs (nothings/stb#1449; 38x44 -> 32x32 here), and a data loader must not abort.
#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/internal.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

const char* fit_mode_name(FitMode m) { return m == FitMode::crop ? "crop" : "stretch"; }

FitMode parse_fit_mode(const std::string& s) {
  if (s == "crop") return FitMode::crop;
  if (s == "stretch") return FitMode::stretch;
  throw Error("fit must be crop (resize the shorter side, crop the centre) or stretch (resize both sides), got '" + s +
              "'");
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

namespace {

// One output pixel's source taps along an axis: the triangle (bilinear) filter, widened by the
// shrink factor so that every source pixel contributes (PIL's and torchvision's antialiased
// bilinear resize).
struct Taps {
  int64_t first = 0;
  std::vector<float> weights;
};

std::vector<Taps> axis_taps(int64_t in_size, double start, double length, int64_t out_size) {
  const double scale = length / double(out_size), support = std::max(scale, 1.0);
  std::vector<Taps> taps(static_cast<size_t>(out_size));
  for (int64_t o = 0; o < out_size; ++o) {
    const double centre = start + (double(o) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, int64_t(std::floor(centre - support)));
    const int64_t hi = std::min<int64_t>(in_size, int64_t(std::ceil(centre + support)));
    Taps& t = taps[size_t(o)];
    double total = 0;
    std::vector<double> w;
    for (int64_t i = lo; i < hi; ++i) {
      const double d = std::abs((double(i) + 0.5 - centre) / support);
      w.push_back(d < 1.0 ? 1.0 - d : 0.0);
      total += w.back();
    }
    if (total <= 0) {  // a box narrower than a pixel between two centres: the nearest pixel
      t.first = std::clamp<int64_t>(int64_t(centre), 0, in_size - 1);
      t.weights = {1.0f};
      continue;
    }
    t.first = lo;
    for (double v : w) t.weights.push_back(float(v / total));
  }
  return taps;
}

}  // namespace

void resize_region(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels, const CropBox& box,
                   uint8_t* out_hwc, int64_t out_h, int64_t out_w) {
  if (box.y == 0.0 && box.x == 0.0 && box.h == double(height) && box.w == double(width) && out_h == height &&
      out_w == width) {
    std::copy_n(hwc, height * width * channels, out_hwc);
    return;
  }
  const std::vector<Taps> across = axis_taps(width, box.x, box.w, out_w), down = axis_taps(height, box.y, box.h, out_h);
  // Rows first, only those the vertical taps read; then columns, rounding once at the end.
  const int64_t row_lo = down.front().first;
  const int64_t row_hi = down.back().first + int64_t(down.back().weights.size());
  std::vector<float> rows(size_t((row_hi - row_lo) * out_w * channels));
  for (int64_t y = row_lo; y < row_hi; ++y) {
    const uint8_t* src = hwc + y * width * channels;
    float* dst = rows.data() + (y - row_lo) * out_w * channels;
    for (int64_t x = 0; x < out_w; ++x) {
      const Taps& t = across[size_t(x)];
      for (int64_t c = 0; c < channels; ++c) {
        float acc = 0;
        for (size_t k = 0; k < t.weights.size(); ++k)
          acc += t.weights[k] * float(src[(t.first + int64_t(k)) * channels + c]);
        dst[x * channels + c] = acc;
      }
    }
  }
  for (int64_t y = 0; y < out_h; ++y) {
    const Taps& t = down[size_t(y)];
    for (int64_t i = 0; i < out_w * channels; ++i) {
      float acc = 0;
      for (size_t k = 0; k < t.weights.size(); ++k)
        acc += t.weights[k] * rows[size_t((t.first + int64_t(k) - row_lo) * out_w * channels + i)];
      out_hwc[y * out_w * channels + i] = uint8_t(std::clamp(std::lround(acc), 0L, 255L));
    }
  }
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

void check_big_enough(int64_t height, int64_t width, int64_t target_h, int64_t target_w) {
  const int64_t least = smallest_fitting_side(target_h, target_w);
  NIMBLE_CHECK(std::min(height, width) >= least,
               fmt::format("{}x{} image is too small for the {}x{} input (the shorter side must be at least {})", width,
                           height, target_w, target_h, least));
}

void fit_image(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels, const Shape& target, FitMode mode,
               uint8_t* chw) {
  const int64_t c = target[0], th = target[1], tw = target[2];
  check_big_enough(height, width, th, tw);
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
