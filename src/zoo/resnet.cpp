// CIFAR-style ResNet (He et al. 2016, section 4.2): a 3x3 stem, three stages of basic blocks at
// 16/32/64 x width channels, stride 2 between stages, 1x1 projection shortcuts where shapes change.
// Inputs of 64 pixels and more get an ImageNet-style stride-4 stem so the cost stays sane.
#include "zoo/builder.hpp"

namespace nimble::zoo {

namespace {
int basic_block(Builder& b, int x, int64_t out, int64_t stride) {
  int y = b.conv_bn_act(x, out, 3, stride, OpKind::relu);
  y = b.conv_bn(y, out, 3, 1);
  int shortcut = (stride != 1 || b.channels(x) != out) ? b.conv_bn(x, out, 1, stride) : x;
  return b.act(b.add(y, shortcut), OpKind::relu);
}
}  // namespace

Graph build_resnet(const ModelConfig& c) {
  NIMBLE_CHECK(c.depth >= 8 && (c.depth - 2) % 6 == 0 && c.depth <= 200,
               "resnet --depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110), got " + std::to_string(c.depth));
  const int64_t blocks = (c.depth - 2) / 6;
  Builder b(c);
  const int64_t base = std::max<int64_t>(4, int64_t(16 * c.width + 0.5));
  int x = b.input();
  if (c.input[1] >= 64) {
    x = b.conv_bn_act(x, base, 7, 2, OpKind::relu);
    x = b.max_pool(x, 3, 2, 1);
  } else {
    x = b.conv_bn_act(x, base, 3, 1, OpKind::relu);
  }
  for (int stage = 0; stage < 3; ++stage)
    for (int64_t i = 0; i < blocks; ++i) x = basic_block(b, x, base << stage, (stage > 0 && i == 0) ? 2 : 1);
  return b.classifier_head(x, c, 0.0);
}

}  // namespace nimble::zoo
