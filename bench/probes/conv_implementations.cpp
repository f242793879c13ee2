// Probe: every oneDNN implementation of one inference convolution (src and dst nhwc; u8 x s8 by
// default, or f32 / bf16), in oneDNN's order, with the median time of 7 x 20 calls. Showed that
// oneDNN's first choice is not always the fastest here (int8 1x1 16->96 at 112x112, batch 1: AMX
// 0.21 ms, VNNI 0.13 ms), which src/kernels/fastest_implementation.cpp acts on.
//   g++ -O2 bench/probes/conv_implementations.cpp -o /tmp/impls -ldnnl
//   /tmp/impls N IC OC H K STRIDE GROUPS [u8|f32|bf16]     (SRC_NCHW=1: nchw input)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
int main(int argc, char** argv) {
  int N = atoi(argv[1]), IC = atoi(argv[2]), OC = atoi(argv[3]), H = atoi(argv[4]), K = atoi(argv[5]),
      S = atoi(argv[6]), G = atoi(argv[7]);
  bool f32 = argc > 8 && std::string(argv[8]) == "f32";
  bool b16 = argc > 8 && std::string(argv[8]) == "bf16";
  dt sdt = b16 ? dt::bf16 : f32 ? dt::f32 : dt::u8, wdt = b16 ? dt::bf16 : f32 ? dt::f32 : dt::s8;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  int P = K / 2, OH = (H + 2 * P - K) / S + 1;
  memory::desc src({N, IC, H, H}, sdt, getenv("SRC_NCHW") ? tag::nchw : tag::nhwc), d({N, OC, OH, OH}, sdt, tag::nhwc);
  memory::dims wd = G > 1 ? memory::dims{G, OC / G, IC / G, K, K} : memory::dims{OC, IC, K, K};
  memory::desc w(wd, wdt, tag::any);
  primitive_attr attr;
  if (!f32 && !b16) attr.set_output_scales(0, {0.01f});
  convolution_forward::desc cd(prop_kind::forward_inference, algorithm::convolution_direct, src, w, d, {S, S}, {P, P},
                               {P, P});
  convolution_forward::primitive_desc pd(cd, attr, eng);
  do {
    memory ms(pd.src_desc(), eng), mw(pd.weights_desc(), eng), md_(pd.dst_desc(), eng);
    memset(ms.get_data_handle(), 1, pd.src_desc().get_size());
    memset(mw.get_data_handle(), 1, pd.weights_desc().get_size());
    convolution_forward c(pd);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md_}};
    for (int i = 0; i < 10; i++) c.execute(s, args);
    s.wait();
    std::vector<double> t;
    for (int r = 0; r < 7; r++) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 20; i++) c.execute(s, args);
      s.wait();
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 20);
    }
    std::sort(t.begin(), t.end());
    printf("%-40s %.4f ms\n", pd.impl_info_str(), t[3]);
  } while (pd.next_impl());
}
