// MobileNet v1 (Howard et al. 2017): depthwise 3x3 + pointwise 1x1 blocks. The stem keeps
// stride 1 on small inputs (< 64 px) so 28x28 images are not reduced to nothing.
#include "zoo/builder.hpp"

namespace nimble::zoo {

Graph build_mobilenet_v1(const ModelConfig& c) {
  Builder b(c);
  const bool small = c.input[1] < 64;
  struct Block {
    int64_t out, stride;
  };
  const Block blocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
                          {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  auto ch = [&](int64_t v) { return make_divisible(v * c.width); };
  int x = b.conv_bn_act(b.input(), ch(32), 3, small ? 1 : 2, OpKind::relu);
  for (const Block& blk : blocks) {
    x = b.conv_bn_act(x, b.channels(x), 3, blk.stride, OpKind::relu, b.channels(x));  // depthwise
    x = b.conv_bn_act(x, ch(blk.out), 1, 1, OpKind::relu);                            // pointwise
  }
  return b.classifier_head(x, c, c.dropout);
}

}  // namespace nimble::zoo
