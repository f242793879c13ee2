// Probe: a 3x3 convolution over N x IC x 28 x 28 -> 32 channels, batch-256 inference, in u8 (default), f32 or bf16,
// with the implementation oneDNN picks and the mean time of 50 calls. Used to ask whether zero-padding a
// one-channel int8 stem to 4 channels (which reaches AMX) is faster: it was not (README, Benchmarks).
//   g++ -O2 bench/probes/stem_conv.cpp -o /tmp/stem_conv -ldnnl && /tmp/stem_conv IC [any|nhwc|nchw] [BATCH]
//   [u8|f32|bf16]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
int main(int argc, char** argv) {
  int ic = argc > 1 ? atoi(argv[1]) : 1;
  std::string srctag = argc > 2 ? argv[2] : "any";
  int N = argc > 3 ? atoi(argv[3]) : 256;
  dt sdt = (argc > 4 && std::string(argv[4]) == "bf16")  ? dt::bf16
           : (argc > 4 && std::string(argv[4]) == "f32") ? dt::f32
                                                         : dt::u8;
  dt wdt = sdt == dt::u8 ? dt::s8 : sdt;
  dt ddt = sdt == dt::u8 ? dt::u8 : sdt;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  tag st = srctag == "nhwc" ? tag::nhwc : srctag == "nchw" ? tag::nchw : tag::any;
  memory::desc src({N, ic, 28, 28}, sdt, st), w({32, ic, 3, 3}, wdt, tag::any), d({N, 32, 28, 28}, ddt, tag::any);
  convolution_forward::desc cd(prop_kind::forward_inference, algorithm::convolution_direct, src, w, d, {1, 1}, {1, 1},
                               {1, 1});
  primitive_attr attr;
  if (sdt == dt::u8) attr.set_output_scales(0, {0.01f});
  convolution_forward::primitive_desc pd(cd, attr, eng);
  printf("impl %s\n", pd.impl_info_str());
  memory ms(pd.src_desc(), eng), mw(pd.weights_desc(), eng), md_(pd.dst_desc(), eng);
  memset(ms.get_data_handle(), 1, pd.src_desc().get_size());
  memset(mw.get_data_handle(), 1, pd.weights_desc().get_size());
  convolution_forward c(pd);
  for (int i = 0; i < 5; ++i) c.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md_}});
  s.wait();
  auto t0 = std::chrono::steady_clock::now();
  int it = 50;
  for (int i = 0; i < it; ++i) c.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md_}});
  s.wait();
  double ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / it;
  printf("ic %d src %s: %.3f ms\n", ic, srctag.c_str(), ms_);
}
