#include "kernels/channel_blocks.hpp"

#include "kernels/simd16.hpp"

namespace nimble::kernels {

std::optional<ChannelBlocks> vectorized_view(const dnnl::memory::desc& d) {
  using tag = dnnl::memory::format_tag;
  const auto type = d.data_type();
  if (d.dims().size() != 4 || (type != dnnl::memory::data_type::f32 && type != dnnl::memory::data_type::bf16))
    return std::nullopt;
  const dnnl::memory::dims& s = d.dims();  // n, c, h, w
  if (!simd16::has_avx512()) return std::nullopt;
  if (d == dnnl::memory::desc(s, type, tag::nhwc)) return ChannelBlocks{s[0], 1, s[2], s[3], s[1]};
  if (s[1] % 16 == 0 && d == dnnl::memory::desc(s, type, tag::nChw16c))
    return ChannelBlocks{s[0], s[1] / 16, s[2], s[3], 16};
  return std::nullopt;
}

}  // namespace nimble::kernels
