#include "nimble/core/shape.hpp"

#include <cstdlib>

#include "nimble/core/error.hpp"

namespace nimble {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

Shape::Shape(const std::vector<int64_t>& dims) {
  NIMBLE_CHECK(dims.size() <= size_t(kMaxRank),
               "shape of rank " + std::to_string(dims.size()) + " exceeds the maximum rank 5");
  rank_ = int(dims.size());
  for (int i = 0; i < rank_; ++i) {
    NIMBLE_CHECK(dims[i] >= 0, "negative dimension in shape");
    dims_[i] = dims[i];
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::str() const {
  std::string s;
  for (int i = 0; i < rank_; ++i) s += (i ? "x" : "") + std::to_string(dims_[i]);
  return s;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

Shape Shape::parse(const std::string& text) {
  std::vector<int64_t> dims;
  size_t pos = 0;
  const std::string bad = "invalid shape '" + text + "': expected positive sizes joined by 'x', e.g. 3x224x224";
  while (pos <= text.size()) {
    size_t end = text.find('x', pos);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(pos, end - pos);
    NIMBLE_CHECK(!part.empty() && part.size() <= 9 && part.find_first_not_of("0123456789") == std::string::npos, bad);
    int64_t v = std::strtoll(part.c_str(), nullptr, 10);
    NIMBLE_CHECK(v > 0, bad);
    dims.push_back(v);
    pos = end + 1;
  }
  NIMBLE_CHECK(!dims.empty() && dims.size() <= size_t(kMaxRank), bad);
  return Shape(dims);
}

}  // namespace nimble
