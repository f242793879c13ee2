// kernels::use_fastest_implementation: the implementation it keeps consumes and produces the
// layouts oneDNN's first choice negotiated, is never a reference kernel, and is the same when a
// second primitive of the same shapes asks again (the per-process cache).
#include <gtest/gtest.h>

#include "kernels/fastest_implementation.hpp"

namespace nimble::testing {
namespace {

using namespace kernels;

dnnl::convolution_forward::primitive_desc int8_conv(int64_t ic, int64_t oc, int64_t hw, int64_t k) {
  const int64_t pad = k / 2;
  md src({1, ic, hw, hw}, dt::u8, tag::any), w({oc, ic, k, k}, dt::s8, tag::any), dst({1, oc, hw, hw}, dt::u8, tag::any);
  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {0.01f});
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, w, dst,
                                    {1, 1}, {pad, pad}, {pad, pad});
  return dnnl::convolution_forward::primitive_desc(d, attr, cpu_engine());
}

TEST(KernelChoice, KeepsLayoutsNeverPicksReferenceAndIsStable) {
  const std::vector<int> args{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
  for (const auto& [ic, oc, hw, k] : {std::tuple{16, 96, 56, 1}, {24, 24, 20, 3}, {3, 32, 64, 3}}) {
    SCOPED_TRACE(std::to_string(ic) + "->" + std::to_string(oc) + " k" + std::to_string(k));
    auto first = int8_conv(ic, oc, hw, k), chosen = int8_conv(ic, oc, hw, k), again = int8_conv(ic, oc, hw, k);
    use_fastest_implementation(chosen, args);
    use_fastest_implementation(again, args);
    EXPECT_TRUE(chosen.src_desc() == first.src_desc());
    EXPECT_TRUE(chosen.dst_desc() == first.dst_desc());
    const std::string impl = chosen.impl_info_str();
    EXPECT_NE(impl.rfind("ref", 0), 0u) << impl;
    EXPECT_EQ(impl, std::string(again.impl_info_str()));
    dnnl::convolution_forward conv(chosen);  // and it builds
  }
}

}  // namespace
}  // namespace nimble::testing
