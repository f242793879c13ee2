// kernels::use_fastest_implementation: the implementation it keeps consumes and produces the
// layouts oneDNN's first choice negotiated, is never a reference kernel, and is the same when a
// second primitive of the same shapes asks again (the per-process cache).
#include <gtest/gtest.h>

#include "kernels/fastest_implementation.hpp"

namespace nimble::testing {
namespace {

using namespace kernels;

// oneDNN's implementation list refers to the op descriptor it was made from, so the descriptor
// lives as long as the primitive descriptor is iterated.
struct Int8Conv {
  dnnl::convolution_forward::desc d;
  dnnl::convolution_forward::primitive_desc pd;
  Int8Conv(int64_t ic, int64_t oc, int64_t hw, int64_t k)
      : d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
          md({1, ic, hw, hw}, dt::u8, tag::any), md({oc, ic, k, k}, dt::s8, tag::any),
          md({1, oc, hw, hw}, dt::u8, tag::any), {1, 1}, {k / 2, k / 2}, {k / 2, k / 2}) {
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {0.01f});
    pd = dnnl::convolution_forward::primitive_desc(d, attr, cpu_engine());
  }
};

TEST(KernelChoice, KeepsLayoutsNeverPicksReferenceAndIsStable) {
  const std::vector<int> args{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
  for (const auto& [ic, oc, hw, k] : {std::tuple{16, 96, 56, 1}, {24, 24, 20, 3}, {3, 32, 64, 3}}) {
    SCOPED_TRACE(std::to_string(ic) + "->" + std::to_string(oc) + " k" + std::to_string(k));
    Int8Conv first(ic, oc, hw, k), chosen(ic, oc, hw, k), again(ic, oc, hw, k);
    use_fastest_implementation(chosen.pd, args);
    use_fastest_implementation(again.pd, args);
    EXPECT_TRUE(chosen.pd.src_desc() == first.pd.src_desc());
    EXPECT_TRUE(chosen.pd.dst_desc() == first.pd.dst_desc());
    const std::string impl = chosen.pd.impl_info_str();
    EXPECT_NE(impl.rfind("ref", 0), 0u) << impl;
    EXPECT_EQ(impl, std::string(again.pd.impl_info_str()));
    dnnl::convolution_forward conv(chosen.pd);  // and it builds
  }
}

}  // namespace
}  // namespace nimble::testing
