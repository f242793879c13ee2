#include "kernels/int8_max_pool.hpp"

#include <algorithm>

namespace nimble::kernels {
namespace {

template <class T> void pool(const T* src, T* dst, int64_t n, int64_t h, int64_t w, int64_t c) {
  const int64_t oh = h / 2, ow = w / 2;
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < oh; ++y) {
      const T* top = src + (b * h + 2 * y) * w * c;
      const T* bottom = top + w * c;
      T* out = dst + (b * oh + y) * ow * c;
      for (int64_t x = 0; x < ow; ++x) {
        const T *p = top + 2 * x * c, *q = bottom + 2 * x * c;
        for (int64_t k = 0; k < c; ++k) out[x * c + k] = std::max(std::max(p[k], p[c + k]), std::max(q[k], q[c + k]));
      }
    }
}

}  // namespace

void max_pool_2x2_nhwc(const uint8_t* src, uint8_t* dst, int64_t n, int64_t h, int64_t w, int64_t c) {
  pool(src, dst, n, h, w, c);
}
void max_pool_2x2_nhwc(const int8_t* src, int8_t* dst, int64_t n, int64_t h, int64_t w, int64_t c) {
  pool(src, dst, n, h, w, c);
}

}  // namespace nimble::kernels
