#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace nimble {

constexpr int kMaxRank = 5;

// Dimensions of a tensor, outermost first (N, C, H, W for images). Rank 0..5.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t numel() const;
  std::vector<int64_t> dims() const { return {dims_, dims_ + rank_}; }
  std::string str() const;  // "1x28x28"
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

  // Parses "3x224x224" (throws Error on anything else).
  static Shape parse(const std::string& text);

 private:
  int64_t dims_[kMaxRank] = {};
  int rank_ = 0;
};

}  // namespace nimble
