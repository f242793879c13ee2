// ImageSet helpers: normalisation statistics, validation split, take.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data_test_util.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::data {
namespace {

using namespace testing;

TEST(DataNormalization, HandMadeSetPerChannel) {
  // 2 images, 2 channels, 1x2 pixels. Channel 0: {0, 255, 255, 255}; channel 1: {51, 51, 102, 102}.
  ImageSet s = make_set(2, 2, 1, 2, {0, 255, 51, 51, 255, 255, 102, 102}, {0, 1}, 2);
  Normalization n = compute_normalization(s);
  ASSERT_EQ(n.mean.size(), 2u);
  ASSERT_EQ(n.std.size(), 2u);
  // channel 0: values {0, 1, 1, 1}: mean 0.75, population variance 0.1875
  EXPECT_NEAR(n.mean[0], 0.75f, 1e-6f);
  EXPECT_NEAR(n.std[0], std::sqrt(0.1875f), 1e-6f);
  // channel 1: values {0.2, 0.2, 0.4, 0.4}: mean 0.3, population std 0.1 (sample std would be 0.1155)
  EXPECT_NEAR(n.mean[1], 0.3f, 1e-6f);
  EXPECT_NEAR(n.std[1], 0.1f, 1e-6f);
}

TEST(DataNormalization, ConstantChannelGetsUnitStd) {
  ImageSet s = make_set(3, 1, 2, 2, std::vector<uint8_t>(12, 51), {0, 0, 0}, 1);
  Normalization n = compute_normalization(s);
  EXPECT_NEAR(n.mean[0], 0.2f, 1e-6f);
  EXPECT_EQ(n.std[0], 1.0f);
}

TEST(DataNormalization, EmptyOrMalformedSetThrows) {
  EXPECT_THROW(compute_normalization(ImageSet{}), Error);
  ImageSet s = indexed_set(3);
  s.labels.pop_back();  // 3 images, 2 labels
  EXPECT_NE(error_of([&] { compute_normalization(s); }).find("3 images but 2 labels"), std::string::npos);
}

TEST(DataSplit, DisjointCompleteAndSeeded) {
  ImageSet s = indexed_set(100);
  Split a = split_validation(s, 30, 7);
  ASSERT_EQ(a.train.size(), 70);
  ASSERT_EQ(a.val.size(), 30);
  EXPECT_EQ(a.train.num_classes, s.num_classes);
  EXPECT_EQ(a.val.num_classes, s.num_classes);
  EXPECT_EQ(a.val.images.shape(), (Shape{30, 1, 4, 4}));
  std::set<int32_t> seen;
  for (const ImageSet* part : {&a.train, &a.val})
    for (int64_t i = 0; i < part->size(); ++i) {
      const int32_t label = part->labels[size_t(i)];
      EXPECT_TRUE(seen.insert(label).second) << "sample " << label << " in both parts";
      // the pixels travelled with their label
      EXPECT_EQ(part->images.data<uint8_t>()[i * 16 + 5], uint8_t(label));
      if (i > 0) {
        EXPECT_LT(part->labels[size_t(i - 1)], label) << "original order kept";
      }
    }
  EXPECT_EQ(seen.size(), 100u);

  Split again = split_validation(s, 30, 7);
  EXPECT_EQ(again.val.labels, a.val.labels);
  EXPECT_EQ(again.train.labels, a.train.labels);
  Split other = split_validation(s, 30, 8);
  EXPECT_NE(other.val.labels, a.val.labels);
  // random, not a block at either end
  EXPECT_NE(a.val.labels.back(), 29);
  EXPECT_NE(a.val.labels.front(), 70);
}

TEST(DataSplit, ZeroAndAllAndOutOfRange) {
  ImageSet s = indexed_set(10);
  Split none = split_validation(s, 0, 1);
  EXPECT_EQ(none.val.size(), 0);
  EXPECT_FALSE(none.val.images.defined());
  EXPECT_EQ(none.train.labels, s.labels);
  Split all = split_validation(s, 10, 1);
  EXPECT_EQ(all.train.size(), 0);
  EXPECT_EQ(all.val.labels, s.labels);
  EXPECT_THROW(split_validation(s, 11, 1), Error);
  EXPECT_THROW(split_validation(s, -1, 1), Error);
}

TEST(DataTake, FirstNSamples) {
  ImageSet s = indexed_set(10);
  ImageSet t = take(s, 4);
  EXPECT_EQ(t.labels, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(t.images.shape(), (Shape{4, 1, 4, 4}));
  EXPECT_EQ(t.images.data<uint8_t>()[3 * 16 + 15], 3);
  EXPECT_EQ(t.num_classes, 10);
  EXPECT_EQ(take(s, 100).size(), 10);
  EXPECT_EQ(take(s, 10).images.raw(), s.images.raw()) << "whole set shares storage";
  EXPECT_EQ(take(s, 0).size(), 0);
  EXPECT_THROW(take(s, -1), Error);
}

}  // namespace
}  // namespace nimble::data
