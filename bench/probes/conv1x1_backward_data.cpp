// Probe: a 1x1 convolution's backward-data over nhwc tensors, every oneDNN implementation against
// one matmul diff_src (N*H*W, IC) = diff_dst (N*H*W, OC) x weights (OC, IC), median of 7 x 10 calls.
// bf16, batch 128 (the fastest convolution, then the matmul): 160 -> 1280 at 2x2: 1.57 vs 0.35 ms;
// 16 -> 96 at 14x14: 0.51 vs 0.28 ms; 480 -> 80 at 2x2: 0.32 vs 0.10 ms.
//   g++ -O2 bench/probes/conv1x1_backward_data.cpp -o /tmp/bwdd -ldnnl
//   OMP_NUM_THREADS=2 /tmp/bwdd N IC OC H bf16|f32
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

template <class F> double median_ms(F f) {
  for (int i = 0; i < 3; ++i) f();
  std::vector<double> t;
  for (int r = 0; r < 7; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 10);
  }
  std::sort(t.begin(), t.end());
  return t[3];
}

memory zeroed(const memory::desc& d, const engine& eng) {
  memory m(d, eng);
  std::memset(m.get_data_handle(), 0, d.get_size());
  return m;
}

int main(int argc, char** argv) {
  if (argc < 6) { std::fprintf(stderr, "usage: %s N IC OC H bf16|f32\n", argv[0]); return 2; }
  const long N = std::atol(argv[1]), IC = std::atol(argv[2]), OC = std::atol(argv[3]), H = std::atol(argv[4]);
  const dt t = std::string(argv[5]) == "bf16" ? dt::bf16 : dt::f32;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::desc src({N, IC, H, H}, t, tag::nhwc), dst({N, OC, H, H}, t, tag::nhwc), w({OC, IC, 1, 1}, t, tag::any);
  convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, src, w, dst, {1, 1}, {0, 0}, {0, 0});
  convolution_forward::primitive_desc fpd(fd, eng);
  convolution_backward_data::desc bd(algorithm::convolution_direct, src, w, dst, {1, 1}, {0, 0}, {0, 0});
  convolution_backward_data::primitive_desc pd(bd, eng, fpd);
  do {
    if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) continue;
    memory ms = zeroed(pd.diff_src_desc(), eng), mw = zeroed(pd.weights_desc(), eng), md_ = zeroed(pd.diff_dst_desc(), eng);
    convolution_backward_data p(pd);
    std::printf("convolution %-28s %.3f ms\n", pd.impl_info_str(), median_ms([&] {
      p.execute(s, {{DNNL_ARG_DIFF_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_DST, md_}});
      s.wait();
    }));
  } while (pd.next_impl());
  const long M = N * H * H;
  const memory::desc a({M, OC}, t, tag::ab), b({OC, IC}, t, tag::ab), c({M, IC}, t, tag::ab);
  matmul::primitive_desc mpd(matmul::desc(a, b, c), eng);
  memory ma = zeroed(a, eng), mb = zeroed(b, eng), mc = zeroed(c, eng);
  matmul mm(mpd);
  std::printf("matmul      %-28s %.3f ms\n", mpd.impl_info_str(), median_ms([&] {
    mm.execute(s, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    s.wait();
  }));
}
