// Image folders (torchvision's ImageFolder layout): DIR/<class>/**/*.{jpg,jpeg,png}, class names
// sorted, optionally under DIR/train, DIR/val and DIR/test. Files are decoded in parallel straight
// into the (N, C, H, W) u8 cache the loader reads, each fitted to the input on the way.
#include <fmt/format.h>
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <system_error>

#include "data/image_decode.hpp"
#include "data/internal.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kAutoMaxSide = 224;  // an input chosen from the images is at most this on its shorter side
constexpr size_t kSkippedExamples = 5;

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

bool hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

std::vector<fs::path> sorted_subdirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (!hidden(e.path()) && e.is_directory(ec)) out.push_back(e.path());
  NIMBLE_CHECK(!ec, fmt::format("data: {}: cannot list: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> images_under(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && is_image_file(it->path())) out.push_back(it->path().string());
  }
  NIMBLE_CHECK(!ec, fmt::format("data: {}: cannot list: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

// The val split's folder name, if the data has one.
std::optional<fs::path> split_dir(const fs::path& root, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* n : names)
    if (fs::is_directory(root / n, ec)) return root / n;
  return std::nullopt;
}

FolderFiles files_of(const fs::path& split, const std::vector<std::string>& classes, bool is_train) {
  FolderFiles f;
  const auto dirs = sorted_subdirs(split);
  for (const fs::path& d : dirs) {
    const std::string name = d.filename().string();
    const auto it = std::lower_bound(classes.begin(), classes.end(), name);
    NIMBLE_CHECK(it != classes.end() && *it == name,
                 fmt::format("data: {}: class '{}' is not among the training classes", d.string(), name));
    const std::vector<std::string> images = images_under(d);
    NIMBLE_CHECK(!is_train || !images.empty(),
                 fmt::format("data: {}: empty class folder (no .jpg, .jpeg or .png files)", d.string()));
    for (const std::string& file : images) {
      f.files.push_back(file);
      f.labels.push_back(int32_t(it - classes.begin()));
    }
  }
  return f;
}

}  // namespace

bool looks_like_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return false;
  const fs::path base = split_dir(root, {"train"}).value_or(fs::path(root));
  for (const fs::path& d : sorted_subdirs(base))
    for (const auto& e : fs::directory_iterator(d, ec))
      if (is_image_file(e.path()) || e.is_directory(ec)) return true;
  return false;
}

FolderLayout scan_image_folder(const std::string& root) {
  std::error_code ec;
  NIMBLE_CHECK(fs::is_directory(root, ec), fmt::format("data: {}: not a folder", root));
  FolderLayout layout;
  const std::optional<fs::path> train_dir = split_dir(root, {"train"});
  const fs::path base = train_dir.value_or(fs::path(root));
  for (const fs::path& d : sorted_subdirs(base)) layout.classes.push_back(d.filename().string());
  NIMBLE_CHECK(!layout.classes.empty(),
               fmt::format("data: {}: no class folders: expected {}/<class>/*.jpg|jpeg|png (one folder per class)",
                           base.string(), base.string()));
  NIMBLE_CHECK(int64_t(layout.classes.size()) <= kMaxClasses,
               fmt::format("data: {}: {} class folders, at most {} are supported", base.string(), layout.classes.size(),
                           kMaxClasses));
  layout.train = files_of(base, layout.classes, true);
  if (train_dir) {
    if (const auto v = split_dir(root, {"val", "valid", "validation"})) {
      layout.val = files_of(*v, layout.classes, false);
      layout.val_dir = v->string();
    }
    if (const auto t = split_dir(root, {"test"})) {
      layout.test = files_of(*t, layout.classes, false);
      layout.test_dir = t->string();
    }
  }
  return layout;
}

Shape choose_folder_input(const std::vector<std::string>& files, int threads) {
  std::vector<ImageInfo> info(files.size());
  std::vector<std::string> failed(files.size());
  parallel_for(int64_t(files.size()), threads, [&](int64_t i) {
    try {
      info[size_t(i)] = read_image_info(files[size_t(i)]);
    } catch (const Error& e) {
      failed[size_t(i)] = e.what();  // reported (or skipped) when the file is decoded
    }
  });
  std::map<std::pair<int64_t, int64_t>, int64_t> sizes;
  int64_t channels = 1;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!failed[i].empty()) continue;
    ++sizes[{info[i].height, info[i].width}];
    if (info[i].channels >= 3) channels = 3;
  }
  if (sizes.empty()) {  // every header failed: no size to choose, and no image to skip to
    NIMBLE_CHECK(!files.empty(), "data: no images to choose the input size from");
    throw Error(fmt::format("data: all {} images of {} are unreadable, e.g. {}", files.size(),
                            fs::path(files.front()).parent_path().parent_path().string(), failed.front()));
  }
  const auto common =
      std::max_element(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  int64_t readable = 0;
  std::vector<int64_t> shorter;
  for (const auto& [size, count] : sizes) {
    readable += count;
    shorter.insert(shorter.end(), size_t(count), std::min(size.first, size.second));
  }
  // One size for most images: that size (when small enough). Sizes all over the place: a square
  // of the median shorter side.
  const int64_t h = common->first.first, w = common->first.second;
  if (2 * common->second >= readable && std::max(h, w) <= kAutoMaxSide) return Shape{channels, h, w};
  std::nth_element(shorter.begin(), shorter.begin() + std::ptrdiff_t(shorter.size() / 2), shorter.end());
  const int64_t side = std::min(shorter[shorter.size() / 2], kAutoMaxSide);
  return Shape{channels, side, side};
}

namespace {

// An image folder too large to cache: each file decoded and fitted whenever its sample is read.
class FolderSource final : public SampleSource {
 public:
  FolderSource(std::vector<std::string> files, const Shape& target, FitMode mode)
      : files_(std::move(files)), target_(target), mode_(mode) {}
  Shape sample_shape() const override { return target_; }
  void read(int64_t i, uint8_t* chw) const override {
    const std::string& file = files_[size_t(i)];
    try {
      const DecodedImage img = read_image_file(file, 0);
      fit_image(img.pixels.data(), img.height, img.width, img.channels, target_, mode_, chw);
    } catch (const Error& e) {
      // The file passed the header check when the data was read; its pixel data is damaged.
      const std::string what = e.what();
      throw Error("data: " + (what.rfind(file, 0) == 0 ? what : file + ": " + what));
    }
  }

 private:
  std::vector<std::string> files_;
  Shape target_;
  FitMode mode_;
};

}  // namespace

ImageSet decode_image_files(const FolderFiles& f, int64_t num_classes, const Shape& target, FitMode mode,
                            const DataOptions& opt, bool on_the_fly, DataSet& report) {
  const int64_t n = int64_t(f.files.size());
  ImageSet set;
  set.num_classes = num_classes;
  if (n == 0) return set;
  const int64_t per = target.numel();
  Tensor images;
  if (!on_the_fly) images = Tensor(Shape{n, target[0], target[1], target[2]}, DType::u8);
  std::vector<std::string> bad(static_cast<size_t>(n));
  std::vector<ImageInfo> seen(static_cast<size_t>(n));
  parallel_for(n, opt.threads, [&](int64_t i) {
    const std::string& file = f.files[size_t(i)];
    try {
      if (on_the_fly) {  // headers only: the pixels are decoded each epoch
        const ImageInfo info = read_image_info(file);
        seen[size_t(i)] = info;
        try {
          check_big_enough(info.height, info.width, target[1], target[2]);
        } catch (const Error& e) {
          throw Error(file + ": " + e.what());
        }
        return;
      }
      const DecodedImage img = read_image_file(file, 0);
      seen[size_t(i)] = {img.height, img.width, img.channels};
      try {
        fit_image(img.pixels.data(), img.height, img.width, img.channels, target, mode,
                  images.data<uint8_t>() + i * per);
      } catch (const Error& e) {
        throw Error(file + ": " + e.what());
      }
    } catch (const Error& e) {
      if (!opt.skip_bad) throw Error(std::string("data: ") + e.what() + " (--skip-bad skips such files)");
      bad[size_t(i)] = e.what();
    }
  });
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i) {
    if (!bad[size_t(i)].empty()) {
      ++report.skipped;
      if (report.skipped_examples.size() < kSkippedExamples) report.skipped_examples.push_back(bad[size_t(i)]);
      continue;
    }
    keep.push_back(i);
    const ImageInfo& s = seen[size_t(i)];
    note_stored_size(report, s.height, s.width, s.channels);
    report.resized += s.height != target[1] || s.width != target[2] || s.channels != target[0];
  }
  NIMBLE_CHECK(!keep.empty(), fmt::format("data: all {} images of {} were unreadable", n,
                                          fs::path(f.files.front()).parent_path().parent_path().string()));
  if (on_the_fly) {  // the kept files, each its own sample
    std::vector<std::string> files;
    files.reserve(keep.size());
    for (int64_t i : keep) {
      files.push_back(f.files[size_t(i)]);
      set.labels.push_back(f.labels[size_t(i)]);
    }
    set.source = std::make_shared<FolderSource>(std::move(files), target, mode);
    set.source_index.resize(keep.size());
    std::iota(set.source_index.begin(), set.source_index.end(), 0);
    return set;
  }
  set.labels = f.labels;
  set.images = images;
  if (int64_t(keep.size()) == n) return set;
  return gather(set, keep);
}

}  // namespace nimble::data
