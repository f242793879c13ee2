// Probe: batch-norm(+ReLU) and 2x2 max pooling for training, oneDNN 2.6 against the hand-written
// kernels in src/kernels/ (batch_norm_training.cpp, max_pool_2x2.cpp), forward + backward, one
// after the other (median of 7 rounds of 10 calls each), with the largest differences of their
// results and of both batch-norm input gradients from a double-precision reference.
//   g++ -O3 -fopenmp -Isrc -Iinclude bench/probes/bn_pool_training.cpp src/kernels/batch_norm_training.cpp \
//       src/kernels/max_pool_2x2.cpp -o /tmp/bnpool -ldnnl
//   OMP_NUM_THREADS=2 /tmp/bnpool N C H nhwc|nChw16c f32|bf16
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/batch_norm_training.hpp"
#include "kernels/max_pool_2x2.hpp"

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

float at(const memory& m, size_t i) {
  if (m.get_desc().data_type() == dt::f32) return static_cast<const float*>(m.get_data_handle())[i];
  return nimble::bf16_to_f32(static_cast<const uint16_t*>(m.get_data_handle())[i]);
}
double max_diff(const memory& a, const memory& b) {
  double d = 0;
  const size_t n = a.get_desc().get_size() / (a.get_desc().data_type() == dt::f32 ? 4 : 2);
  for (size_t i = 0; i < n; ++i) d = std::max(d, double(std::fabs(at(a, i) - at(b, i))));
  return d;
}
void fill(memory& m, std::mt19937& rng, float mean) {
  std::normal_distribution<float> nd(mean, 1.0f);
  const bool f32 = m.get_desc().data_type() == dt::f32;
  const size_t n = m.get_desc().get_size() / (f32 ? 4 : 2);
  for (size_t i = 0; i < n; ++i) {
    if (f32)
      static_cast<float*>(m.get_data_handle())[i] = nd(rng);
    else
      static_cast<uint16_t*>(m.get_data_handle())[i] = nimble::f32_to_bf16(nd(rng));
  }
}

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s N C H nhwc|nChw16c f32|bf16\n", argv[0]);
    return 2;
  }
  const int N = std::atoi(argv[1]), C = std::atoi(argv[2]), H = std::atoi(argv[3]);
  const bool blocked = std::string(argv[4]) == "nChw16c";
  const dt type = std::string(argv[5]) == "bf16" ? dt::bf16 : dt::f32;
  const tag layout = blocked ? tag::nChw16c : tag::nhwc;
  const nimble::kernels::ChannelBlocks g{N, blocked ? C / 16 : 1, H, H, blocked ? 16 : C};
  const nimble::DType ntype = type == dt::bf16 ? nimble::DType::bf16 : nimble::DType::f32;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  std::mt19937 rng(1);

  // Batch-norm + ReLU.
  memory::desc x_md({N, C, H, H}, type, layout), chan({C}, dt::f32, tag::a);
  const auto flags =
      normalization_flags::use_scale | normalization_flags::use_shift | normalization_flags::fuse_norm_relu;
  batch_normalization_forward::primitive_desc fpd({prop_kind::forward_training, x_md, 1e-5f, flags}, eng);
  batch_normalization_backward::primitive_desc bpd({prop_kind::backward, x_md, x_md, 1e-5f, flags}, eng, fpd);
  batch_normalization_forward bn_f(fpd);
  batch_normalization_backward bn_b(bpd);
  memory x(x_md, eng), y(x_md, eng), y2(x_md, eng), dy(x_md, eng), dx(x_md, eng), dx2(x_md, eng);
  memory scale(chan, eng), shift(chan, eng), mean(chan, eng), var(chan, eng), dscale(chan, eng), dshift(chan, eng);
  memory ws(fpd.workspace_desc(), eng);
  fill(x, rng, 3.0f);
  fill(dy, rng, 0.0f);
  for (int c = 0; c < C; ++c) {
    static_cast<float*>(scale.get_data_handle())[c] = 1.0f + 0.01f * c;
    static_cast<float*>(shift.get_data_handle())[c] = 0.1f - 0.01f * c;
  }
  std::vector<float> mean2(C), var2(C), dscale2(C), dshift2(C);
  nimble::kernels::BatchNormTensors t{
      g,    ntype, ntype, static_cast<float*>(scale.get_data_handle()), static_cast<float*>(shift.get_data_handle()),
      1e-5f};
  t.lower = 0.0f;  // ReLU
  auto dnnl_bn = [&] {
    bn_f.execute(s, {{DNNL_ARG_SRC, x},
                     {DNNL_ARG_DST, y},
                     {DNNL_ARG_SCALE, scale},
                     {DNNL_ARG_SHIFT, shift},
                     {DNNL_ARG_MEAN, mean},
                     {DNNL_ARG_VARIANCE, var},
                     {DNNL_ARG_WORKSPACE, ws}});
    bn_b.execute(s, {{DNNL_ARG_SRC, x},
                     {DNNL_ARG_DIFF_DST, dy},
                     {DNNL_ARG_SCALE, scale},
                     {DNNL_ARG_SHIFT, shift},
                     {DNNL_ARG_MEAN, mean},
                     {DNNL_ARG_VARIANCE, var},
                     {DNNL_ARG_WORKSPACE, ws},
                     {DNNL_ARG_DIFF_SRC, dx},
                     {DNNL_ARG_DIFF_SCALE, dscale},
                     {DNNL_ARG_DIFF_SHIFT, dshift}});
    s.wait();
  };
  auto own_bn = [&] {
    nimble::kernels::batch_norm_forward_training(t, x.get_data_handle(), y2.get_data_handle(), mean2.data(),
                                                 var2.data());
    nimble::kernels::batch_norm_backward(t, x.get_data_handle(), dy.get_data_handle(), mean2.data(), var2.data(),
                                         dx2.get_data_handle(), dscale2.data(), dshift2.data());
  };
  dnnl_bn();
  own_bn();
  // Both input gradients against a double-precision reference.
  double worst_dnnl = 0, worst_own = 0;
  for (int c = 0; c < C; ++c) {
    std::vector<size_t> idx;
    for (int b = 0; b < N; ++b)
      for (int p = 0; p < H * H; ++p)
        idx.push_back(blocked ? ((size_t(b) * (C / 16) + c / 16) * H * H + p) * 16 + c % 16
                              : (size_t(b) * H * H + p) * C + c);
    double mu = 0, v = 0;
    for (size_t i : idx) mu += at(x, i);
    mu /= double(idx.size());
    for (size_t i : idx) v += (at(x, i) - mu) * (at(x, i) - mu);
    v /= double(idx.size());
    const double inv = 1 / std::sqrt(v + 1e-5), sc = static_cast<float*>(scale.get_data_handle())[c],
                 sh = static_cast<float*>(shift.get_data_handle())[c], m = double(idx.size());
    double sdy = 0, sdyx = 0;
    for (size_t i : idx) {
      const double xh = (at(x, i) - mu) * inv, d = xh * sc + sh > 0 ? at(dy, i) : 0;
      sdy += d, sdyx += d * xh;
    }
    for (size_t i : idx) {
      const double xh = (at(x, i) - mu) * inv, d = xh * sc + sh > 0 ? at(dy, i) : 0;
      const double want = sc * inv * (d - sdy / m - xh * sdyx / m);
      worst_dnnl = std::max(worst_dnnl, std::fabs(at(dx, i) - want));
      worst_own = std::max(worst_own, std::fabs(at(dx2, i) - want));
    }
  }
  std::printf("batch-norm+relu input gradient vs a double reference: oneDNN off by %.3g, own by %.3g\n", worst_dnnl,
              worst_own);
  double dsc = 0;
  for (int c = 0; c < C; ++c)
    dsc = std::max(dsc, double(std::fabs(dscale2[c] - static_cast<float*>(dscale.get_data_handle())[c])));
  std::printf(
      "batch-norm+relu %s %s N%d C%d H%d: oneDNN %s %.3f ms, own %.3f ms (fwd+bwd); |dy| %.2g |dx| %.2g |dscale| "
      "%.2g\n",
      argv[4], argv[5], N, C, H, fpd.impl_info_str(), median_ms(dnnl_bn), median_ms(own_bn), max_diff(y, y2),
      max_diff(dx, dx2), dsc);

  // 2x2 max pool.
  memory::desc p_md({N, C, H / 2, H / 2}, type, layout);
  pooling_forward::primitive_desc pf(
      {prop_kind::forward_training, algorithm::pooling_max, x_md, p_md, {2, 2}, {2, 2}, {0, 0}, {0, 0}}, eng);
  pooling_backward::primitive_desc pb({algorithm::pooling_max, x_md, p_md, {2, 2}, {2, 2}, {0, 0}, {0, 0}}, eng, pf);
  pooling_forward pool_f(pf);
  pooling_backward pool_b(pb);
  memory py(p_md, eng), py2(p_md, eng), pdy(p_md, eng), pws(pf.workspace_desc(), eng);
  std::vector<uint8_t> arg(p_md.get_size());
  fill(pdy, rng, 0.0f);
  auto dnnl_pool = [&] {
    pool_f.execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, py}, {DNNL_ARG_WORKSPACE, pws}});
    pool_b.execute(s, {{DNNL_ARG_DIFF_DST, pdy}, {DNNL_ARG_DIFF_SRC, dx}, {DNNL_ARG_WORKSPACE, pws}});
    s.wait();
  };
  auto own_pool = [&] {
    if (type == dt::f32) {
      nimble::kernels::max_pool_2x2_forward(static_cast<const float*>(x.get_data_handle()),
                                            static_cast<float*>(py2.get_data_handle()), arg.data(), g);
      nimble::kernels::max_pool_2x2_backward(static_cast<const float*>(pdy.get_data_handle()), arg.data(),
                                             static_cast<float*>(dx2.get_data_handle()), g);
    } else {
      nimble::kernels::max_pool_2x2_forward(static_cast<const uint16_t*>(x.get_data_handle()),
                                            static_cast<uint16_t*>(py2.get_data_handle()), arg.data(), g);
      nimble::kernels::max_pool_2x2_backward(static_cast<const uint16_t*>(pdy.get_data_handle()), arg.data(),
                                             static_cast<uint16_t*>(dx2.get_data_handle()), g);
    }
  };
  dnnl_pool();
  own_pool();
  std::printf("max-pool 2x2   %s %s N%d C%d H%d: oneDNN %s %.3f ms, own %.3f ms (fwd+bwd); |y| %.2g |dx| %.2g\n",
              argv[4], argv[5], N, C, H, pf.impl_info_str(), median_ms(dnnl_pool), median_ms(own_pool),
              max_diff(py, py2), max_diff(dx, dx2));
}
