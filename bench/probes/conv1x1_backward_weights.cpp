// Probe: bf16 backward-weights of a 1x1 convolution (batch 128, nhwc) as oneDNN computes it, against one matmul
// over the nhwc tensors viewed as (N*H*W) x C matrices, and against the transposed matmul.
//   g++ -O2 bench/probes/conv1x1_backward_weights.cpp -o /tmp/bwdw -ldnnl && /tmp/bwdw IC OC HW
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
template <class F> double med(F f, stream& s) {
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    for (int i = 0; i < 3; ++i) f();
    s.wait();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) f();
    s.wait();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 20);
  }
  std::sort(t.begin(), t.end());
  return t[2];
}
int main(int argc, char** argv) {
  int N = 128, IC = atoi(argv[1]), OC = atoi(argv[2]), HW = atoi(argv[3]);
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::desc src({N, IC, HW, HW}, dt::bf16, tag::nhwc), dd({N, OC, HW, HW}, dt::bf16, tag::nhwc);
  memory::desc w({OC, IC, 1, 1}, dt::bf16, tag::any), dw({OC, IC, 1, 1}, dt::f32, tag::any);
  convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, src, w, dd, {1, 1}, {0, 0},
                               {0, 0});
  convolution_forward::primitive_desc fpd(fd, eng);
  convolution_backward_weights::desc wd(algorithm::convolution_direct, src, dw, dd, {1, 1}, {0, 0}, {0, 0});
  convolution_backward_weights::primitive_desc wpd(wd, eng, fpd);
  memory ms(src, eng), mdd(dd, eng), mdw(wpd.diff_weights_desc(), eng);
  memset(ms.get_data_handle(), 0, src.get_size());
  memset(mdd.get_data_handle(), 0, dd.get_size());
  convolution_backward_weights bw(wpd);
  double tc = med(
      [&] {
        bw.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DIFF_DST, mdd}, {DNNL_ARG_DIFF_WEIGHTS, mdw}});
      },
      s);
  const memory::dim K = memory::dim(N) * HW * HW;
  memory::desc a({OC, K}, dt::bf16, memory::dims{1, OC});  // diff_dst^T
  memory::desc b({K, IC}, dt::bf16, memory::dims{IC, 1});  // src
  memory::desc c({OC, IC}, dt::f32, memory::dims{IC, 1});
  matmul::primitive_desc mpd(matmul::desc(a, b, c), eng);
  memory ma(a, eng, mdd.get_data_handle()), mb(b, eng, ms.get_data_handle()), mc(c, eng);
  matmul mm(mpd);
  double tm = med([&] { mm.execute(s, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}}); }, s);
  memory::desc a2({IC, K}, dt::bf16, memory::dims{1, IC});  // src^T
  memory::desc b2({K, OC}, dt::bf16, memory::dims{OC, 1});  // diff_dst
  memory::desc c2({IC, OC}, dt::f32, memory::dims{1, IC});  // written as (OC, IC)
  matmul::primitive_desc mpd2(matmul::desc(a2, b2, c2), eng);
  memory ma2(a2, eng, ms.get_data_handle()), mb2(b2, eng, mdd.get_data_handle()), mc2(c2, eng);
  matmul mm2(mpd2);
  double tm2 = med([&] { mm2.execute(s, {{DNNL_ARG_SRC, ma2}, {DNNL_ARG_WEIGHTS, mb2}, {DNNL_ARG_DST, mc2}}); }, s);
  printf("ic %3d oc %3d %2dx%-2d: conv bwd_w %-28s %.3f ms | matmul %-28s %.3f ms (%.2fx)\n", IC, OC, HW, HW,
         wpd.impl_info_str(), tc, mpd.impl_info_str(), tm, tc / tm);
  printf("  transposed form %.3f ms (%.2fx)\n", tm2, tc / tm2);
}
