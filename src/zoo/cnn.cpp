// The PyTorch peer's CNN (bench/peers/torch_fmnist.py), layer for layer, with PyTorch's
// default initialisation, so the two can be compared side by side. --width scales its two
// convolutions and its hidden layer (width 1 is the peer's model).
#include <algorithm>
#include <cmath>

#include "zoo/builder.hpp"

namespace nimble::zoo {

Graph build_cnn(const ModelConfig& c) {
  NIMBLE_CHECK(c.input[1] >= 4 && c.input[2] >= 4, "cnn needs inputs of at least 4x4");
  const auto scaled = [&](int64_t n) { return std::max<int64_t>(4, std::lround(double(n) * c.width)); };
  Builder b(c);
  int x = b.input();
  x = b.act(b.bn(b.conv(x, scaled(32), 3, 1, 1, true)), OpKind::relu);
  x = b.max_pool(x, 2, 2);
  x = b.act(b.bn(b.conv(x, scaled(64), 3, 1, 1, true)), OpKind::relu);
  x = b.max_pool(x, 2, 2);
  x = b.graph().add_node(OpKind::flatten, b.name("flatten"), {x}, {}, &b.rng());
  x = b.act(b.linear(x, scaled(128)), OpKind::relu);
  x = b.linear(x, c.classes);
  return b.finish(x, c);
}

}  // namespace nimble::zoo
