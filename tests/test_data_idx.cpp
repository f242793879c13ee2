// IDX loading: good files (raw, gzip, channels-last) and every kind of malformed file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "data_test_util.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {
namespace {

using namespace testing;

constexpr uint32_t kImages3 = 0x00000803, kImages4 = 0x00000804, kLabelsU8 = 0x00000801, kLabelsS32 = 0x00000C01;

struct Files {
  std::vector<uint8_t> train_images, train_labels, test_images, test_labels;
};

// Train: 5 images of 3x4, labels 0..2. Test: 3 images, labels up to 6.
Files good_files() {
  return {idx_bytes(kImages3, {5, 3, 4}, pattern(60, 1)), idx_bytes(kLabelsU8, {5}, {0, 1, 2, 1, 0}),
          idx_bytes(kImages3, {3, 3, 4}, pattern(36, 2)), idx_bytes(kLabelsU8, {3}, {6, 0, 3})};
}

void write_dir(const TempDir& dir, const Files& f, bool gz_train, bool gz_test) {
  write_file(dir / (gz_train ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte"), f.train_images, gz_train);
  write_file(dir / (gz_train ? "train-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte"), f.train_labels, gz_train);
  write_file(dir / (gz_test ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte"), f.test_images, gz_test);
  write_file(dir / (gz_test ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte"), f.test_labels, gz_test);
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const uint8_t* p = t.data<uint8_t>();
  return {p, p + t.nbytes()};
}

// The message must be one line, start with "data: " and name `file`.
void expect_file_error(const std::string& msg, const std::string& file, const std::string& phrase) {
  ASSERT_FALSE(msg.empty()) << "no nimble::Error thrown; expected one about " << file;
  EXPECT_EQ(msg.rfind("data: ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(file), std::string::npos) << "message does not name " << file << ": " << msg;
  EXPECT_NE(msg.find(phrase), std::string::npos) << "message lacks '" << phrase << "': " << msg;
}

TEST(IdxLoad, RawAndGzipLoadTheSameData) {
  const Files f = good_files();
  TempDir raw, gz, mixed;
  write_dir(raw, f, false, false);
  write_dir(gz, f, true, true);
  write_dir(mixed, f, true, false);
  for (const TempDir* dir : {&raw, &gz, &mixed}) {
    IdxData d = load_idx_dir(dir->path());
    EXPECT_EQ(d.train.size(), 5);
    EXPECT_EQ(d.test.size(), 3);
    EXPECT_EQ(d.train.images.shape(), (Shape{5, 1, 3, 4}));
    EXPECT_EQ(d.train.images.dtype(), DType::u8);
    EXPECT_EQ(d.train.sample_shape(), (Shape{1, 3, 4}));
    EXPECT_EQ(d.test.sample_shape(), (Shape{1, 3, 4}));
    EXPECT_EQ(bytes_of(d.train.images), pattern(60, 1));
    EXPECT_EQ(bytes_of(d.test.images), pattern(36, 2));
    EXPECT_EQ(d.train.labels, (std::vector<int32_t>{0, 1, 2, 1, 0}));
    EXPECT_EQ(d.test.labels, (std::vector<int32_t>{6, 0, 3}));
    // max label over both splits + 1, the same for both
    EXPECT_EQ(d.train.num_classes, 7);
    EXPECT_EQ(d.test.num_classes, 7);
  }
}

TEST(IdxLoad, ChannelsLastRank4BecomesNchw) {
  const int64_t n = 2, h = 3, w = 2, c = 3;
  const std::vector<uint8_t> hwc = pattern(size_t(n * h * w * c), 3);
  TempDir dir;
  write_file(dir / "img", idx_bytes(kImages4, {2, 3, 2, 3}, hwc), true);
  write_file(dir / "lab", idx_bytes(kLabelsU8, {2}, {1, 0}), false);
  ImageSet s = load_idx_files(dir / "img", dir / "lab");
  ASSERT_EQ(s.images.shape(), (Shape{n, c, h, w}));
  EXPECT_EQ(s.num_classes, 2);
  const uint8_t* p = s.images.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          EXPECT_EQ(p[((i * c + ch) * h + y) * w + x], hwc[size_t(((i * h + y) * w + x) * c + ch)]);
}

TEST(IdxLoad, WideLabelTypesAccepted) {
  TempDir dir;
  write_file(dir / "img", idx_bytes(kImages3, {2, 1, 1}, {7, 9}), false);
  std::vector<uint8_t> labels = be32(65535);
  auto second = be32(300);
  labels.insert(labels.end(), second.begin(), second.end());
  write_file(dir / "lab32", idx_bytes(kLabelsS32, {2}, labels), false);
  write_file(dir / "lab16", idx_bytes(0x00000B01, {2}, {0x01, 0x2C, 0x00, 0x05}), false);
  ImageSet s = load_idx_files(dir / "img", dir / "lab32");
  EXPECT_EQ(s.labels, (std::vector<int32_t>{65535, 300}));
  EXPECT_EQ(s.num_classes, 65536);
  EXPECT_EQ(load_idx_files(dir / "img", dir / "lab16").labels, (std::vector<int32_t>{300, 5}));
}

TEST(IdxLoad, RawFilePreferredWhenBothExist) {
  Files f = good_files();
  TempDir dir;
  write_dir(dir, f, false, false);
  Files other = f;
  other.train_labels = idx_bytes(kLabelsU8, {5}, {9, 9, 9, 9, 9});
  write_file(dir / "train-labels-idx1-ubyte.gz", other.train_labels, true);
  EXPECT_EQ(load_idx_dir(dir.path()).train.labels, (std::vector<int32_t>{0, 1, 2, 1, 0}));
}

// --- malformed files: one test per problem, each for raw and gzip where it matters ---

class IdxErrors : public ::testing::TestWithParam<bool> {
 protected:
  bool gz() const { return GetParam(); }
  std::string name(const std::string& base) const { return base + (gz() ? ".gz" : ""); }
  // Writes the good set, then replaces one file with `bytes`; returns the replaced file's path.
  std::string write_with(const std::string& base, const std::vector<uint8_t>& bytes) {
    write_dir(dir_, good_files(), gz(), gz());
    std::string path = dir_ / name(base);
    write_file(path, bytes, gz());
    return path;
  }
  std::string load() {
    return error_of([&] { load_idx_dir(dir_.path()); });
  }
  TempDir dir_;
};

TEST_P(IdxErrors, BadMagic) {
  std::string path = write_with("train-images-idx3-ubyte", idx_bytes(0x12345678, {5, 3, 4}, pattern(60)));
  expect_file_error(load(), path, "bad magic 0x12345678");
  path = write_with("train-images-idx3-ubyte", idx_bytes(0x00000D03, {5, 3, 4}, pattern(240)));  // f32 images
  expect_file_error(load(), path, "bad magic 0x00000d03");
  path = write_with("t10k-labels-idx1-ubyte", idx_bytes(kImages3, {3, 1, 1}, {1, 2, 3}));  // images as labels
  expect_file_error(load(), path, "expected 0x00000801");
}

TEST_P(IdxErrors, TruncatedHeader) {
  std::string path = write_with("train-labels-idx1-ubyte", {0, 0});
  expect_file_error(load(), path, "truncated header");
  path = write_with("train-images-idx3-ubyte", {0, 0, 8, 3, 0, 0, 0, 5, 0, 0});
  expect_file_error(load(), path, "truncated header");
  path = write_with("t10k-images-idx3-ubyte", {});
  expect_file_error(load(), path, "file is empty");
}

TEST_P(IdxErrors, TruncatedData) {
  std::vector<uint8_t> bytes = idx_bytes(kImages3, {5, 3, 4}, pattern(10));
  const std::string path = write_with("train-images-idx3-ubyte", bytes);
  expect_file_error(load(), path, "truncated: header says 60 bytes of pixels, file has 10");
  // channels-last images are read image by image: cut inside the third image
  const std::string path4 = write_with("train-images-idx3-ubyte", idx_bytes(kImages4, {5, 3, 4, 2}, pattern(50)));
  expect_file_error(load(), path4, "truncated: header says 120 bytes of pixels, file has 50");
  const std::string lpath = write_with("t10k-labels-idx1-ubyte", idx_bytes(kLabelsU8, {3}, {1}));
  expect_file_error(load(), lpath, "truncated: header says 3 bytes of labels, file has 1");
}

TEST_P(IdxErrors, TrailingBytes) {
  std::vector<uint8_t> px = pattern(60 + 7);
  const std::string path = write_with("train-images-idx3-ubyte", idx_bytes(kImages3, {5, 3, 4}, px));
  expect_file_error(load(), path, "trailing bytes: header says 60 bytes of pixels, file has 7 more");
  const std::string lpath = write_with("train-labels-idx1-ubyte", idx_bytes(kLabelsU8, {5}, {0, 1, 2, 1, 0, 0}));
  expect_file_error(load(), lpath, "trailing bytes");
}

TEST_P(IdxErrors, CountMismatchBetweenImagesAndLabels) {
  const std::string path = write_with("train-labels-idx1-ubyte", idx_bytes(kLabelsU8, {4}, {0, 1, 2, 1}));
  const std::string msg = load();
  expect_file_error(msg, path, "has 4 labels but");
  EXPECT_NE(msg.find(dir_ / name("train-images-idx3-ubyte")), std::string::npos) << msg;
  EXPECT_NE(msg.find("5 images"), std::string::npos) << msg;
}

TEST_P(IdxErrors, HugeDimsOverflow) {
  // 2^32-1 cubed overflows 64 bits if multiplied naively; must be rejected before any allocation.
  std::string path =
      write_with("train-images-idx3-ubyte", idx_bytes(kImages3, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}));
  expect_file_error(load(), path, "describe more than 2147483648 bytes");
  path = write_with("train-images-idx3-ubyte", idx_bytes(kImages4, {0x10000, 0x10000, 0x10000, 0x10000}, pattern(16)));
  expect_file_error(load(), path, "describe more than");
  path = write_with("train-labels-idx1-ubyte", idx_bytes(kLabelsS32, {0x80000000}, {}));
  expect_file_error(load(), path, "describe more than");
  path = write_with("train-images-idx3-ubyte", idx_bytes(kImages3, {5, 0, 4}, {}));
  expect_file_error(load(), path, "contain a zero");
}

TEST_P(IdxErrors, LabelOutOfRange) {
  std::vector<uint8_t> labels;
  for (uint32_t v : {0u, 65536u, 1u}) {
    auto b = be32(v);
    labels.insert(labels.end(), b.begin(), b.end());
  }
  std::string path = write_with("t10k-labels-idx1-ubyte", idx_bytes(kLabelsS32, {3}, labels));
  expect_file_error(load(), path, "label 65536 at index 1 is out of range");
  path = write_with("t10k-labels-idx1-ubyte", idx_bytes(0x00000901, {3}, {0, 1, 0xFF}));  // s8 -1
  expect_file_error(load(), path, "label -1 at index 2");
}

TEST_P(IdxErrors, TrainAndTestShapesDiffer) {
  const std::string path = write_with("t10k-images-idx3-ubyte", idx_bytes(kImages3, {3, 4, 3}, pattern(36)));
  expect_file_error(load(), path, "sample shape 1x4x3 differs from the training set's 1x3x4");
}

INSTANTIATE_TEST_SUITE_P(IdxFile, IdxErrors, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "gzip" : "raw"; });

TEST(IdxGzip, CorruptStream) {
  TempDir dir;
  write_dir(dir, good_files(), true, true);
  const std::string path = dir / "train-images-idx3-ubyte.gz";
  auto load = [&] { return error_of([&] { load_idx_dir(dir.path()); }); };
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> z((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  // Cut the compressed stream in half: a truncated .gz.
  write_file(path, std::vector<uint8_t>(z.begin(), z.begin() + long(z.size() / 2)), false);
  expect_file_error(load(), path, "the gzip stream is cut short");
  // Only the gzip header survives: no data at all.
  write_file(path, std::vector<uint8_t>(z.begin(), z.begin() + 10), false);
  expect_file_error(load(), path, "file is empty (the gzip stream is cut short)");
  // Damage the CRC in the trailer: decompresses fully but fails the check.
  std::vector<uint8_t> bad = z;
  bad[bad.size() - 6] ^= 0xFF;
  write_file(path, bad, false);
  expect_file_error(load(), path, "corrupt gzip data");
}

TEST(IdxMissing, EmptyDirNamesTheFileAndDataFlag) {
  TempDir dir;
  const std::string msg = error_of([&] { load_idx_dir(dir.path()); });
  expect_file_error(msg, dir / "train-images-idx3-ubyte", "--data");
  EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
}

TEST(IdxMissing, OneMissingFileIsNamed) {
  TempDir dir;
  write_dir(dir, good_files(), true, true);
  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte.gz");
  expect_file_error(error_of([&] { load_idx_dir(dir.path()); }), dir / "t10k-labels-idx1-ubyte", "--data");
}

TEST(IdxMissing, MissingDirectory) {
  TempDir dir;
  const std::string missing = dir / "nope";
  const std::string msg = error_of([&] { load_idx_dir(missing); });
  expect_file_error(msg, missing, "no such directory");
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--data"), std::string::npos) << msg;
  write_file(missing, {1, 2, 3}, false);
  expect_file_error(error_of([&] { load_idx_dir(missing); }), missing, "not a directory");
}

TEST(IdxMissing, UnreadableFileNamesIt) {
  TempDir dir;
  write_dir(dir, good_files(), false, false);
  // A directory where a file should be is found as "missing"; one that cannot be opened says why.
  std::filesystem::remove(dir / "train-labels-idx1-ubyte");
  std::filesystem::create_directory(dir / "train-labels-idx1-ubyte");
  expect_file_error(error_of([&] { load_idx_dir(dir.path()); }), dir / "train-labels-idx1-ubyte", "missing");
  expect_file_error(error_of([&] { load_idx_files(dir / "train-images-idx3-ubyte", dir / "nofile"); }), dir / "nofile",
                    "cannot open");
}

// The dataset-fashion-mnist package is installed by the project's setup: load the real thing.
TEST(IdxFashionMnist, LoadsRealDataset) {
  IdxData d = load_idx_dir(kDefaultDataDir);
  EXPECT_EQ(d.train.size(), 60000);
  EXPECT_EQ(d.test.size(), 10000);
  EXPECT_EQ(d.train.images.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(d.test.images.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(d.train.sample_shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(d.train.num_classes, 10);
  EXPECT_EQ(d.test.num_classes, 10);
  // Fashion-MNIST is balanced: 6000 / 1000 images per class.
  std::vector<int> train_count(10), test_count(10);
  for (int32_t l : d.train.labels) train_count[size_t(l)]++;
  for (int32_t l : d.test.labels) test_count[size_t(l)]++;
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(train_count[size_t(c)], 6000) << "class " << c;
    EXPECT_EQ(test_count[size_t(c)], 1000) << "class " << c;
  }
  // Widely quoted statistics of the training images (scaled to [0, 1]).
  Normalization norm = compute_normalization(d.train);
  ASSERT_EQ(norm.mean.size(), 1u);
  EXPECT_NEAR(norm.mean[0], 0.2860f, 5e-4f);
  EXPECT_NEAR(norm.std[0], 0.3530f, 5e-4f);
}

}  // namespace
}  // namespace nimble::data
