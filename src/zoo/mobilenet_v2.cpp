// MobileNet v2 (Sandler et al. 2018) with torchvision's configuration and channel rounding.
// As in the PyTorch peer, the stem has stride 1 on small inputs (< 64 px).
#include "zoo/builder.hpp"

namespace nimble::zoo {

namespace {
int inverted_residual(Builder& b, int x, int64_t out, int64_t stride, int64_t expand) {
  const int64_t in = b.channels(x), hidden = in * expand;
  int y = x;
  if (expand != 1) y = b.conv_bn_act(y, hidden, 1, 1, OpKind::relu6);
  y = b.conv_bn_act(y, hidden, 3, stride, OpKind::relu6, hidden);  // depthwise
  y = b.conv_bn(y, out, 1, 1);                                     // linear bottleneck
  return (stride == 1 && in == out) ? b.add(y, x) : y;
}
}  // namespace

Graph build_mobilenet_v2(const ModelConfig& c) {
  Builder b(c);
  const bool small = c.input[1] < 64;
  struct Stage {
    int64_t expand, out, repeats, stride;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int x = b.conv_bn_act(b.input(), make_divisible(32 * c.width), 3, small ? 1 : 2, OpKind::relu6);
  for (const Stage& s : stages)
    for (int64_t i = 0; i < s.repeats; ++i) {
      x = inverted_residual(b, x, make_divisible(s.out * c.width), i == 0 ? s.stride : 1, s.expand);
    }
  x = b.conv_bn_act(x, make_divisible(1280 * std::max(1.0, c.width)), 1, 1, OpKind::relu6);
  return b.classifier_head(x, c, c.dropout);
}

}  // namespace nimble::zoo
