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

namespace {
// Images read for the normalisation statistics of a set decoded on the fly.
constexpr int64_t kNormalizationSample = 10000;
}  // namespace

Shape ImageSet::sample_shape() const {
  if (source) return size() > 0 ? source->sample_shape() : Shape{};
  if (!images.defined() || images.shape().rank() != 4) return Shape{};
  return Shape{images.shape()[1], images.shape()[2], images.shape()[3]};
}

const uint8_t* ImageSet::sample(int64_t i, uint8_t* scratch) const {
  if (!source) return images.data<uint8_t>() + i * sample_shape().numel();
  source->read(source_index[size_t(i)], scratch);
  return scratch;
}

void check_image_set(const ImageSet& set, const char* who) {
  if (set.source) {
    NIMBLE_CHECK(set.source_index.size() == set.labels.size() && !set.images.defined(),
                 fmt::format("{}: {} source indices but {} labels", who, set.source_index.size(), set.size()));
    return;
  }
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
  out.labels.resize(index.size());
  for (size_t i = 0; i < index.size(); ++i) out.labels[i] = set.labels[size_t(index[i])];
  if (set.source) {  // the same files, listed again
    out.source = set.source;
    out.source_index.resize(index.size());
    for (size_t i = 0; i < index.size(); ++i) out.source_index[i] = set.source_index[size_t(index[i])];
    return out;
  }
  const Shape s = set.sample_shape();
  const int64_t per = s.numel();
  out.images = Tensor(Shape{int64_t(index.size()), s[0], s[1], s[2]}, DType::u8);
  const uint8_t* src = set.images.data<uint8_t>();
  uint8_t* dst = out.images.data<uint8_t>();
  for (size_t i = 0; i < index.size(); ++i) std::memcpy(dst + int64_t(i) * per, src + index[i] * per, size_t(per));
  return out;
}

namespace {
// Another source's samples with red and blue swapped.
class SwappedSource final : public SampleSource {
 public:
  explicit SwappedSource(std::shared_ptr<const SampleSource> base) : base_(std::move(base)) {}
  Shape sample_shape() const override { return base_->sample_shape(); }
  void read(int64_t i, uint8_t* chw) const override {
    base_->read(i, chw);
    const int64_t plane = sample_shape()[1] * sample_shape()[2];
    std::swap_ranges(chw, chw + plane, chw + 2 * plane);
  }

 private:
  std::shared_ptr<const SampleSource> base_;
};
}  // namespace

ImageSet swap_red_blue(const ImageSet& set) {
  check_image_set(set, "swap_red_blue");
  if (set.size() == 0) return set;
  NIMBLE_CHECK(set.sample_shape()[0] == 3,
               fmt::format("swap_red_blue: images have {} channels, not 3", set.sample_shape()[0]));
  ImageSet out = set;
  if (set.source) {
    out.source = std::make_shared<SwappedSource>(set.source);
    return out;
  }
  const Shape s = set.sample_shape();
  const int64_t plane = s[1] * s[2];
  out.images = Tensor(set.images.shape(), DType::u8);
  const uint8_t* src = set.images.data<uint8_t>();
  uint8_t* dst = out.images.data<uint8_t>();
  for (int64_t i = 0; i < set.size(); ++i)
    for (int64_t c = 0; c < 3; ++c)
      std::memcpy(dst + (i * 3 + c) * plane, src + (i * 3 + (2 - c)) * plane, size_t(plane));
  return out;
}

Normalization compute_normalization(const ImageSet& set) {
  check_image_set(set, "compute_normalization");
  NIMBLE_CHECK(set.size() > 0, "compute_normalization: the image set is empty");
  const Shape sh = set.sample_shape();
  const int64_t channels = sh[0], plane = sh[1] * sh[2];
  // Decoding every image of a set too large to cache would cost an epoch: a seeded sample of them
  // gives the same statistics to about three digits.
  std::vector<int64_t> which(static_cast<size_t>(set.size()));
  std::iota(which.begin(), which.end(), 0);
  if (!set.in_memory() && set.size() > kNormalizationSample) {
    Rng rng(0x5eed);
    for (int64_t i = 0; i < kNormalizationSample; ++i)
      std::swap(which[size_t(i)], which[size_t(i + int64_t(rng.below(uint64_t(set.size() - i))))]);
    which.resize(size_t(kNormalizationSample));
  }
  const int64_t n = int64_t(which.size());
  // Integer sums are exact (<= 2^31 pixels * 255^2 < 2^63), so E[x^2] - E[x]^2 loses nothing to rounding.
  std::vector<uint64_t> sum(size_t(channels), 0), sum_sq(size_t(channels), 0);
  std::vector<uint8_t> scratch(set.in_memory() ? 0 : size_t(sh.numel()));
  for (int64_t i : which) {
    const uint8_t* px = set.sample(i, scratch.data());
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* p = px + c * plane;
      uint64_t s = 0, sq = 0;
      for (int64_t k = 0; k < plane; ++k) s += p[k], sq += uint64_t(p[k]) * p[k];
      sum[size_t(c)] += s;
      sum_sq[size_t(c)] += sq;
    }
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
