// load_data end to end: image folders, CIFAR batches and NumPy arrays
// detected, read, labelled, fitted to the model's input and split, and every bad file a one-line error
// naming it (or skipped and counted with skip_bad). The data sets are small and written here by the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "data_readers_util.hpp"
#include "nimble/data/dataset.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble::data {
namespace {

using namespace testing;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- fixtures

void put(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  write_file(path, bytes, false);
}

// A PNG of (H, W, channels) pixels, channels 1 (grey) or 3 (RGB).
void png_file(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& px) {
  put(path, png_bytes(width, height, channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB, px.data()));
}

// A PNG or JPEG (by the extension) whose every pixel is `value` in every channel.
void solid_file(const std::string& path, int width, int height, int channels, uint8_t value) {
  const std::vector<uint8_t> px(size_t(width) * size_t(height) * size_t(channels), value);
  if (fs::path(path).extension() == ".png")
    png_file(path, width, height, channels, px);
  else
    put(path, jpeg_bytes(width, height, channels == 1 ? TJPF_GRAY : TJPF_RGB, px.data(),
                         channels == 1 ? TJSAMP_GRAY : TJSAMP_444));
}

// Sample i of a set as a vector of its (C, H, W) bytes.
std::vector<uint8_t> sample(const ImageSet& s, int64_t i) {
  const int64_t per = s.sample_shape().numel();
  const uint8_t* p = s.images.data<uint8_t>() + i * per;
  return {p, p + per};
}

int pixel(const ImageSet& s, int64_t i, int64_t c, int64_t y, int64_t x) {
  const Shape sh = s.sample_shape();
  return s.images.data<uint8_t>()[((i * sh[0] + c) * sh[1] + y) * sh[2] + x];
}

// A load_data error: one line, naming `name`, containing `phrase`.
void expect_error(const std::string& msg, const std::string& name, const std::string& phrase) {
  ASSERT_FALSE(msg.empty()) << "no nimble::Error for " << name;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(name), std::string::npos) << "message does not name " << name << ": " << msg;
  EXPECT_NE(msg.find(phrase), std::string::npos) << "message lacks '" << phrase << "': " << msg;
}

DataOptions with_input(const Shape& input, bool skip_bad = false) {
  DataOptions o;
  o.input = input;
  o.skip_bad = skip_bad;
  return o;
}

// ---------------------------------------------------------------- image folders

// Files of three classes, created out of name order; each file is one constant grey level (10 * its
// number) that survives decoding and resizing, so a sample says which file it came from.
TEST(LoadDataFolder, ClassesAreSortedAndEveryImageGetsItsFoldersLabel) {
  TempDir dir;
  // ant: grey PNGs 20x30; bee: colour JPEGs 40x40; cat: colour PNGs 33x17 (width x height).
  const std::map<int, int> label_of = {{1, 0}, {2, 0}, {3, 0}, {4, 1}, {5, 1}, {6, 2}, {7, 2}, {8, 2}, {9, 2}};
  solid_file(dir / "cat/c1.png", 33, 17, 3, 60);
  solid_file(dir / "cat/c2.png", 33, 17, 3, 70);
  solid_file(dir / "cat/sub/c3.png", 33, 17, 3, 80);  // nested folders belong to their class
  solid_file(dir / "cat/c4.PNG", 33, 17, 3, 90);      // extensions in any case
  solid_file(dir / "ant/a1.png", 20, 30, 1, 10);
  solid_file(dir / "ant/a2.png", 20, 30, 1, 20);
  solid_file(dir / "ant/a3.png", 20, 30, 1, 30);
  solid_file(dir / "bee/b1.jpg", 40, 40, 3, 40);
  solid_file(dir / "bee/b2.jpeg", 40, 40, 3, 50);
  std::ofstream(dir / "ant/notes.txt") << "not an image";
  solid_file(dir / ".thumbnails/x.png", 4, 4, 1, 255);  // hidden: not a class
  solid_file(dir / "ant/.hidden.png", 20, 30, 1, 250);  // hidden: not an image of the class

  EXPECT_EQ(detect_data_format(dir.path()), DataFormat::image_folder);
  const DataSet d = load_data(dir.path(), with_input(Shape{1, 8, 8}));
  EXPECT_EQ(d.format, DataFormat::image_folder);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"ant", "bee", "cat"}));
  EXPECT_EQ(d.train.size() + d.test.size(), 9);
  EXPECT_EQ(d.test.size(), 1);  // no test/ folder: a tenth (at least one) held out
  EXPECT_EQ(d.val.size(), 0);
  std::set<int> seen;
  for (const ImageSet* s : {&d.train, &d.test}) {
    EXPECT_EQ(s->sample_shape(), (Shape{1, 8, 8}));
    EXPECT_EQ(s->num_classes, 3);
    for (int64_t i = 0; i < s->size(); ++i) {
      const std::vector<uint8_t> px = sample(*s, i);
      const auto [lo, hi] = std::minmax_element(px.begin(), px.end());
      EXPECT_LE(*hi - *lo, 3) << "a constant image came out uneven";
      const int file = int(std::lround(double(px[0]) / 10.0));
      ASSERT_TRUE(label_of.count(file)) << "pixel " << int(px[0]);
      EXPECT_TRUE(seen.insert(file).second) << "file " << file << " loaded twice";
      EXPECT_EQ(s->labels[size_t(i)], label_of.at(file)) << "file " << file;
    }
  }
  EXPECT_EQ(seen.size(), 9u);
  // What was stored, before fitting: colour somewhere, sizes from 33x17 to 40x40; every image changed.
  EXPECT_EQ(d.stored_channels, 3);
  EXPECT_EQ(d.min_height, 17);
  EXPECT_EQ(d.min_width, 20);
  EXPECT_EQ(d.max_height, 40);
  EXPECT_EQ(d.max_width, 40);
  EXPECT_EQ(d.resized, 9);
  EXPECT_EQ(d.skipped, 0);
}

// Thirds of 0 / 128 / 255 across a wide image (down a tall one): crop keeps the middle third, stretch
// keeps all three.
TEST(LoadDataFolder, CropKeepsTheCentreAndStretchKeepsEverything) {
  TempDir dir;
  std::vector<uint8_t> wide(60 * 20), tall(20 * 60);
  const auto third = [](int at, int of) { return uint8_t(at < of / 3 ? 0 : at < 2 * of / 3 ? 128 : 255); };
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 60; ++x) wide[size_t(y) * 60 + size_t(x)] = third(x, 60);
  for (int y = 0; y < 60; ++y)
    for (int x = 0; x < 20; ++x) tall[size_t(y) * 20 + size_t(x)] = third(y, 60);
  png_file(dir / "test/a/wide.png", 60, 20, 1, wide);
  png_file(dir / "test/b/tall.png", 20, 60, 1, tall);
  png_file(dir / "train/a/wide.png", 60, 20, 1, wide);
  png_file(dir / "train/b/tall.png", 20, 60, 1, tall);

  DataOptions crop = with_input(Shape{1, 10, 10});
  const DataSet c = load_data(dir.path(), crop);
  ASSERT_EQ(c.test.size(), 2);
  ASSERT_EQ(c.test.labels, (std::vector<int32_t>{0, 1}));
  // Shrunk by 2, the 20 px middle third fills the 10 px output; only its outer rows/columns see
  // a little of the neighbouring thirds through the filter.
  for (int64_t y = 0; y < 10; ++y)
    for (int64_t x = 0; x < 10; ++x) {
      const int w = pixel(c.test, 0, 0, y, x), t = pixel(c.test, 1, 0, x, y);  // tall: transposed
      SCOPED_TRACE(::testing::Message() << "y " << y << " x " << x << " wide " << w << " tall " << t);
      if (x >= 1 && x <= 8) {
        EXPECT_NEAR(w, 128, 1);
        EXPECT_NEAR(t, 128, 1);
      } else {
        EXPECT_NEAR(w, x == 0 ? 112 : 144, 3);
        EXPECT_NEAR(t, x == 0 ? 112 : 144, 3);
      }
    }

  // A wide input: the crop box has the input's aspect (40x20 of the wide image, 20x10 of the tall one).
  const DataSet cw = load_data(dir.path(), with_input(Shape{1, 10, 20}));
  for (int64_t y = 0; y < 10; ++y) {
    EXPECT_EQ(pixel(cw.test, 0, 0, y, 2), 0);
    EXPECT_NEAR(pixel(cw.test, 0, 0, y, 10), 128, 1);
    EXPECT_EQ(pixel(cw.test, 0, 0, y, 17), 255);
    for (int64_t x = 0; x < 20; ++x) EXPECT_NEAR(pixel(cw.test, 1, 0, y, x), 128, 1);  // the tall one's middle
  }

  DataOptions stretch = crop;
  stretch.fit = FitMode::stretch;
  const DataSet s = load_data(dir.path(), stretch);
  for (int64_t y = 0; y < 10; ++y) {
    EXPECT_EQ(pixel(s.test, 0, 0, y, 0), 0);
    EXPECT_NEAR(pixel(s.test, 0, 0, y, 5), 128, 1);
    EXPECT_EQ(pixel(s.test, 0, 0, y, 9), 255);
    EXPECT_EQ(pixel(s.test, 1, 0, 0, y), 0);
    EXPECT_NEAR(pixel(s.test, 1, 0, 5, y), 128, 1);
    EXPECT_EQ(pixel(s.test, 1, 0, 9, y), 255);
  }
}

TEST(LoadDataFolder, GreyIsReplicatedToRgbAndColourBecomesLuma) {
  TempDir dir;
  solid_file(dir / "train/grey/g.png", 12, 12, 1, 77);
  std::vector<uint8_t> rgb(12 * 12 * 3);
  for (size_t p = 0; p < 12 * 12; ++p) rgb[3 * p] = 10, rgb[3 * p + 1] = 200, rgb[3 * p + 2] = 30;
  png_file(dir / "train/rgb/c.png", 12, 12, 3, rgb);
  solid_file(dir / "test/grey/g.png", 12, 12, 1, 77);
  png_file(dir / "test/rgb/c.png", 12, 12, 3, rgb);

  const DataSet colour = load_data(dir.path(), with_input(Shape{3, 12, 12}));
  ASSERT_EQ(colour.test.size(), 2);
  EXPECT_EQ(sample(colour.test, 0), std::vector<uint8_t>(3 * 144, 77));
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(pixel(colour.test, 1, c, 6, 6), (std::array<int, 3>{10, 200, 30})[c]);
  EXPECT_EQ(colour.resized, 2);  // the grey ones changed channels; the colour ones did not

  const DataSet grey = load_data(dir.path(), with_input(Shape{1, 12, 12}));
  EXPECT_EQ(sample(grey.test, 0), std::vector<uint8_t>(144, 77));
  // ITU-R 601 luma: (10 * 299 + 200 * 587 + 30 * 114 + 500) / 1000 = 124.
  EXPECT_EQ(sample(grey.test, 1), std::vector<uint8_t>(144, 124));
}

TEST(LoadDataFolder, TrainValTestFoldersAreTheSplits) {
  TempDir dir;
  int v = 1;
  const auto add = [&](const std::string& split, const std::string& cls, int n) {
    for (int i = 0; i < n; ++i)
      solid_file(dir / (split + "/" + cls + "/" + std::to_string(i) + ".png"), 6, 6, 1, uint8_t(v++));
  };
  add("train", "dog", 3), add("train", "cat", 4);
  add("val", "dog", 1);  // a split may lack a class
  add("test", "cat", 2), add("test", "dog", 1);
  const DataSet d = load_data(dir.path(), {});
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(d.val.labels, (std::vector<int32_t>{1}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(d.test_source, dir / "test");
  EXPECT_EQ(pixel(d.val, 0, 0, 0, 0), 8);    // the val file, not a training one
  EXPECT_EQ(pixel(d.test, 2, 0, 0, 0), 11);  // test/dog/0.png
  for (const ImageSet* s : {&d.train, &d.val, &d.test}) EXPECT_EQ(s->num_classes, 2);

  // ImageNet's layout: train/ and val/ only; val/ is the test split then.
  fs::remove_all(dir / "test");
  fs::rename(dir / "val", dir / "valid");
  const DataSet n = load_data(dir.path(), {});
  EXPECT_EQ(n.val.size(), 0);
  EXPECT_EQ(n.test.labels, (std::vector<int32_t>{1}));
  EXPECT_EQ(pixel(n.test, 0, 0, 0, 0), 8);
  EXPECT_NE(n.test_source.find("no test/ folder"), std::string::npos) << n.test_source;
  EXPECT_EQ(n.train.size(), 7);

  // A class that training does not have.
  solid_file(dir / "valid/cow/0.png", 6, 6, 1, 1);
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir / "valid/cow", "not among the training classes");
}

TEST(LoadDataFolder, HeldOutTestTenthIsFixedAndDisjoint) {
  TempDir dir;
  for (int i = 0; i < 25; ++i)
    solid_file(dir / ((i % 2 ? "odd/" : "even/") + std::to_string(i) + ".png"), 5, 5, 1, uint8_t(8 * i + 8));
  DataOptions one = with_input(Shape{1, 5, 5});
  one.threads = 1;
  DataOptions two = one;
  two.threads = 2;
  const DataSet a = load_data(dir.path(), one), b = load_data(dir.path(), two);
  EXPECT_EQ(a.test.size(), 2);
  EXPECT_EQ(a.train.size(), 23);
  EXPECT_NE(a.test_source.find("2 images held out of 25"), std::string::npos) << a.test_source;
  EXPECT_EQ(a.test.labels, b.test.labels);
  EXPECT_EQ(a.train.labels, b.train.labels);
  std::multiset<int> all;
  for (int64_t i = 0; i < a.test.size(); ++i) {
    EXPECT_EQ(sample(a.test, i), sample(b.test, i));
    all.insert(pixel(a.test, i, 0, 0, 0));
  }
  for (int64_t i = 0; i < a.train.size(); ++i) all.insert(pixel(a.train, i, 0, 0, 0));
  std::multiset<int> want;
  for (int i = 0; i < 25; ++i) want.insert(8 * i + 8);
  EXPECT_EQ(all, want);  // every image once, in train or test
}

TEST(LoadDataFolder, AutoInputIsTheMostCommonSizeWithColourIfAnyImageHasIt) {
  TempDir dir;
  solid_file(dir / "a/1.png", 40, 40, 1, 50);
  solid_file(dir / "a/2.png", 40, 40, 1, 50);
  solid_file(dir / "a/3.png", 20, 30, 1, 50);
  solid_file(dir / "b/1.png", 20, 30, 1, 50);
  solid_file(dir / "b/2.png", 33, 17, 1, 50);
  solid_file(dir / "b/3.png", 40, 40, 1, 50);
  const DataSet grey = load_data(dir.path(), {});
  EXPECT_EQ(grey.train.sample_shape(), (Shape{1, 40, 40}));
  EXPECT_EQ(grey.test.sample_shape(), (Shape{1, 40, 40}));
  EXPECT_EQ(grey.resized, 3);  // the three that are not 40x40
  EXPECT_EQ(grey.stored_channels, 1);

  solid_file(dir / "b/4.jpg", 40, 40, 3, 50);  // one colour image makes the input RGB
  const DataSet colour = load_data(dir.path(), {});
  EXPECT_EQ(colour.train.sample_shape(), (Shape{3, 40, 40}));
  EXPECT_EQ(colour.resized, 6);                      // all but the colour 40x40 one
  for (int64_t i = 0; i < colour.train.size(); ++i)  // grey replicated, the colour one close to 50
    for (int64_t c = 0; c < 3; ++c) EXPECT_NEAR(pixel(colour.train, i, c, 20, 20), 50, 2);

  // Large images: the shorter side, capped at 224, square.
  TempDir big;
  solid_file(big / "a/1.png", 300, 240, 1, 9);
  solid_file(big / "a/2.png", 300, 240, 1, 9);
  solid_file(big / "b/1.png", 300, 200, 1, 9);
  EXPECT_EQ(load_data(big.path(), {}).train.sample_shape(), (Shape{1, 224, 224}));
}

// ---------------------------------------------------------------- CIFAR binaries

std::vector<uint8_t> cifar_records(int n, int label_bytes, unsigned salt, const std::vector<int>& labels) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    if (label_bytes == 2) out.push_back(uint8_t(i % 20));
    out.push_back(uint8_t(labels[size_t(i)]));
    const std::vector<uint8_t> px = pattern(3072, salt * 100 + unsigned(i));
    out.insert(out.end(), px.begin(), px.end());
  }
  return out;
}

TEST(LoadDataCifar, Cifar10BatchesWithClassNames) {
  TempDir dir;
  const std::string folder = dir / "cifar-10-batches-bin";  // where the official archive unpacks
  fs::create_directories(folder);
  put(folder + "/data_batch_1.bin", cifar_records(4, 1, 1, {3, 1, 0, 2}));
  put(folder + "/data_batch_2.bin", cifar_records(3, 1, 2, {1, 1, 3}));
  put(folder + "/test_batch.bin", cifar_records(2, 1, 3, {2, 0}));
  std::ofstream(folder + "/batches.meta.txt")
      << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

  EXPECT_EQ(detect_data_format(dir.path()), DataFormat::cifar);
  const DataSet d = load_data(dir.path(), {});
  EXPECT_EQ(d.format, DataFormat::cifar);
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{3, 1, 0, 2, 1, 1, 3}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(d.test_source, "test_batch.bin");
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[3], "cat");
  EXPECT_EQ(d.train.num_classes, 10);
  EXPECT_EQ(d.train.sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(sample(d.train, 4), pattern(3072, 200));  // data_batch_2's first record
  EXPECT_EQ(sample(d.test, 1), pattern(3072, 301));
  EXPECT_EQ(d.resized, 0);

  // Without its class names the format still has ten classes, whatever labels this subset uses.
  fs::remove(folder + "/batches.meta.txt");
  const DataSet n = load_data(folder, with_input(Shape{1, 16, 16}));
  EXPECT_TRUE(n.class_names.empty());
  EXPECT_EQ(n.train.num_classes, 10);
  EXPECT_EQ(n.test.num_classes, 10);
  EXPECT_EQ(n.train.sample_shape(), (Shape{1, 16, 16}));
  EXPECT_EQ(n.resized, 9);
  EXPECT_EQ(n.stored_channels, 3);

  fs::remove(folder + "/test_batch.bin");
  expect_error(error_of([&] { load_data(folder, {}); }), folder + "/test_batch.bin", "missing");
}

TEST(LoadDataCifar, Cifar100UsesTheFineLabels) {
  TempDir dir;
  put(dir / "train.bin", cifar_records(3, 2, 1, {99, 0, 42}));
  put(dir / "test.bin", cifar_records(2, 2, 2, {7, 99}));
  std::string names;
  for (int i = 0; i < 100; ++i) names += "class" + std::to_string(i) + "\n";
  std::ofstream(dir / "fine_label_names.txt") << names;
  EXPECT_EQ(detect_data_format(dir.path()), DataFormat::cifar);
  const DataSet d = load_data(dir.path(), {});
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{99, 0, 42}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{7, 99}));
  EXPECT_EQ(d.class_names.size(), 100u);
  EXPECT_EQ(d.class_names[42], "class42");
  EXPECT_EQ(d.train.num_classes, 100);
  EXPECT_EQ(sample(d.train, 2), pattern(3072, 102));
}

// ---------------------------------------------------------------- NumPy arrays

std::vector<uint8_t> i64_payload(const std::vector<int64_t>& v) {
  std::vector<uint8_t> out(v.size() * 8);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<uint8_t> f32_payload(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A shape as numpy writes it in a header: "(4,)", "(4, 5, 3)".
std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

// N images of 4x5 with 3 channels: pixel (i, c, y, x) = value(i, c, y, x), as NCHW.
uint8_t value(int64_t i, int64_t c, int64_t y, int64_t x) { return uint8_t(i * 40 + c * 13 + y * 5 + x + 1); }

// The same images laid out as `layout` ("nhwc", "nchw", "nhw" (channel 0 only)) of u8 bytes.
std::vector<uint8_t> images(int64_t n, const std::string& layout) {
  std::vector<uint8_t> out;
  for (int64_t i = 0; i < n; ++i) {
    if (layout == "nchw") {
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < 4; ++y)
          for (int64_t x = 0; x < 5; ++x) out.push_back(value(i, c, y, x));
    } else {
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 5; ++x)
          for (int64_t c = 0; c < (layout == "nhw" ? 1 : 3); ++c) out.push_back(value(i, c, y, x));
    }
  }
  return out;
}

std::vector<int64_t> image_shape(int64_t n, const std::string& layout) {
  if (layout == "nchw") return {n, 3, 4, 5};
  if (layout == "nhw") return {n, 4, 5};
  return {n, 4, 5, 3};
}

// (name, .npy bytes) of images in `layout` and `dtype` ("u8", "f1": floats in [0, 1], "f255"), labels i % 3.
std::vector<std::pair<std::string, std::vector<uint8_t>>> arrays(int64_t n, const std::string& layout,
                                                                 const std::string& dtype, const std::string& x,
                                                                 const std::string& y, int64_t labels = -1) {
  const std::vector<uint8_t> u8 = images(n, layout);
  std::vector<uint8_t> xb;
  if (dtype == "u8") {
    xb = npy_bytes("|u1", shape_text(image_shape(n, layout)), u8);
  } else {
    std::vector<float> f;
    f.reserve(u8.size());
    for (uint8_t b : u8) f.push_back(dtype == "f1" ? float(b) / 255.0f : float(b));
    xb = npy_bytes("<f4", shape_text(image_shape(n, layout)), f32_payload(f));
  }
  std::vector<int64_t> l;
  for (int64_t i = 0; i < (labels < 0 ? n : labels); ++i) l.push_back(i % 3);
  return {{x, xb}, {y, npy_bytes("<i8", shape_text({int64_t(l.size())}), i64_payload(l))}};
}

void write_npy_folder(const std::string& dir, const std::vector<std::pair<std::string, std::vector<uint8_t>>>& a) {
  for (const auto& [name, bytes] : a) put(dir + "/" + name + ".npy", bytes);
}

// Members of an .npz as numpy names them: "x_train.npy".
std::vector<std::pair<std::string, std::vector<uint8_t>>> npz_members(
    std::vector<std::pair<std::string, std::vector<uint8_t>>> a) {
  for (auto& m : a) m.first += ".npy";
  return a;
}

void expect_values(const ImageSet& s, int64_t first, int64_t channels) {
  ASSERT_EQ(s.sample_shape(), (Shape{channels, 4, 5}));
  for (int64_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s.labels[size_t(i)], (first + i) % 3);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 5; ++x)
          ASSERT_EQ(pixel(s, i, c, y, x), value(first + i, c, y, x)) << i << " " << c << " " << y << " " << x;
  }
}

TEST(LoadDataNumpy, LayoutsAndPixelTypesReadTheSameImages) {
  for (const std::string layout : {"nhwc", "nchw", "nhw"})
    for (const std::string dtype : {"u8", "f1", "f255"}) {
      SCOPED_TRACE(layout + " " + dtype);
      TempDir dir;
      auto a = arrays(6, layout, dtype, "x_train", "y_train");
      for (auto& t : arrays(2, layout, dtype, "x_test", "y_test")) a.push_back(t);
      write_npy_folder(dir.path(), a);
      EXPECT_EQ(detect_data_format(dir.path()), DataFormat::numpy);
      const DataSet d = load_data(dir.path(), {});
      EXPECT_EQ(d.format, DataFormat::numpy);
      const int64_t c = layout == "nhw" ? 1 : 3;
      expect_values(d.train, 0, c);
      expect_values(d.test, 0, c);
      EXPECT_EQ(d.train.size(), 6);
      EXPECT_EQ(d.test_source, "x_test");
      EXPECT_EQ(d.train.num_classes, 3);
    }
}

TEST(LoadDataNumpy, NpzWithAndWithoutATestSplit) {
  TempDir dir;
  auto a = arrays(20, "nhwc", "u8", "x_train", "y_train");
  auto t = arrays(3, "nhwc", "u8", "x_test", "y_test");
  write_npz(dir / "with.npz", npz_members({a[0], a[1], t[0], t[1]}), true);
  EXPECT_EQ(detect_data_format(dir / "with.npz"), DataFormat::numpy);
  const DataSet w = load_data(dir / "with.npz", {});
  expect_values(w.train, 0, 3);
  expect_values(w.test, 0, 3);
  EXPECT_EQ(w.train.size(), 20);

  // Only training arrays (named images/labels): a tenth held out, the same every time.
  auto il = arrays(20, "nhwc", "u8", "images", "labels");
  write_npz(dir / "without.npz", npz_members(il), false);
  const DataSet o = load_data(dir / "without.npz", {}), o2 = load_data(dir / "without.npz", {});
  EXPECT_EQ(o.train.size(), 18);
  EXPECT_EQ(o.test.size(), 2);
  EXPECT_EQ(o.test.labels, o2.test.labels);
  EXPECT_EQ(sample(o.test, 0), sample(o2.test, 0));
  EXPECT_NE(o.test_source.find("held out"), std::string::npos);
  EXPECT_EQ(o.train.num_classes, 3);
  // Fitted to a given input like any other format.
  const DataSet f = load_data(dir / "without.npz", with_input(Shape{1, 8, 8}));
  EXPECT_EQ(f.train.sample_shape(), (Shape{1, 8, 8}));
  EXPECT_EQ(f.resized, 20);
}

TEST(LoadDataNumpy, BadLabelsAndShapesNameTheArray) {
  TempDir dir;
  const auto labels = [&](const std::vector<int64_t>& l) {
    put(dir / "y_train.npy", npy_bytes("<i8", shape_text({int64_t(l.size())}), i64_payload(l)));
  };
  write_npy_folder(dir.path(), arrays(4, "nhwc", "u8", "x_train", "y_train"));
  labels({0, 1, -1, 2});
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir.path(), "label -1 of image 2 in y_train");
  labels({0, 1, 2, 70000});
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir.path(),
               "label 70000 of image 3 in y_train is out of range");
  labels({0, 1, 2});
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir.path(),
               "x_train has 4 images but y_train has 3 labels");
  labels({0, 1, 2, 1});
  EXPECT_EQ(load_data(dir.path(), {}).train.size() + load_data(dir.path(), {}).test.size(), 4);
  // Test images of another size than the training ones.
  put(dir / "x_test.npy", npy_bytes("|u1", "(1, 2, 2, 3)", std::vector<uint8_t>(12, 0)));
  put(dir / "y_test.npy", npy_bytes("<i8", "(1,)", i64_payload({0})));
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir.path(), "x_test images are");
  fs::remove(dir / "y_test.npy");
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir.path(), "x_test without y_test");
}

TEST(LoadDataNumpy, NonFiniteFloatPixelsAreRefusedWhereTheyAre) {
  TempDir dir;
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> px(4 * 4 * 5 * 3, 0.5f);
    px[37] = bad;
    put(dir / "x_train.npy", npy_bytes("<f4", "(4, 4, 5, 3)", f32_payload(px)));
    put(dir / "y_train.npy", npy_bytes("<i8", "(4,)", i64_payload({0, 1, 2, 1})));
    expect_error(error_of([&] { load_data(dir.path(), {}); }), dir.path(),
                 "x_train holds a NaN or infinity at element 37");
  }
}

// ---------------------------------------------------------------- bad files

// A folder of good 28x28 images in two classes, plus whatever the test adds.
void good_images(const TempDir& dir, int per_class = 5) {
  for (int i = 0; i < per_class; ++i) {
    solid_file(dir / ("a/good" + std::to_string(i) + ".png"), 28, 28, 1, uint8_t(10 + i));
    solid_file(dir / ("b/good" + std::to_string(i) + ".png"), 28, 28, 1, uint8_t(100 + i));
  }
}

struct BadFile {
  std::string name, phrase;
  std::vector<uint8_t> bytes;
};

std::vector<BadFile> bad_files() {
  const std::vector<uint8_t> grey(28 * 28, 90), one(1, 90);
  std::vector<uint8_t> truncated = png_bytes(28, 28, PNG_FORMAT_GRAY, grey.data());
  truncated.resize(truncated.size() / 2);
  const std::vector<uint16_t> deep(28 * 28, 40000);
  const std::string text = "this is a text file, not a picture\n";
  return {
      {"a/text.png", "not a JPEG or PNG file", {text.begin(), text.end()}},
      {"a/empty.jpg", "empty file", {}},
      {"b/truncated.png", "truncated PNG", truncated},
      {"b/tiny.png", "too small", png_bytes(1, 1, PNG_FORMAT_GRAY, one.data())},
      {"b/deep.png", "16-bit PNG", png_bytes(28, 28, PNG_FORMAT_LINEAR_Y, deep.data())},
  };
}

TEST(LoadDataBadFiles, EachIsAOneLineErrorNamingTheFile) {
  for (const BadFile& b : bad_files()) {
    SCOPED_TRACE(b.name);
    TempDir dir;
    good_images(dir);
    put(dir / b.name, b.bytes);
    // Both with the input given and chosen from the images.
    for (const DataOptions& opt : {with_input(Shape{1, 28, 28}), DataOptions{}}) {
      const std::string msg = error_of([&] { load_data(dir.path(), opt); });
      expect_error(msg, dir / b.name, b.phrase);
      EXPECT_NE(msg.find("--skip-bad"), std::string::npos) << msg;
    }
  }
}

TEST(LoadDataBadFiles, SkipBadLeavesThemOutAndCountsThem) {
  TempDir dir;
  good_images(dir, 6);
  const std::vector<BadFile> bad = bad_files();
  for (const BadFile& b : bad) put(dir / b.name, b.bytes);
  for (const DataOptions& opt : {with_input(Shape{1, 28, 28}, true), with_input(Shape{}, true)}) {
    const DataSet d = load_data(dir.path(), opt);
    EXPECT_EQ(d.skipped, int64_t(bad.size()));
    EXPECT_EQ(d.train.size() + d.test.size(), 12);
    EXPECT_EQ(d.train.sample_shape(), (Shape{1, 28, 28}));
    ASSERT_EQ(d.skipped_examples.size(), bad.size());
    for (const BadFile& b : bad)
      EXPECT_TRUE(std::any_of(d.skipped_examples.begin(), d.skipped_examples.end(), [&](const std::string& e) {
        return e.find(dir / b.name) != std::string::npos;
      })) << b.name;
    for (const std::string& e : d.skipped_examples) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    // The good ones keep their labels.
    for (const ImageSet* s : {&d.train, &d.test})
      for (int64_t i = 0; i < s->size(); ++i) EXPECT_EQ(s->labels[size_t(i)], pixel(*s, i, 0, 5, 5) >= 100 ? 1 : 0);
  }
}

TEST(LoadDataBadFiles, AllBadIsAnError) {
  TempDir dir;
  for (const BadFile& b : bad_files()) put(dir / b.name, b.bytes);
  // Without skip_bad: the first bad file, even when the input is chosen from the images.
  for (const DataOptions& opt : {with_input(Shape{1, 28, 28}), DataOptions{}})
    expect_error(error_of([&] { load_data(dir.path(), opt); }), dir / "a/empty.jpg", "empty file");
  for (const DataOptions& opt : {with_input(Shape{1, 28, 28}, true), with_input(Shape{}, true)})
    expect_error(error_of([&] { load_data(dir.path(), opt); }), dir.path(), "unreadable");

  // Not one header readable, so no size to choose the input from: still the first file's problem.
  TempDir headerless;
  for (const BadFile& b : bad_files())
    if (b.phrase != "too small" && b.phrase != "truncated PNG") put(headerless / b.name, b.bytes);
  expect_error(error_of([&] { load_data(headerless.path(), {}); }), headerless / "a/empty.jpg", "empty file");
  expect_error(error_of([&] { load_data(headerless.path(), with_input(Shape{}, true)); }), headerless.path(),
               "unreadable");
}

TEST(LoadDataBadFiles, EmptyAndImagelessFolders) {
  TempDir dir;
  good_images(dir);
  fs::create_directories(dir / "c");
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir / "c", "empty class folder");
  std::ofstream(dir / "c/readme.txt") << "nothing here";
  expect_error(error_of([&] { load_data(dir.path(), {}); }), dir / "c", "empty class folder");

  TempDir none;
  fs::create_directories(none / "a");
  std::ofstream(none / "a/readme.txt") << "nothing here";
  expect_error(error_of([&] { load_data(none.path(), {}); }), none.path(), "no data found");
  DataOptions folder;
  folder.format = "folder";
  expect_error(error_of([&] { load_data(none.path(), folder); }), none / "a", "empty class folder");
  TempDir empty;
  expect_error(error_of([&] { load_data(empty.path(), folder); }), empty.path(), "no class folders");
  // One image cannot be split into training and test images.
  TempDir single;
  solid_file(single / "a/1.png", 8, 8, 1, 1);
  expect_error(error_of([&] { load_data(single.path(), {}); }), single.path(), "at least 2 are needed");
  // A format that is not what the folder holds.
  DataOptions cifar;
  cifar.format = "cifar";
  expect_error(error_of([&] { load_data(dir.path(), cifar); }), dir.path(), "no CIFAR batches");
}

// The workflows' validation hold-out when --val is not given: a tenth, at least one, at most 5,000.
// ---------------------------------------------------------------- decoding on the fly

// Colour images of varied sizes, a few per class, each different (so a mix-up shows).
void varied_images(const TempDir& dir) {
  for (int i = 0; i < 8; ++i)
    for (const char* cls : {"x", "y"}) {
      const int w = 20 + 3 * i, h = 18 + 2 * i;
      std::vector<uint8_t> px(size_t(w) * size_t(h) * 3);
      for (size_t k = 0; k < px.size(); ++k) px[k] = uint8_t((k * (7 + size_t(i)) + (cls[0] == 'x' ? 0 : 90)) % 251);
      png_file(dir / (std::string(cls) + "/" + std::to_string(i) + ".png"), w, h, 3, px);
    }
}

// Every batch of an epoch as (labels, pixels), augmented and shuffled.
std::vector<std::pair<std::vector<int32_t>, std::vector<float>>> epoch_batches(const ImageSet& set) {
  Augment aug;
  aug.hflip = true;
  aug.crop_scale = 0.5f;
  aug.jitter = 0.2f;
  BatchLoader loader(set, compute_normalization(set), 4, true, false, aug, 11);
  loader.start_epoch(3);
  std::vector<std::pair<std::vector<int32_t>, std::vector<float>>> out;
  Batch b;
  while (loader.next(b))
    out.emplace_back(b.labels, std::vector<float>(b.images.data<float>(), b.images.data<float>() + b.images.numel()));
  return out;
}

TEST(LoadDataOnTheFly, BeyondTheCacheBudgetTheSameBatchesComeOut) {
  TempDir dir;
  varied_images(dir);
  DataOptions cached = with_input(Shape{3, 16, 16}), streamed = cached;
  streamed.cache_bytes = 1;  // nothing fits: every file is decoded when its sample is read
  const DataSet a = load_data(dir.path(), cached), b = load_data(dir.path(), streamed);
  EXPECT_TRUE(a.cached);
  EXPECT_FALSE(b.cached);
  EXPECT_TRUE(a.train.in_memory());
  EXPECT_FALSE(b.train.in_memory());
  EXPECT_FALSE(b.train.images.defined());  // nothing decoded up front
  EXPECT_EQ(b.train.labels, a.train.labels);
  EXPECT_EQ(b.test.labels, a.test.labels);
  // What was stored is known from the headers alone.
  EXPECT_EQ(b.resized, a.resized);
  EXPECT_EQ(b.max_width, a.max_width);
  EXPECT_EQ(b.min_height, a.min_height);
  // Statistics, the validation split and the loader's batches are the same, bit for bit.
  const Normalization na = compute_normalization(a.train), nb = compute_normalization(b.train);
  EXPECT_EQ(na.mean, nb.mean);
  EXPECT_EQ(na.std, nb.std);
  const Split sa = split_validation(a.train, 3, 5), sb = split_validation(b.train, 3, 5);
  EXPECT_EQ(epoch_batches(sb.train), epoch_batches(sa.train));
  EXPECT_EQ(epoch_batches(b.test), epoch_batches(a.test));
  // A BGR model's view swaps as the samples are read.
  const ImageSet swapped = swap_red_blue(b.test);
  std::vector<uint8_t> scratch(16 * 16 * 3), plain(16 * 16 * 3);
  std::copy_n(b.test.sample(0, plain.data()), plain.size(), plain.begin());
  const uint8_t* s = swapped.sample(0, scratch.data());
  EXPECT_TRUE(std::equal(s, s + 256, plain.begin() + 512));
  EXPECT_TRUE(std::equal(s + 512, s + 768, plain.begin()));
}

TEST(LoadDataOnTheFly, HeadersAreCheckedUpFrontAndDamagedPixelsNameTheFile) {
  TempDir dir;
  varied_images(dir);
  DataOptions opt = with_input(Shape{3, 16, 16});
  opt.cache_bytes = 1;
  // A text file named .png fails its header check when the data is read (or is skipped).
  const std::string text = "not a picture";
  put(dir / "x/text.png", {text.begin(), text.end()});
  expect_error(error_of([&] { load_data(dir.path(), opt); }), dir / "x/text.png", "not a JPEG or PNG file");
  opt.skip_bad = true;
  EXPECT_EQ(load_data(dir.path(), opt).skipped, 1);
  // A PNG whose header is whole but whose pixels are cut off passes the check, and fails when read,
  // naming itself.
  fs::remove(dir / "x/text.png");
  std::vector<uint8_t> px(30 * 30 * 3, 77);
  std::vector<uint8_t> cut = png_bytes(30, 30, PNG_FORMAT_RGB, px.data());
  cut.resize(cut.size() * 2 / 3);
  put(dir / "y/cut.png", cut);
  opt.skip_bad = false;
  const DataSet d = load_data(dir.path(), opt);
  const std::string msg = error_of([&] {
    for (const ImageSet* s : {&d.train, &d.test}) epoch_batches(*s);
  });
  expect_error(msg, dir / "y/cut.png", "truncated");
}

TEST(LoadDataValidation, DefaultIsATenthCappedAt5000) {
  EXPECT_EQ(workflow::default_val_count(135), 13);
  EXPECT_EQ(workflow::default_val_count(54000), 5000);
  EXPECT_EQ(workflow::default_val_count(49999), 4999);
  EXPECT_EQ(workflow::default_val_count(9), 1);
  EXPECT_EQ(workflow::default_val_count(2), 1);
  EXPECT_EQ(workflow::default_val_count(1), 0);  // nothing would be left to train on
  EXPECT_EQ(workflow::default_val_count(0), 0);
}

}  // namespace
}  // namespace nimble::data
