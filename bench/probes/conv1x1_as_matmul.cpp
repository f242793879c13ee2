// Probe: a 1x1 convolution over nhwc tensors, forward or backward-data, every oneDNN
// implementation against one matmul over the same tensors viewed as (N*H*W, C), median of 7 x 10
// calls. Forward: dst = src x weights^T; backward-data: diff_src = diff_dst x weights.
// bf16, batch 128 (the fastest convolution, then the matmul; one run, 2026-11-27):
//   backward-data 160 -> 1280 at 2x2: 1.50 vs 0.31 ms; 16 -> 96 at 14x14: 0.43 vs 0.21 ms;
//                 480 -> 80 at 2x2: 0.29 vs 0.08 ms
//   forward       160 -> 1280 at 2x2: 0.68 vs 0.23 ms; 16 -> 96 at 14x14: 0.21 vs 0.68 ms
//   g++ -O2 bench/probes/conv1x1_as_matmul.cpp -o /tmp/c1x1 -ldnnl
//   OMP_NUM_THREADS=2 /tmp/c1x1 N IC OC H bf16|f32 fwd|bwd_data
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
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s N IC OC H bf16|f32 fwd|bwd_data\n", argv[0]);
    return 2;
  }
  const long N = std::atol(argv[1]), IC = std::atol(argv[2]), OC = std::atol(argv[3]), H = std::atol(argv[4]);
  const dt t = std::string(argv[5]) == "bf16" ? dt::bf16 : dt::f32;
  const bool forward = std::string(argv[6]) == "fwd";
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::desc src({N, IC, H, H}, t, tag::nhwc), dst({N, OC, H, H}, t, tag::nhwc), w({OC, IC, 1, 1}, t, tag::any);
  convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, src, w, dst, {1, 1}, {0, 0},
                               {0, 0});
  convolution_forward::primitive_desc fpd(fd, eng);
  convolution_backward_data::desc bd(algorithm::convolution_direct, src, w, dst, {1, 1}, {0, 0}, {0, 0});
  convolution_backward_data::primitive_desc bpd(bd, eng, fpd);
  dnnl::primitive_desc& pd = forward ? static_cast<dnnl::primitive_desc&>(fpd) : bpd;
  const int in_arg = forward ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, out_arg = forward ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC;
  do {
    if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) continue;
    memory in = zeroed(pd.query_md(query::exec_arg_md, in_arg), eng), wei = zeroed(pd.query_md(query::weights_md), eng),
           out = zeroed(pd.query_md(query::exec_arg_md, out_arg), eng);
    primitive p(pd);
    std::printf("convolution %-28s %.3f ms\n", pd.impl_info_str(), median_ms([&] {
                  p.execute(s, {{in_arg, in}, {DNNL_ARG_WEIGHTS, wei}, {out_arg, out}});
                  s.wait();
                }));
  } while (pd.next_impl());
  const long M = N * H * H, K = forward ? IC : OC, Nn = forward ? OC : IC;
  // Forward reads the (OC, IC) weights transposed (ba); backward-data as they are (ab).
  const memory::desc a({M, K}, t, tag::ab), b({K, Nn}, t, forward ? tag::ba : tag::ab), c({M, Nn}, t, tag::ab);
  matmul::primitive_desc mpd(matmul::desc(a, b, c), eng);
  memory ma = zeroed(a, eng), mb = zeroed(b, eng), mc = zeroed(c, eng);
  matmul mm(mpd);
  std::printf("matmul      %-28s %.3f ms\n", mpd.impl_info_str(), median_ms([&] {
                mm.execute(s, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
                s.wait();
              }));
}
