#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nimble/core/error.hpp"
#include "nimble/core/rng.hpp"
#include "nimble/core/tensor.hpp"

namespace nimble {
namespace {

TEST(Shape, ParseAndPrint) {
  EXPECT_EQ(Shape::parse("3x224x224"), (Shape{3, 224, 224}));
  EXPECT_EQ((Shape{1, 28, 28}).str(), "1x28x28");
  EXPECT_EQ((Shape{2, 3, 4, 5, 6}).numel(), 720);
  for (const char* bad : {"", "x", "3x", "3xx4", "0x4", "-1x2", "1x2x3x4x5x6", "abc", "99999999999x1"})
    EXPECT_THROW(Shape::parse(bad), Error) << bad;
  EXPECT_THROW(Shape({1, 2, 3, 4, 5, 6}), Error);
}

TEST(Tensor, AlignedZeroedAndShared) {
  Tensor t({3, 5}, DType::f32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
  Tensor alias = t;
  alias.data<float>()[4] = 2.0f;
  EXPECT_EQ(t.data<float>()[4], 2.0f);
  Tensor copy = t.clone();
  copy.data<float>()[4] = 3.0f;
  EXPECT_EQ(t.data<float>()[4], 2.0f);
  EXPECT_EQ(t.reshaped({15}).shape(), Shape{15});
  EXPECT_THROW(t.reshaped({4, 4}), Error);
}

TEST(Tensor, DtypeSizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(dtype_size(DType::s8), 1u);
  EXPECT_EQ(dtype_size(DType::u8), 1u);
  EXPECT_EQ(dtype_size(DType::s32), 4u);
  for (int i = 0; i < kDTypeCount; ++i) EXPECT_EQ(dtype_from_name(dtype_name(DType(i))), DType(i));
  EXPECT_THROW(dtype_from_name("f64"), Error);
}

TEST(Tensor, ConversionsRoundToNearestEvenAndSaturate) {
  Tensor t({6});
  float v[] = {1.0f, -2.5f, 2.5f, 300.0f, -300.0f, 1.00390625f};  // last: halfway between two bf16 values
  std::memcpy(t.raw(), v, sizeof v);
  Tensor s8 = t.to(DType::s8);
  EXPECT_EQ(s8.data<int8_t>()[1], -2);  // half to even
  EXPECT_EQ(s8.data<int8_t>()[2], 2);
  EXPECT_EQ(s8.data<int8_t>()[3], 127);  // saturate
  EXPECT_EQ(s8.data<int8_t>()[4], -128);
  Tensor u8 = t.to(DType::u8);
  EXPECT_EQ(u8.data<uint8_t>()[4], 0);
  EXPECT_EQ(u8.data<uint8_t>()[3], 255);
  Tensor bf = t.to(DType::bf16);
  EXPECT_EQ(bf16_to_f32(bf.data<uint16_t>()[5]), 1.0f);  // ties to even mantissa
  Tensor back = bf.to(DType::f32);
  EXPECT_EQ(back.data<float>()[1], -2.5f);
  Tensor h = t.to(DType::f16);
  EXPECT_EQ(f16_to_f32(h.data<uint16_t>()[1]), -2.5f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Rng, SeededAndDistributed) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(Rng(42).next_u64(), c.next_u64());
  Rng r(7);
  double sum = 0, sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    float u = r.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    float z = r.normal();
    sum += z;
    sq += double(z) * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sq / n, 1.0, 0.03);
}

}  // namespace
}  // namespace nimble
