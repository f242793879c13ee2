// Probe: how much faster this CPU multiplies in bf16 than in fp32, at the instruction and at the
// library level. (1) One thread, 12 independent accumulator chains of AVX-512 vfmadd231ps (32
// FLOP each) against vdpbf16ps (64 FLOP each; AVX512-BF16), the instruction throughput ceiling.
// (2) oneDNN matmul 1024^3 in fp32, bf16 and u8 x s8, on OMP_NUM_THREADS threads: the ceilings
// `nimble bench` figures are read against. On an AMD EPYC (Zen 4, no AMX; 2026-11-27) both
// instructions issue once per cycle, so bf16's ceiling is exactly 2x fp32: 117 vs 233 GFLOP/s per
// core; matmul 194 / 458 / 910 GFLOP/s on 2 threads. DESIGN.md's Sapphire Rapids read 310 / 2,760
// / 7,900 (AMX).
//   g++ -O2 bench/probes/bf16_peak.cpp -o /tmp/bf16_peak -ldnnl && OMP_NUM_THREADS=2 /tmp/bf16_peak
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cstdio>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

__attribute__((target("avx512f,avx512bf16"))) void instruction_peak() {
  constexpr long kIters = 20'000'000;
  __m512 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_ps(1e-9f * float(j));
  const __m512 a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
  const __m512bh ones = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80));
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < kIters; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_fmadd_ps(a, acc[j], b);
  const double fp32 = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < kIters; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], ones, ones);
  const double bf16 = seconds_since(t0);
  float sink = 0;
  for (int j = 0; j < 12; ++j) sink += _mm512_reduce_add_ps(acc[j]);
  const double n = 12.0 * kIters;
  std::printf("one thread: vfmadd231ps %.1f GFLOP/s, vdpbf16ps %.1f GFLOP/s: bf16 %.2fx (%g)\n", n * 32 / fp32 / 1e9,
              n * 64 / bf16 / 1e9, (n * 64 / bf16) / (n * 32 / fp32), double(sink) * 0);
}

void matmul_peak() {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  constexpr int N = 1024;
  struct Case {
    dt a, b, c;
    const char* name;
  };
  for (const Case& k : {Case{dt::f32, dt::f32, dt::f32, "fp32"}, Case{dt::bf16, dt::bf16, dt::f32, "bf16"},
                        Case{dt::u8, dt::s8, dt::s32, "int8"}}) {
    const memory::desc a({N, N}, k.a, tag::ab), b({N, N}, k.b, tag::any), c({N, N}, k.c, tag::ab);
    const matmul::primitive_desc pd(matmul::desc(a, b, c), eng);
    memory A(a, eng), B(pd.weights_desc(), eng), C(c, eng);
    const matmul m(pd);
    const std::unordered_map<int, memory> args{{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}};
    for (int i = 0; i < 3; ++i) m.execute(s, args);
    s.wait();
    constexpr int kRuns = 20;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) m.execute(s, args);
    s.wait();
    std::printf("matmul %d^3 %s (%s): %.0f GFLOP/s\n", N, k.name, pd.impl_info_str(),
                2.0 * N * N * N * kRuns / seconds_since(t0) / 1e9);
  }
}

}  // namespace

int main() {
  if (__builtin_cpu_supports("avx512bf16"))
    instruction_peak();
  else
    std::printf("no AVX512-BF16: the instruction comparison needs it\n");
  matmul_peak();
}
