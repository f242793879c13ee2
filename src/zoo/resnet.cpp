// ResNet with basic blocks (He et al. 2016) in its two published layouts:
//  - CIFAR (section 4.2), depth 6n+2: a 3x3 stem, three stages of n blocks at 16/32/64 x width
//    channels; inputs of 64 pixels and more get the ImageNet stride-4 stem so the cost stays sane;
//  - ImageNet (table 1), depth 18 or 34: the 7x7 stride-2 stem and max-pool, four stages at
//    64/128/256/512 x width channels — torchvision's resnet18 / resnet34.
// Stride 2 between stages, 1x1 projection shortcuts where shapes change. The default depth follows
// the input: 20 (CIFAR) below 64 pixels, 18 (ImageNet) from 64 pixels on.
#include <cmath>
#include <vector>

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

int64_t resnet_depth(const ModelConfig& c) {
  if (c.depth > 0) return c.depth;
  return c.input.rank() == 3 && c.input[1] >= 64 ? 18 : 20;
}

Graph build_resnet(const ModelConfig& c) {
  const int64_t depth = resnet_depth(c);
  const bool imagenet = depth == 18 || depth == 34;
  NIMBLE_CHECK(imagenet || (depth >= 8 && (depth - 2) % 6 == 0 && depth <= 200),
               "resnet --depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110: CIFAR layout) or 18 / 34 (ImageNet "
               "layout), got " +
                   std::to_string(depth));
  // Blocks per stage, and the first stage's channels (doubling at every stage).
  const std::vector<int64_t> blocks = !imagenet     ? std::vector<int64_t>(3, (depth - 2) / 6)
                                      : depth == 18 ? std::vector<int64_t>{2, 2, 2, 2}
                                                    : std::vector<int64_t>{3, 4, 6, 3};
  const int64_t base =
      imagenet ? std::max<int64_t>(8, std::lround(64 * c.width)) : std::max<int64_t>(4, std::lround(16 * c.width));
  Builder b(c);
  int x = b.input();
  if (imagenet || c.input[1] >= 64) {  // the ImageNet stem: 7x7 stride 2, 3x3 max-pool stride 2
    x = b.conv_bn_act(x, base, 7, 2, OpKind::relu);
    x = b.max_pool(x, 3, 2, 1);
  } else {
    x = b.conv_bn_act(x, base, 3, 1, OpKind::relu);
  }
  for (size_t stage = 0; stage < blocks.size(); ++stage)
    for (int64_t i = 0; i < blocks[stage]; ++i) x = basic_block(b, x, base << stage, (stage > 0 && i == 0) ? 2 : 1);
  return b.classifier_head(x, c, 0.0);
}

}  // namespace nimble::zoo
