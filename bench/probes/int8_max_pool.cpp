// Probe: 2x2 stride-2 max pooling over nhwc, oneDNN's inference kernel against a plain loop (the
// one src/kernels/int8_max_pool.cpp uses), u8 or f32, with the median time of 7 x 10 calls and
// whether both give the same bytes. u8 256x32x28x28: oneDNN 1.1 ms, the loop 0.33 ms at -O3
// (1.38 ms at -O2, where GCC does not vectorize it); f32: 1.03 vs 0.79 ms.
//   g++ -O3 -fopenmp bench/probes/int8_max_pool.cpp -o /tmp/pool -ldnnl
//   OMP_NUM_THREADS=2 /tmp/pool N C H [u8]
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
template <class T> void pool_nhwc(const T* x, T* y, int N, int H, int W, int C) {
  const int OH = H / 2, OW = W / 2;
#pragma omp parallel for collapse(2)
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh) {
      const T* r0 = x + ((size_t(n) * H + 2 * oh) * W) * C;
      const T* r1 = r0 + size_t(W) * C;
      T* o = y + ((size_t(n) * OH + oh) * OW) * C;
      for (int ow = 0; ow < OW; ++ow) {
        const T *a = r0 + 2 * ow * C, *b = a + C, *c = r1 + 2 * ow * C, *d = c + C;
        for (int k = 0; k < C; ++k) o[ow * C + k] = std::max(std::max(a[k], b[k]), std::max(c[k], d[k]));
      }
    }
}
int main(int argc, char** argv) {
  int N = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]);
  bool u8 = argc > 4;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  dt d = u8 ? dt::u8 : dt::f32;
  memory::desc x({N, C, H, H}, d, tag::nhwc), y({N, C, H / 2, H / 2}, d, tag::nhwc);
  pooling_v2_forward::primitive_desc pf(
      {prop_kind::forward_inference, algorithm::pooling_max, x, y, {2, 2}, {2, 2}, {0, 0}, {0, 0}, {0, 0}}, eng);
  pooling_v2_forward P(pf);
  memory mx(x, eng), my(y, eng), my2(y, eng);
  memset(mx.get_data_handle(), 3, x.get_size());
  auto tm = [&](auto f) {
    for (int i = 0; i < 3; ++i) f();
    std::vector<double> t;
    for (int r = 0; r < 7; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 10; ++i) f();
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 10);
    }
    std::sort(t.begin(), t.end());
    return t[3];
  };
  double a = tm([&] {
    P.execute(s, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, my}});
    s.wait();
  });
  double b =
      u8 ? tm([&] { pool_nhwc((const uint8_t*)mx.get_data_handle(), (uint8_t*)my2.get_data_handle(), N, H, H, C); })
         : tm([&] { pool_nhwc((const float*)mx.get_data_handle(), (float*)my2.get_data_handle(), N, H, H, C); });
  printf("%s N%d C%d H%d: oneDNN %s %.3f ms, loop %.3f ms, same=%d\n", u8 ? "u8" : "f32", N, C, H, pf.impl_info_str(),
         a, b, memcmp(my.get_data_handle(), my2.get_data_handle(), y.get_size()) == 0);
}
