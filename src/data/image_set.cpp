// ImageSet helpers: shape, normalisation statistics, validation split, --limit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "data/internal.hpp"
#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {

Shape ImageSet::sample_shape() const {
  if (!images.defined() || images.shape().rank() != 4) return Shape{};
  return Shape{images.shape()[1], images.shape()[2], images.shape()[3]};
}

void check_image_set(const ImageSet& set, const char* who) {
  if (set.size() == 0 && !set.images.defined()) return;  // an empty set, e.g. a val split of 0
  NIMBLE_CHECK(set.images.defined() && set.images.dtype() == DType::u8 && set.images.shape().rank() == 4,
               fmt::format("{}: images must be a (N, C, H, W) u8 tensor", who));
  NIMBLE_CHECK(set.images.shape()[0] == set.size(),
               fmt::format("{}: {} images but {} labels", who, set.images.shape()[0], set.size()));
}

ImageSet gather(const ImageSet& set, const std::vector<int64_t>& index) {
  ImageSet out;
  out.num_classes = set.num_classes;
  if (index.empty()) return out;
  const Shape s = set.sample_shape();
  const int64_t per = s.numel();
  out.images = Tensor(Shape{int64_t(index.size()), s[0], s[1], s[2]}, DType::u8);
  out.labels.resize(index.size());
  const uint8_t* src = set.images.data<uint8_t>();
  uint8_t* dst = out.images.data<uint8_t>();
  for (size_t i = 0; i < index.size(); ++i) {
    std::memcpy(dst + int64_t(i) * per, src + index[i] * per, size_t(per));
    out.labels[i] = set.labels[size_t(index[i])];
  }
  return out;
}

Normalization compute_normalization(const ImageSet& set) {
  check_image_set(set, "compute_normalization");
  NIMBLE_CHECK(set.size() > 0, "compute_normalization: the image set is empty");
  const Shape& sh = set.images.shape();
  const int64_t n = sh[0], channels = sh[1], plane = sh[2] * sh[3];
  // Integer sums are exact (<= 2^31 pixels * 255^2 < 2^63), so E[x^2] - E[x]^2 loses nothing to rounding.
  std::vector<uint64_t> sum(size_t(channels), 0), sum_sq(size_t(channels), 0);
  const uint8_t* px = set.images.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* p = px + (i * channels + c) * plane;
      uint64_t s = 0, sq = 0;
      for (int64_t k = 0; k < plane; ++k) s += p[k], sq += uint64_t(p[k]) * p[k];
      sum[size_t(c)] += s;
      sum_sq[size_t(c)] += sq;
    }
  Normalization norm;
  const double count = double(n) * double(plane);
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = double(sum[size_t(c)]) / count / 255.0;
    const double var = std::max(0.0, double(sum_sq[size_t(c)]) / count / (255.0 * 255.0) - mean * mean);
    const double sd = std::sqrt(var);
    norm.mean.push_back(float(mean));
    norm.std.push_back(sd > 1e-6 ? float(sd) : 1.0f);
  }
  return norm;
}

Split split_validation(const ImageSet& set, int64_t val_count, uint64_t seed) {
  check_image_set(set, "split_validation");
  NIMBLE_CHECK(val_count >= 0 && val_count <= set.size(),
               fmt::format("split_validation: cannot hold out {} of {} samples", val_count, set.size()));
  std::vector<int64_t> perm(static_cast<size_t>(set.size()));
  std::iota(perm.begin(), perm.end(), 0);
  // Partial Fisher-Yates: only the first val_count positions need to be drawn.
  Rng rng(seed);
  for (int64_t i = 0; i < val_count; ++i) {
    int64_t j = i + int64_t(rng.below(uint64_t(set.size() - i)));
    std::swap(perm[size_t(i)], perm[size_t(j)]);
  }
  std::vector<int64_t> val(perm.begin(), perm.begin() + val_count), train(perm.begin() + val_count, perm.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return Split{gather(set, train), gather(set, val)};
}

ImageSet take(const ImageSet& set, int64_t n) {
  check_image_set(set, "take");
  NIMBLE_CHECK(n >= 0, fmt::format("take: sample count {} is negative", n));
  if (n >= set.size()) return set;
  std::vector<int64_t> first(static_cast<size_t>(n));
  std::iota(first.begin(), first.end(), 0);
  return gather(set, first);
}

}  // namespace nimble::data
