// load_data: what `--data` points at, detected (IDX, CIFAR binaries, NumPy arrays, an image folder),
// read into u8 (N, C, H, W) sets, fitted to the model's input, and split into train / val / test.
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "data/cifar.hpp"
#include "data/internal.hpp"
#include "data/npy.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {

namespace fs = std::filesystem;

// The data's own test split when it has none: a tenth, drawn with a fixed seed so that train,
// eval, quantize and prune all see the same one whatever their --seed.
constexpr uint64_t kTestSplitSeed = 0x7e57;
constexpr int64_t kTestDivisor = 10;

bool exists_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool has_idx(const fs::path& dir) {
  return exists_file(dir / "train-images-idx3-ubyte") || exists_file(dir / "train-images-idx3-ubyte.gz");
}

// The folder holding CIFAR batches: `dir` itself or the folder the official archives unpack to.
std::optional<std::pair<fs::path, CifarKind>> cifar_dir(const fs::path& dir) {
  for (const fs::path& d : {dir, dir / "cifar-10-batches-bin", dir / "cifar-100-binary"}) {
    if (exists_file(d / "data_batch_1.bin")) return std::pair{d, CifarKind::cifar10};
    if (exists_file(d / "train.bin") && exists_file(d / "test.bin")) return std::pair{d, CifarKind::cifar100};
  }
  return std::nullopt;
}

bool has_npy(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".npy") return true;
  return false;
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

// ---- NumPy ----

using Arrays = std::vector<std::pair<std::string, NpyArray>>;

Arrays read_arrays(const fs::path& path) {
  if (!fs::is_directory(path)) return read_npz_file(path.string());
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.path().extension() == ".npy") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Arrays out;
  for (const fs::path& f : files) out.emplace_back(f.stem().string(), read_npy_file(f.string()));
  return out;
}

const NpyArray* find_array(const Arrays& arrays, std::initializer_list<const char*> names, std::string* found) {
  for (const char* n : names)
    for (const auto& [key, a] : arrays)
      if (key == n) {
        *found = key;
        return &a;
      }
  return nullptr;
}

bool is_integer(NpyType t) {
  return t == NpyType::u8 || t == NpyType::i8 || t == NpyType::u16 || t == NpyType::i16 || t == NpyType::i32 ||
         t == NpyType::u32 || t == NpyType::i64 || t == NpyType::u64;
}

int64_t integer_at(const NpyArray& a, int64_t i) {
  const uint8_t* p = a.data.data();
  switch (a.type) {
    case NpyType::u8:
      return p[i];
    case NpyType::i8:
      return reinterpret_cast<const int8_t*>(p)[i];
    case NpyType::u16:
      return reinterpret_cast<const uint16_t*>(p)[i];
    case NpyType::i16:
      return reinterpret_cast<const int16_t*>(p)[i];
    case NpyType::i32:
      return reinterpret_cast<const int32_t*>(p)[i];
    case NpyType::u32:
      return reinterpret_cast<const uint32_t*>(p)[i];
    case NpyType::i64:
      return reinterpret_cast<const int64_t*>(p)[i];
    case NpyType::u64: {
      const uint64_t v = reinterpret_cast<const uint64_t*>(p)[i];
      return v > uint64_t(INT64_MAX) ? -1 : int64_t(v);
    }
    default:
      return -1;
  }
}

// Images (N, H, W), (N, H, W, C) or (N, C, H, W) with C 1 or 3 (channels-last when both fit), u8
// or floats in [0, 1] or [0, 255]; labels integers, one per image.
ImageSet arrays_to_set(const NpyArray& x, const std::string& xname, const NpyArray& y, const std::string& yname,
                       const std::string& where) {
  const auto& s = x.shape;
  const auto bad_shape = [&] {
    return Error(
        fmt::format("data: {}: {} has shape ({}): expected images (N, H, W), (N, H, W, C) or (N, C, H, W) "
                    "with C = 1 or 3",
                    where, xname, fmt::join(s, ", ")));
  };
  if (s.size() != 3 && s.size() != 4) throw bad_shape();
  const bool nhwc = s.size() == 3 || s[3] == 1 || s[3] == 3;
  if (!nhwc && s[1] != 1 && s[1] != 3) throw bad_shape();
  const int64_t n = s[0], c = s.size() == 3 ? 1 : nhwc ? s[3] : s[1], h = nhwc ? s[1] : s[2], w = nhwc ? s[2] : s[3];
  NIMBLE_CHECK(n > 0 && h > 0 && w > 0, fmt::format("data: {}: {} holds no images", where, xname));
  const bool floats = x.type == NpyType::f32 || x.type == NpyType::f64;
  NIMBLE_CHECK(x.type == NpyType::u8 || floats,
               fmt::format("data: {}: {} must be uint8 or float32/float64 pixels", where, xname));
  const bool flat_labels = y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1);
  NIMBLE_CHECK(is_integer(y.type) && flat_labels,
               fmt::format("data: {}: {} must be a 1-D array of integer labels", where, yname));
  NIMBLE_CHECK(y.shape[0] == n,
               fmt::format("data: {}: {} has {} images but {} has {} labels", where, xname, n, yname, y.shape[0]));
  check_cache_fits(n, c * h * w, where);
  ImageSet set;
  set.images = Tensor(Shape{n, c, h, w}, DType::u8);
  uint8_t* dst = set.images.data<uint8_t>();
  const int64_t plane = h * w, count = n * c * plane;
  double scale = 1.0;
  if (floats) {
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < count; ++i) {
      const double v = x.type == NpyType::f32 ? reinterpret_cast<const float*>(x.data.data())[i]
                                              : reinterpret_cast<const double*>(x.data.data())[i];
      NIMBLE_CHECK(std::isfinite(v),
                   fmt::format("data: {}: {} holds a NaN or infinity at element {}", where, xname, i));
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
    NIMBLE_CHECK(lo >= 0 && hi <= 255.0,
                 fmt::format("data: {}: float pixels of {} must lie in [0, 1] or [0, 255], found [{}, {}]", where,
                             xname, lo, hi));
    scale = hi <= 1.0 ? 255.0 : 1.0;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t from = nhwc ? (i * plane + p) * c + k : (i * c + k) * plane + p;
        double v;
        if (x.type == NpyType::u8)
          v = x.data[size_t(from)];
        else if (x.type == NpyType::f32)
          v = reinterpret_cast<const float*>(x.data.data())[from] * scale;
        else
          v = reinterpret_cast<const double*>(x.data.data())[from] * scale;
        dst[(i * c + k) * plane + p] = uint8_t(std::lround(std::clamp(v, 0.0, 255.0)));
      }
  set.labels.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = integer_at(y, i);
    NIMBLE_CHECK(label >= 0 && label < kMaxClasses,
                 fmt::format("data: {}: label {} of image {} in {} is out of range (0..{})", where, label, i, yname,
                             kMaxClasses - 1));
    set.labels[size_t(i)] = int32_t(label);
  }
  return set;
}

int64_t max_label_plus_one(const ImageSet& s) {
  int64_t m = 0;
  for (int32_t l : s.labels) m = std::max<int64_t>(m, l + 1);
  return m;
}

void load_numpy(const fs::path& path, DataSet& d) {
  const Arrays arrays = read_arrays(path);
  std::string xn, yn, xtn, ytn;
  const NpyArray* x = find_array(arrays, {"x_train", "train_images", "images", "x", "X_train", "X"}, &xn);
  const NpyArray* y = find_array(arrays, {"y_train", "train_labels", "labels", "y", "Y_train", "Y"}, &yn);
  std::vector<std::string> keys;
  for (const auto& a : arrays) keys.push_back(a.first);
  NIMBLE_CHECK(x && y, fmt::format("data: {}: no image and label arrays: expected x_train and y_train (with x_test and "
                                   "y_test), or images and labels; it has: {}",
                                   path.string(), keys.empty() ? "nothing" : fmt::format("{}", fmt::join(keys, ", "))));
  d.train = arrays_to_set(*x, xn, *y, yn, path.string());
  const NpyArray* xt = find_array(arrays, {"x_test", "test_images", "X_test"}, &xtn);
  const NpyArray* yt = find_array(arrays, {"y_test", "test_labels", "Y_test"}, &ytn);
  NIMBLE_CHECK(!xt == !yt, fmt::format("data: {}: {} without {}", path.string(), xt ? xtn : ytn,
                                       xt ? "y_test (its labels)" : "x_test (its images)"));
  if (xt) {
    d.test = arrays_to_set(*xt, xtn, *yt, ytn, path.string());
    NIMBLE_CHECK(d.test.sample_shape() == d.train.sample_shape(),
                 fmt::format("data: {}: {} images are {} but {} images are {}", path.string(), xtn,
                             d.test.sample_shape().str(), xn, d.train.sample_shape().str()));
    d.test_source = xtn;
  }
}

// ---- splits and fitting ----

void hold_out_test(DataSet& d, const std::string& what) {
  const int64_t n = d.train.size();
  NIMBLE_CHECK(n >= 2,
               fmt::format("data: {} has {} image(s); at least 2 are needed (one to train, one to test)", what, n));
  const int64_t count = std::max<int64_t>(1, n / kTestDivisor);
  Split s = split_validation(d.train, count, kTestSplitSeed);
  d.train = std::move(s.train);
  d.test = std::move(s.val);
  d.test_source = fmt::format("{} images held out of {} (a tenth, fixed seed)", count, n);
}

ImageSet fit_set(const ImageSet& set, const Shape& target, FitMode mode, int threads, DataSet& report) {
  if (set.size() == 0 || set.sample_shape() == target) return set;
  const Shape s = set.sample_shape();
  const int64_t c = s[0], h = s[1], w = s[2], per_in = s.numel(), per_out = target.numel();
  check_cache_fits(set.size(), per_out, "the fitted images");
  ImageSet out;
  out.labels = set.labels;
  out.num_classes = set.num_classes;
  out.images = Tensor(Shape{set.size(), target[0], target[1], target[2]}, DType::u8);
  const uint8_t* src = set.images.data<uint8_t>();
  uint8_t* dst = out.images.data<uint8_t>();
  parallel_for(set.size(), threads, [&](int64_t i) {
    std::vector<uint8_t> hwc(static_cast<size_t>(per_in));
    for (int64_t k = 0; k < c; ++k)
      for (int64_t p = 0; p < h * w; ++p) hwc[size_t(p * c + k)] = src[i * per_in + k * h * w + p];
    fit_image(hwc.data(), h, w, c, target, mode, dst + i * per_out);
  });
  report.resized += set.size();
  return out;
}

void note_set(DataSet& d, const ImageSet& s) {
  if (s.size() == 0) return;
  const Shape sh = s.sample_shape();
  note_stored_size(d, sh[1], sh[2], sh[0]);
}

}  // namespace

const char* data_format_name(DataFormat f) {
  switch (f) {
    case DataFormat::idx:
      return "idx";
    case DataFormat::image_folder:
      return "folder";
    case DataFormat::cifar:
      return "cifar";
    case DataFormat::numpy:
      return "numpy";
  }
  return "?";
}

std::optional<DataFormat> parse_data_format(const std::string& name) {
  if (name == "auto") return std::nullopt;
  for (DataFormat f : {DataFormat::idx, DataFormat::image_folder, DataFormat::cifar, DataFormat::numpy})
    if (name == data_format_name(f)) return f;
  throw Error("data format must be auto, idx, folder, cifar or numpy, got '" + name + "'");
}

void check_cache_fits(int64_t n, int64_t per_sample, const std::string& what) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return;
  const double need = double(n) * double(per_sample), have = double(pages) * double(page);
  NIMBLE_CHECK(need <= 0.75 * have,
               fmt::format("data: {}: {} decoded images need {:.1f} GB, more than three quarters of this machine's "
                           "{:.1f} GB; use a smaller --input or a subset",
                           what, n, need / 1e9, have / 1e9));
}

int64_t cache_budget(int64_t cache_bytes) {
  if (cache_bytes > 0) return cache_bytes;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page / 2 : int64_t(4) << 30;
}

void note_stored_size(DataSet& r, int64_t height, int64_t width, int64_t channels) {
  const bool first = r.max_height == 0;
  r.stored_channels = std::max(r.stored_channels, channels);
  r.min_height = first ? height : std::min(r.min_height, height);
  r.min_width = first ? width : std::min(r.min_width, width);
  r.max_height = std::max(r.max_height, height);
  r.max_width = std::max(r.max_width, width);
}

DataFormat detect_data_format(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  NIMBLE_CHECK(fs::exists(p, ec), fmt::format("data: {}: no such file or folder", path));
  if (!fs::is_directory(p, ec)) {
    const std::string ext = lower_extension(p);
    NIMBLE_CHECK(ext == ".npz", fmt::format("data: {}: --data takes a folder (IDX files, CIFAR batches, .npy arrays "
                                            "or class folders of images) or a .npz archive",
                                            path));
    return DataFormat::numpy;
  }
  if (has_idx(p)) return DataFormat::idx;
  if (cifar_dir(p)) return DataFormat::cifar;
  if (has_npy(p)) return DataFormat::numpy;
  if (looks_like_image_folder(path)) return DataFormat::image_folder;
  throw Error(
      fmt::format("data: {}: no data found: expected IDX files (train-images-idx3-ubyte...), CIFAR batches "
                  "(data_batch_1.bin...), .npy arrays (x_train.npy...) or one folder of .jpg/.png images per "
                  "class",
                  path));
}

DataSet load_data(const std::string& path, const DataOptions& opt) {
  DataSet d;
  const std::optional<DataFormat> named = parse_data_format(opt.format);
  d.format = named ? *named : detect_data_format(path);
  NIMBLE_CHECK(opt.input.rank() == 0 || (opt.input.rank() == 3 && (opt.input[0] == 1 || opt.input[0] == 3)),
               "data: the input must be CxHxW with 1 or 3 channels, got " + opt.input.str());
  Shape target = opt.input;
  switch (d.format) {
    case DataFormat::idx: {
      IdxData idx = load_idx_dir(path);
      d.train = std::move(idx.train);
      d.test = std::move(idx.test);
      d.test_source = "t10k files";
      break;
    }
    case DataFormat::cifar: {
      const auto dir = cifar_dir(path);
      NIMBLE_CHECK(dir.has_value(), fmt::format("data: {}: no CIFAR batches (data_batch_1.bin and test_batch.bin, or "
                                                "train.bin and test.bin)",
                                                path));
      const auto& [folder, kind] = *dir;
      std::vector<std::string> train_files;
      if (kind == CifarKind::cifar10) {
        for (int i = 1; exists_file(folder / fmt::format("data_batch_{}.bin", i)); ++i)
          train_files.push_back((folder / fmt::format("data_batch_{}.bin", i)).string());
      } else {
        train_files.push_back((folder / "train.bin").string());
      }
      const fs::path test = folder / (kind == CifarKind::cifar10 ? "test_batch.bin" : "test.bin");
      NIMBLE_CHECK(exists_file(test), fmt::format("data: {}: missing", test.string()));
      d.train = read_cifar_batches(train_files, kind);
      d.test = read_cifar_batches({test.string()}, kind);
      d.test_source = test.filename().string();
      d.class_names = read_cifar_class_names(
          (folder / (kind == CifarKind::cifar10 ? "batches.meta.txt" : "fine_label_names.txt")).string());
      break;
    }
    case DataFormat::numpy:
      load_numpy(path, d);
      break;
    case DataFormat::image_folder: {
      const FolderLayout layout = scan_image_folder(path);
      d.class_names = layout.classes;
      if (target.rank() == 0) target = choose_folder_input(layout.train.files, opt.threads);
      const auto classes = int64_t(layout.classes.size());
      const auto files = int64_t(layout.train.files.size() + layout.val.files.size() + layout.test.files.size());
      d.cached = double(files) * double(target.numel()) <= double(cache_budget(opt.cache_bytes));
      d.train = decode_image_files(layout.train, classes, target, opt.fit, opt, !d.cached, d);
      d.val = decode_image_files(layout.val, classes, target, opt.fit, opt, !d.cached, d);
      d.test = decode_image_files(layout.test, classes, target, opt.fit, opt, !d.cached, d);
      if (!layout.test_dir.empty()) {
        d.test_source = layout.test_dir;
      } else if (!layout.val_dir.empty()) {
        d.test = std::move(d.val);  // ImageNet's layout: its val/ is what models are tested on
        d.val = ImageSet{};
        d.test_source = layout.val_dir + " (no test/ folder)";
      }
      break;
    }
  }
  if (d.format != DataFormat::image_folder) {
    note_set(d, d.train);
    note_set(d, d.test);
    if (target.rank() == 0) target = d.train.sample_shape();
    d.train = fit_set(d.train, target, opt.fit, opt.threads, d);
    d.test = fit_set(d.test, target, opt.fit, opt.threads, d);
  }
  NIMBLE_CHECK(d.train.size() > 0, fmt::format("data: {}: no training images", path));
  if (d.test.size() == 0) hold_out_test(d, path);
  // The names, the labels seen, or what the format itself declares (CIFAR-10 has ten classes even when
  // this copy lacks batches.meta.txt or some of them).
  int64_t classes = d.class_names.empty() ? 0 : int64_t(d.class_names.size());
  for (const ImageSet* s : {&d.train, &d.val, &d.test})
    classes = std::max({classes, s->num_classes, max_label_plus_one(*s)});
  for (ImageSet* s : {&d.train, &d.val, &d.test}) s->num_classes = classes;
  return d;
}

}  // namespace nimble::data
