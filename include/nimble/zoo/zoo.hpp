#pragma once
#include <string>
#include <vector>

#include "nimble/graph/graph.hpp"

namespace nimble::zoo {

struct ModelConfig {
  std::string name = "cnn";  // cnn | resnet | mobilenet_v1 | mobilenet_v2
  Shape input{1, 28, 28};    // per sample: channels x height x width
  int64_t classes = 10;
  double width = 1.0;    // channel multiplier (resnet, mobilenets)
  int64_t depth = 0;     // resnet: 6n+2 (CIFAR layout) or 18 / 34 (ImageNet); 0: by input size
  double dropout = 0.2;  // before the classifier (mobilenets)
  uint64_t seed = 0;     // weight initialisation
};

struct ModelInfo {
  std::string name, description;
};

const std::vector<ModelInfo>& models();
// Throws Error naming the available models unless `name` is one of them.
void check_model_name(const std::string& name);
// Builds a freshly initialised model; throws Error on unknown names or impossible configs.
Graph build(const ModelConfig& config);
// The resnet depth `config` builds: its own, or 20 below 64 pixels and 18 from 64 pixels on.
int64_t resnet_depth(const ModelConfig& config);

}  // namespace nimble::zoo
