#include "nimble/zoo/zoo.hpp"

#include "zoo/builder.hpp"

namespace nimble::zoo {

const std::vector<ModelInfo>& models() {
  static const std::vector<ModelInfo> list = {
      {"cnn",
       "2 conv + batch-norm + max-pool, 2 fully connected (the PyTorch peer's CNN at width 1); width multiplier "
       "(--width)"},
      {"resnet",
       "ResNet with basic blocks: CIFAR layout, depth 6n+2 (default 20 below 64 px), or ImageNet layout, depth "
       "18 / 34 (default 18 from 64 px on); width multiplier (--width)"},
      {"mobilenet_v1", "depthwise-separable convolutions, width multiplier (--width)"},
      {"mobilenet_v2", "inverted residuals with linear bottlenecks, width multiplier (--width)"},
  };
  return list;
}

Graph build(const ModelConfig& c) {
  NIMBLE_CHECK(c.input.rank() == 3, "--input must be CxHxW, e.g. 1x28x28, got " + c.input.str());
  NIMBLE_CHECK(c.input[0] <= 64 && c.input[1] <= 4096 && c.input[2] <= 4096,
               "--input " + c.input.str() + " is too large");
  NIMBLE_CHECK(c.classes >= 2 && c.classes <= 100000, "the number of classes must be between 2 and 100000");
  NIMBLE_CHECK(c.width > 0 && c.width <= 8, "--width must be in (0, 8]");
  NIMBLE_CHECK(c.dropout >= 0 && c.dropout < 1, "dropout must be in [0, 1)");
  if (c.name == "cnn") return build_cnn(c);
  if (c.name == "resnet") return build_resnet(c);
  if (c.name == "mobilenet_v1") return build_mobilenet_v1(c);
  if (c.name == "mobilenet_v2") return build_mobilenet_v2(c);
  check_model_name(c.name);
  throw Error("model '" + c.name + "' has no builder");
}

void check_model_name(const std::string& name) {
  std::string names;
  for (auto& m : models()) {
    if (m.name == name) return;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  throw Error("unknown model '" + name + "' (available: " + names + ")");
}

}  // namespace nimble::zoo
