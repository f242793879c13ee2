#include "kernels/eltwise_kernel.hpp"

namespace nimble::kernels {

// oneDNN 2.6 at the kinks (checked by tests/test_relu*.cpp, test_hardswish.cpp): relu'(0) = 0 and
// relu6 via clip_v2 has gradient 0 at both 0 and 6, as PyTorch (clip v1 would pass it at 6);
// hardswish ignores alpha/beta in 2.6 and computes x * relu6(x + 3) / 6, with gradient 0 at -3 and
// 1 at 3 like current PyTorch (1.13 gave -0.5 and 1.5 there).
EltwiseKernel::EltwiseKernel(const std::string& act, const md& desc, bool training, bool with_backward,
                             const dnnl::engine& eng) {
  float alpha = 0.0f, beta = 0.0f;
  const dnnl::algorithm alg = activation_algorithm(act, &alpha, &beta);
  const auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  dnnl::eltwise_forward::primitive_desc fwd_pd(dnnl::eltwise_forward::desc(prop, alg, desc, alpha, beta), eng);
  fwd_ = dnnl::eltwise_forward(fwd_pd);
  if (!with_backward) return;
  dnnl::eltwise_backward::primitive_desc bwd_pd(dnnl::eltwise_backward::desc(alg, desc, desc, alpha, beta), eng,
                                                fwd_pd);
  bwd_ = dnnl::eltwise_backward(bwd_pd);
  has_backward_ = true;
}

void EltwiseKernel::forward(dnnl::stream& s, const dnnl::memory& dst, const dnnl::memory& src) {
  execute(fwd_, s, {arg(DNNL_ARG_SRC, src), arg(DNNL_ARG_DST, dst)});
}

void EltwiseKernel::backward(dnnl::stream& s, const dnnl::memory& diff_src, const dnnl::memory& src,
                             const dnnl::memory& diff_dst) {
  NIMBLE_ASSERT(has_backward_, "eltwise kernel compiled without backward");
  bwd_.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, diff_src}});
}

}  // namespace nimble::kernels
