// Probe: the hand-written one-input-channel convolution (src/kernels/single_channel_conv.cpp)
// against oneDNN's fp32 convolution, forward and backward-weights, batch N, 1 -> OC channels,
// HxH, 3x3, padding 1: median of 7 x 20 calls each, and the largest difference from oneDNN's
// fp32 results (ours with an fp32 output and gradient).
//   g++ -O3 -fopenmp -Isrc -Iinclude bench/probes/single_channel_conv.cpp src/kernels/single_channel_conv.cpp \
//       src/kernels/channel_blocks.cpp -o /tmp/scc -ldnnl && OMP_NUM_THREADS=2 /tmp/scc [N OC H]
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "kernels/single_channel_conv.hpp"

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static double median_ms(const std::function<void()>& f) {
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> t;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 20);
  }
  std::sort(t.begin(), t.end());
  return t[3];
}

int main(int argc, char** argv) {
  const int64_t N = argc > 1 ? atoi(argv[1]) : 128, OC = argc > 2 ? atoi(argv[2]) : 32,
                H = argc > 3 ? atoi(argv[3]) : 28;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  std::vector<float> x(size_t(N * H * H)), w(size_t(OC * 9)), bias(static_cast<size_t>(OC)), dy(size_t(N * OC * H * H));
  srand(1);
  for (auto* v : {&x, &w, &bias, &dy})
    for (float& e : *v) e = float(rand()) / RAND_MAX - 0.5f;
  memory::desc src_md({N, 1, H, H}, dt::f32, tag::nchw), w_md({OC, 1, 3, 3}, dt::f32, tag::oihw),
      w_any({OC, 1, 3, 3}, dt::f32, tag::any), b_md({OC}, dt::f32, tag::a), dst_md({N, OC, H, H}, dt::f32, tag::nhwc);
  convolution_forward::primitive_desc fpd(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_md, w_any, b_md,
                                memory::desc({N, OC, H, H}, dt::f32, tag::any), {1, 1}, {1, 1}, {1, 1}),
      eng);
  convolution_backward_weights::primitive_desc wpd(
      convolution_backward_weights::desc(algorithm::convolution_direct, src_md,
                                         memory::desc({OC, 1, 3, 3}, dt::f32, tag::any), b_md, fpd.dst_desc(), {1, 1},
                                         {1, 1}, {1, 1}),
      eng, fpd);
  memory ms(src_md, eng, x.data()), mw(fpd.weights_desc(), eng), mb(b_md, eng, bias.data()), md_(fpd.dst_desc(), eng);
  memory mdy(fpd.dst_desc(), eng), mdw(wpd.diff_weights_desc(), eng), mdb(b_md, eng);
  auto convert = [&](memory from, memory to) { reorder(from, to).execute(s, from, to); };
  convert(memory(w_md, eng, w.data()), mw);
  convert(memory(dst_md, eng, dy.data()), mdy);
  convolution_forward fwd(fpd);
  convolution_backward_weights bwd(wpd);
  auto onednn_fwd = [&] {
    fwd.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, md_}});
    s.wait();
  };
  auto onednn_bwd = [&] {
    bwd.execute(
        s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_WEIGHTS, mdw}, {DNNL_ARG_DIFF_BIAS, mdb}});
    s.wait();
  };
  std::printf("oneDNN fp32 (%s, dst %s): forward %.3f ms, backward-weights %.3f ms\n", fpd.impl_info_str(),
              fpd.dst_desc() == memory::desc({N, OC, H, H}, dt::f32, tag::nhwc) ? "nhwc" : "blocked",
              median_ms(onednn_fwd), median_ms(onednn_bwd));
  // oneDNN's results in nhwc / oihw for the comparison.
  std::vector<float> ref_y(dy.size()), ref_dw(w.size()), ref_db(static_cast<size_t>(OC));
  onednn_fwd();
  onednn_bwd();
  convert(md_, memory(dst_md, eng, ref_y.data()));
  convert(mdw, memory(w_md, eng, ref_dw.data()));
  std::copy_n(static_cast<float*>(mdb.get_data_handle()), OC, ref_db.begin());
  s.wait();

  const nimble::kernels::SingleChannelConvGeometry g{N, H, H, OC, H, H, 3, 3, 1, 1, 1, 1, 1, 1};
  for (bool blocked : {false, true}) {
    if (blocked && OC % 16) continue;
    const nimble::kernels::ChannelBlocks view{N, blocked ? OC / 16 : 1, H, H, blocked ? 16 : OC};
    for (bool bf16 : {false, true}) {
      std::vector<uint16_t> y16(dy.size()), dy16(dy.size());
      std::vector<float> y32(dy.size()), dw(w.size()), db(static_cast<size_t>(OC));
      void* y = bf16 ? static_cast<void*>(y16.data()) : static_cast<void*>(y32.data());
      const void* gy = bf16 ? static_cast<const void*>(dy16.data()) : static_cast<const void*>(dy.data());
      auto ours_fwd = [&] {
        nimble::kernels::single_channel_conv_forward(x.data(), w.data(), bias.data(), y, bf16, view, g, -INFINITY,
                                                     INFINITY);
      };
      auto ours_bwd = [&] {
        nimble::kernels::single_channel_conv_backward_weights(x.data(), gy, bf16, view, g, dw.data(), db.data());
      };
      double err_y = 0, err_w = 0;
      if (!blocked && !bf16) {
        ours_fwd();
        ours_bwd();
        for (size_t i = 0; i < y32.size(); ++i) err_y = std::max(err_y, double(std::fabs(y32[i] - ref_y[i])));
        for (size_t i = 0; i < dw.size(); ++i) err_w = std::max(err_w, double(std::fabs(dw[i] - ref_dw[i])));
        for (int64_t c = 0; c < OC; ++c) err_w = std::max(err_w, double(std::fabs(db[size_t(c)] - ref_db[size_t(c)])));
      }
      std::printf("ours %s %s: forward %.3f ms, backward-weights %.3f ms", blocked ? "nChw16c" : "nhwc   ",
                  bf16 ? "bf16" : "fp32", median_ms(ours_fwd), median_ms(ours_bwd));
      if (!blocked && !bf16)
        std::printf("  (max |diff| vs oneDNN: output %.2g, weight/bias gradients %.2g)", err_y, err_w);
      std::printf("\n");
    }
  }
}
