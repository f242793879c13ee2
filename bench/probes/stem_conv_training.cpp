// Probe: the same stem in training, batch 128: forward plus backward-weights, f32 or bf16, IC input channels
// (bf16 with IC 2 or 4 reaches AMX). Used to check the precision policy's fp32 stem (README, Benchmarks).
//   g++ -O2 bench/probes/stem_conv_training.cpp -o /tmp/stem_train -ldnnl && /tmp/stem_train IC f32|bf16 [OC]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
template <class F> double timeit(F f, stream& s) {
  for (int i = 0; i < 5; ++i) f();
  s.wait();
  auto t0 = std::chrono::steady_clock::now();
  int it = 40;
  for (int i = 0; i < it; ++i) f();
  s.wait();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / it;
}
int main(int argc, char** argv) {
  int ic = atoi(argv[1]);
  dt d = std::string(argv[2]) == "bf16" ? dt::bf16 : dt::f32;
  int N = 128, OC = argc > 3 ? atoi(argv[3]) : 32, H = 28;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::desc src({N, ic, H, H}, d, tag::any), w({OC, ic, 3, 3}, d, tag::any), dst({N, OC, H, H}, d, tag::any),
      dw({OC, ic, 3, 3}, dt::f32, tag::any), b({OC}, dt::f32, tag::a);
  convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, src, w, b, dst, {1, 1},
                               {1, 1}, {1, 1});
  convolution_forward::primitive_desc fpd(fd, eng);
  convolution_backward_weights::desc wd(algorithm::convolution_direct, src, dw, b, dst, {1, 1}, {1, 1}, {1, 1});
  convolution_backward_weights::primitive_desc wpd(wd, eng, fpd);
  memory ms(fpd.src_desc(), eng), mw(fpd.weights_desc(), eng), md_(fpd.dst_desc(), eng), mb(b, eng);
  memory ws(wpd.src_desc(), eng), mdd(wpd.diff_dst_desc(), eng), mdw(wpd.diff_weights_desc(), eng), mdb(b, eng);
  for (auto* m : {&ms, &mw, &md_, &ws, &mdd, &mdw}) memset(m->get_data_handle(), 0, m->get_desc().get_size());
  convolution_forward f(fpd);
  convolution_backward_weights bw(wpd);
  double tf = timeit(
      [&] {
        f.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, md_}});
      },
      s);
  double tw = timeit(
      [&] {
        bw.execute(
            s, {{DNNL_ARG_SRC, ws}, {DNNL_ARG_DIFF_DST, mdd}, {DNNL_ARG_DIFF_WEIGHTS, mdw}, {DNNL_ARG_DIFF_BIAS, mdb}});
      },
      s);
  printf("ic %d %s oc %d: fwd %s %.3f ms | bwd_w %s %.3f ms | src same %d dst same %d\n", ic, argv[2], OC,
         fpd.impl_info_str(), tf, wpd.impl_info_str(), tw, fpd.src_desc() == wpd.src_desc(),
         fpd.dst_desc() == wpd.diff_dst_desc());
}
