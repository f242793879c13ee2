// BatchLoader: one background thread prepares batches into a small bounded queue so the training
// step never waits on decoding/augmentation. Determinism comes from seeding, not from timing: the
// epoch's order is a function of (seed, epoch) and each sample's augmentation of
// (seed, epoch, sample index), so the same run produces the same batches however threads interleave.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include <fmt/format.h>

#include "data/internal.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {
constexpr size_t kPrefetch = 4;             // batches prepared ahead of the consumer
constexpr uint64_t kShuffleStream = ~0ull;  // never a sample index, so never an augmentation stream
}  // namespace

struct BatchLoader::Impl {
  ImageSet set;  // holds the image storage alive for the worker
  int64_t batch = 0, channels = 0, height = 0, width = 0, per_epoch = 0;
  int64_t shard_index = 0, shard_count = 1;  // this rank's part of every epoch (see shard())
  bool shuffle = false, drop_last = false;
  Augment aug;
  uint64_t seed = 0;
  std::vector<float> scale, bias;  // per channel: pixel * scale + bias == (pixel / 255 - mean) / std

  // Everything below is guarded by mu.
  std::mutex mu;
  std::condition_variable work_cv, ready_cv;
  bool stop = false, started = false;
  uint64_t generation = 0;  // bumped by start_epoch so batches of an abandoned epoch are dropped
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;  // shared so the worker reads it outside the lock
  int64_t next_to_build = 0, consumed = 0;
  std::deque<Batch> ready;
  std::exception_ptr error;
  std::thread worker;

  ~Impl() {
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    work_cv.notify_all();
    if (worker.joinable()) worker.join();
  }

  void build(Batch& b, const std::vector<int64_t>& ord, int64_t k, int64_t ep) const {
    const int64_t per_sample = channels * height * width;
    const int64_t begin = k * batch, count = std::min(batch, int64_t(ord.size()) - begin);
    b.images = Tensor(Shape{batch, channels, height, width});  // zero-filled: padding rows stay 0
    b.labels.assign(size_t(batch), -1);
    b.indices.assign(size_t(batch), -1);
    b.count = count;
    float* dst = b.images.data<float>();
    const auto one = [&](int64_t i, uint8_t* scratch) {
      const int64_t idx = ord[size_t(begin + i)];
      Rng rng(mix_seed(seed, uint64_t(ep), uint64_t(idx)));
      const SampleTransform t = draw_transform(aug, height, width, rng);
      render_sample(dst + i * per_sample, set.sample(idx, scratch), channels, height, width, scale.data(), bias.data(),
                    t);
      b.labels[size_t(i)] = set.labels[size_t(idx)];
      b.indices[size_t(i)] = idx;
    };
    if (set.in_memory()) {
      for (int64_t i = 0; i < count; ++i) one(i, nullptr);
      return;
    }
    // Decoding is the slow part: spread the batch's files over the cores.
    parallel_for(count, 0, [&](int64_t i) {
      thread_local std::vector<uint8_t> scratch;
      scratch.resize(size_t(per_sample));
      one(i, scratch.data());
    });
  }

  // This rank's samples of the epoch order `ord`. Training: slice shard_index of each whole
  // batch of batch * shard_count (the ranks' steps together see the one-process batches);
  // evaluation: a contiguous share of every sample.
  std::vector<int64_t> shard_of(const std::vector<int64_t>& ord) const {
    std::vector<int64_t> mine;
    if (drop_last) {
      const int64_t global = batch * shard_count;
      for (int64_t k = 0; k < per_epoch; ++k) {
        const auto from = ord.begin() + k * global + shard_index * batch;
        mine.insert(mine.end(), from, from + batch);
      }
    } else {
      const int64_t n = int64_t(ord.size());
      mine.assign(ord.begin() + n * shard_index / shard_count, ord.begin() + n * (shard_index + 1) / shard_count);
    }
    return mine;
  }

  void run() {
    std::unique_lock lk(mu);
    for (;;) {
      work_cv.wait(
          lk, [&] { return stop || (started && !error && next_to_build < per_epoch && ready.size() < kPrefetch); });
      if (stop) return;
      const uint64_t gen = generation;
      const int64_t k = next_to_build++, ep = epoch;
      auto ord = order;
      lk.unlock();
      Batch b;
      std::exception_ptr err;
      try {
        build(b, *ord, k, ep);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      if (gen != generation) continue;  // the epoch was restarted while this batch was built
      if (err)
        error = err;
      else
        ready.push_back(std::move(b));
      ready_cv.notify_all();
    }
  }
};

BatchLoader::BatchLoader(const ImageSet& set, const Normalization& norm, int64_t batch, bool shuffle, bool drop_last,
                         Augment aug, uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  check_image_set(set, "BatchLoader");
  NIMBLE_CHECK(set.size() > 0, "BatchLoader: the image set is empty");
  NIMBLE_CHECK(batch > 0, fmt::format("BatchLoader: batch size must be positive, got {}", batch));
  const Shape s = set.sample_shape();
  // No statistics (an imported model given none): pixels / 255 only.
  const bool identity = norm.mean.empty() && norm.std.empty();
  NIMBLE_CHECK(identity || (int64_t(norm.mean.size()) == s[0] && int64_t(norm.std.size()) == s[0]),
               fmt::format("BatchLoader: normalisation has {} means and {} stds for {} channels", norm.mean.size(),
                           norm.std.size(), s[0]));
  NIMBLE_CHECK(aug.crop_padding >= 0 && aug.crop_padding <= std::max(s[1], s[2]),
               fmt::format("BatchLoader: crop padding {} must be in 0..{}", aug.crop_padding, std::max(s[1], s[2])));
  NIMBLE_CHECK(aug.erase_prob >= 0.0f && aug.erase_prob <= 1.0f,
               fmt::format("BatchLoader: erase probability {} must be in [0, 1]", aug.erase_prob));
  NIMBLE_CHECK(aug.crop_scale >= 0.0f && aug.crop_scale <= 1.0f,
               fmt::format("BatchLoader: crop scale {} must be in (0, 1] (0: off)", aug.crop_scale));
  NIMBLE_CHECK(aug.crop_scale == 0.0f || aug.crop_padding == 0,
               "BatchLoader: random resized crop (crop scale) and padded crop (crop padding) exclude each other");
  NIMBLE_CHECK(aug.jitter >= 0.0f && aug.jitter <= 1.0f,
               fmt::format("BatchLoader: colour jitter {} must be in [0, 1]", aug.jitter));
  Impl& m = *impl_;
  m.set = set;
  m.batch = batch;
  m.channels = s[0], m.height = s[1], m.width = s[2];
  m.shuffle = shuffle;
  m.drop_last = drop_last;
  m.aug = aug;
  m.seed = seed;
  m.per_epoch = drop_last ? set.size() / batch : (set.size() + batch - 1) / batch;
  for (int64_t c = 0; c < s[0]; ++c) {
    const float sd = identity ? 1.0f : norm.std[size_t(c)];
    NIMBLE_CHECK(sd > 0.0f, fmt::format("BatchLoader: normalisation std of channel {} is {}, must be positive", c, sd));
    m.scale.push_back(1.0f / (255.0f * sd));
    m.bias.push_back(identity ? 0.0f : -norm.mean[size_t(c)] / sd);
  }
  m.worker = std::thread([&m] { m.run(); });
}

BatchLoader::~BatchLoader() = default;
BatchLoader::BatchLoader(BatchLoader&&) noexcept = default;
BatchLoader& BatchLoader::operator=(BatchLoader&&) noexcept = default;

void BatchLoader::shard(int64_t index, int64_t count) {
  Impl& m = *impl_;
  NIMBLE_CHECK(count >= 1 && index >= 0 && index < count,
               fmt::format("BatchLoader: shard {} of {} does not exist", index, count));
  NIMBLE_CHECK(!m.started && m.shard_count == 1, "BatchLoader: shard() must come once, before the first epoch");
  if (count == 1) return;
  std::lock_guard lk(m.mu);  // the worker reads batch and per_epoch
  m.shard_index = index;
  m.shard_count = count;
  if (m.drop_last) {
    NIMBLE_CHECK(m.batch % count == 0, fmt::format("the batch ({}) must divide evenly among the {} ranks "
                                                   "(each rank takes an equal slice of every batch)",
                                                   m.batch, count));
    m.batch /= count;  // per_epoch stays the number of whole one-process batches
  } else {
    const int64_t n = m.set.size(), mine = n * (index + 1) / count - n * index / count;
    m.per_epoch = (mine + m.batch - 1) / m.batch;
  }
}

int64_t BatchLoader::batches_per_epoch() const { return impl_->per_epoch; }
int64_t BatchLoader::batch_size() const { return impl_->batch; }

void BatchLoader::start_epoch(int64_t epoch) {
  Impl& m = *impl_;
  // Shuffle on the caller's thread: it is well under a millisecond and keeps the order off the worker's state.
  auto ord = std::make_shared<std::vector<int64_t>>(size_t(m.set.size()));
  std::iota(ord->begin(), ord->end(), 0);
  if (m.shuffle) {
    Rng rng(mix_seed(m.seed, uint64_t(epoch), kShuffleStream));
    for (size_t i = ord->size() - 1; i > 0; --i) std::swap((*ord)[i], (*ord)[rng.below(i + 1)]);
  }
  if (m.shard_count > 1) ord = std::make_shared<std::vector<int64_t>>(m.shard_of(*ord));
  {
    std::lock_guard lk(m.mu);
    ++m.generation;
    m.epoch = epoch;
    m.order = std::move(ord);
    m.next_to_build = m.consumed = 0;
    m.ready.clear();
    m.error = nullptr;
    m.started = true;
  }
  m.work_cv.notify_all();
}

bool BatchLoader::next(Batch& out) {
  Impl& m = *impl_;
  if (!m.started) start_epoch(0);  // only the consumer thread writes `started`
  std::unique_lock lk(m.mu);
  m.ready_cv.wait(lk, [&] { return m.error || !m.ready.empty() || m.consumed >= m.per_epoch; });
  if (m.error) {
    try {
      std::rethrow_exception(m.error);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(fmt::format("data loader: preparing a batch failed: {}", e.what()));
    }
  }
  if (m.ready.empty()) return false;
  out = std::move(m.ready.front());
  m.ready.pop_front();
  ++m.consumed;
  lk.unlock();
  m.work_cv.notify_all();
  return true;
}

}  // namespace nimble::data
