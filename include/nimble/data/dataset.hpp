#pragma once
// Image data sets: IDX loading (MNIST / Fashion-MNIST format), per-channel normalisation,
// train/validation split, augmentation and a background-prefetching batch loader.
// Kept light on purpose: no zlib, fmt or threading headers leak from here.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nimble/core/shape.hpp"
#include "nimble/core/tensor.hpp"

namespace nimble::data {

// Debian's dataset-fashion-mnist installs here; the CLI's --data defaults to it.
inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

// Labels must be below this (num_classes <= 65536): bounds a classifier head built from it.
inline constexpr int64_t kMaxClasses = 65536;

// Samples decoded on demand, for data sets too large to keep decoded in memory (an image folder
// beyond the cache budget). Thread-safe: read() is called from several threads at once.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual Shape sample_shape() const = 0;                // (C, H, W) of every sample
  virtual void read(int64_t i, uint8_t* chw) const = 0;  // sample i of the source; throws Error naming its file
};

struct ImageSet {
  Tensor images;                // (N, C, H, W) u8, storage shared between copies; undefined when `source` is set
  std::vector<int32_t> labels;  // N labels in [0, num_classes)
  int64_t num_classes = 0;
  // Decoded on the fly instead: sample i is source->read(source_index[i]).
  std::shared_ptr<const SampleSource> source;
  std::vector<int64_t> source_index;

  int64_t size() const { return int64_t(labels.size()); }
  Shape sample_shape() const;  // (C, H, W); empty Shape for an empty set
  bool in_memory() const { return source == nullptr; }
  // Sample i as (C, H, W) u8: a pointer into `images`, or decoded into `scratch` (sample_shape().numel() bytes).
  const uint8_t* sample(int64_t i, uint8_t* scratch) const;
};

struct IdxData {
  ImageSet train, test;
};

// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from `dir`, each raw or with a .gz suffix (raw preferred when both exist).
// Images: u8 IDX of rank 3 (N, H, W) -> C = 1, or rank 4 (N, H, W, C) channels-last -> NCHW.
// Labels: rank-1 IDX of u8, s8, s16 or s32. num_classes = max label over train and test + 1.
// Every problem throws nimble::Error with one line naming the file.
IdxData load_idx_dir(const std::string& dir);

// One images/labels pair (num_classes from these labels only).
ImageSet load_idx_files(const std::string& images_path, const std::string& labels_path);

// ---- Any data set (src/data/load_data.cpp) ----

// What `--data` may point at.
enum class DataFormat {
  idx,           // a folder of MNIST-layout IDX files (train-images-idx3-ubyte[.gz], ...)
  image_folder,  // DIR/<class>/*.{jpg,jpeg,png}, optionally under DIR/{train,val,test}/
  cifar,         // a folder of CIFAR-10 (data_batch_*.bin, test_batch.bin) or CIFAR-100 (train.bin, test.bin) batches
  numpy,         // a .npz archive, or a folder of .npy files: images and integer labels
};
const char* data_format_name(DataFormat f);  // "idx", "folder", "cifar", "numpy"
// A --data-format value: nullopt for "auto"; throws Error naming the choices for anything else.
std::optional<DataFormat> parse_data_format(const std::string& name);

// How an image of another size is brought to the model's input: resize its shorter side to the
// target and crop the centre (torchvision's Resize + CenterCrop; the default), or resize both
// sides to the target (aspect ratio not kept).
enum class FitMode { crop, stretch };
const char* fit_mode_name(FitMode m);          // "crop", "stretch"
FitMode parse_fit_mode(const std::string& s);  // throws Error naming the choices

struct DataOptions {
  std::string format = "auto";  // auto | idx | folder | cifar | numpy
  // (C, H, W) every image is brought to (channels converted grey <-> RGB, size by `fit`); empty:
  // as stored, or for an image folder the most common size (shorter side at most 224) and 3
  // channels if any image has colour.
  Shape input;
  FitMode fit = FitMode::crop;
  bool skip_bad = false;  // skip unreadable images (counted in DataSet::skipped) instead of failing
  int threads = 0;        // decoding threads; 0: one per core
  // Memory for decoded images; an image folder needing more is decoded on the fly each epoch
  // instead (its files checked up front by their headers only). 0: half of this machine's memory.
  int64_t cache_bytes = 0;
};

struct DataSet {
  DataFormat format = DataFormat::idx;
  ImageSet train, val, test;                  // val is empty unless the data has its own (an image folder's val/)
  std::vector<std::string> class_names;       // folder names or CIFAR's meta file; empty when unknown
  std::string test_source;                    // where the test split came from, for reports
  int64_t skipped = 0;                        // images skipped by skip_bad
  std::vector<std::string> skipped_examples;  // the first few "file: problem" lines of those
  // As stored, before fitting: per-sample channels and the range of image sizes seen.
  int64_t stored_channels = 0;
  int64_t min_height = 0, min_width = 0, max_height = 0, max_width = 0;
  int64_t resized = 0;  // images whose size or channels were changed to fit DataOptions::input
  bool cached = true;   // false: too large for the cache, decoded on the fly each epoch
};

// Reads the data set at `path` in the format named (or detected from what the path holds). Every
// problem is an Error with one line naming the file (and for images, what is wrong with it).
DataSet load_data(const std::string& path, const DataOptions& options = {});
// What load_data would detect, without reading the images.
DataFormat detect_data_format(const std::string& path);

// The set with the first and third channel swapped (RGB <-> BGR), for a model that expects BGR;
// a set decoded on the fly swaps each sample as it is read.
ImageSet swap_red_blue(const ImageSet& set);

// Per-channel statistics of the pixels scaled to [0, 1]. std is the population std (divide by N,
// not N-1; on image-sized sets the two agree to ~7 digits). A constant channel gets std = 1 so
// normalising it is a pure shift instead of a division by zero.
struct Normalization {
  std::vector<float> mean, std;
};
Normalization compute_normalization(const ImageSet& set);

// A seeded random disjoint split: `val_count` samples go to val, the rest to train; each part keeps
// the original sample order. val_count == 0 gives an empty val (no images tensor).
struct Split {
  ImageSet train, val;
};
Split split_validation(const ImageSet& set, int64_t val_count, uint64_t seed);

// The first n samples (n >= size returns the whole set, sharing its storage). For --limit.
ImageSet take(const ImageSet& set, int64_t n);

struct Augment {
  int64_t crop_padding = 0;  // random crop of the original size after zero (black) padding
  bool hflip = false;        // horizontal flip with p = 0.5
  float erase_prob = 0.0f;   // random erasing (Zhong et al. 2017): area 2..33 %, aspect 0.3..3.3, filled
                             // with 0 after normalisation (i.e. the channel mean)
  // Random resized crop (Szegedy et al. 2015 / torchvision RandomResizedCrop): a box of area fraction
  // [crop_scale, 1] and aspect ratio (w/h) log-uniform in [3/4, 4/3] is resized back to the input size
  // (bilinear). 0: off; the minimum area fraction otherwise (0.08 ImageNet-style, ~0.35 for small
  // images). Excludes crop_padding.
  float crop_scale = 0.0f;
  // Colour jitter: brightness, contrast and saturation factors each uniform in [1 - jitter, 1 + jitter],
  // applied in that order to pixel values before normalisation. 0: off; at most 1.
  float jitter = 0.0f;
  bool any() const {  // samples differ per epoch
    return crop_padding > 0 || hflip || erase_prob > 0 || crop_scale > 0 || jitter > 0;
  }
};

struct Batch {
  Tensor images;                 // (B, C, H, W) f32, normalised
  std::vector<int32_t> labels;   // B labels; -1 on padding rows
  std::vector<int64_t> indices;  // B sample indices into the set; -1 on padding rows
  int64_t count = 0;             // valid rows; rows past count are zeros with label -1
};

// Produces normalised (and optionally shuffled and augmented) batches on a background thread a few
// batches ahead of the consumer. The shuffle and each sample's augmentation are seeded from
// (seed, epoch[, sample index]), so a run is reproducible whatever the thread timing.
// The loader keeps the ImageSet alive (it holds its own copy of the tensor handle).
// start_epoch/next must be called from one consumer thread. An empty `norm` (no statistics) scales
// pixels to [0, 1] only.
class BatchLoader {
 public:
  BatchLoader(const ImageSet& set, const Normalization& norm, int64_t batch, bool shuffle, bool drop_last,
              Augment aug = {}, uint64_t seed = 0);
  ~BatchLoader();                       // stops and joins the worker, also mid-epoch
  BatchLoader(BatchLoader&&) noexcept;  // a moved-from loader may only be destroyed or assigned to
  BatchLoader& operator=(BatchLoader&&) noexcept;
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Data parallelism: this loader yields rank `index` of `count`'s part of every epoch. With
  // drop_last (training) each batch is split into `count` equal slices (the batch must divide
  // evenly) and this rank gets slice `index`, so the ranks together take the one-process steps
  // (augmentation draws per sample, so it is the same on any rank); without (evaluation) each
  // rank gets a contiguous share of the samples. Call before the first epoch.
  void shard(int64_t index, int64_t count);
  int64_t batches_per_epoch() const;
  int64_t batch_size() const;
  // Begins (or restarts, dropping anything already prepared) epoch `epoch`.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch; false at the end of the epoch. Starts epoch 0 if no epoch
  // was started. Rethrows (as nimble::Error) a failure of the worker.
  bool next(Batch& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimble::data
