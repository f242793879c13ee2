#pragma once
// Shared scaffolding for the zoo's model files: unique names and torchvision-style initialisation.
#include <cmath>
#include <map>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble::zoo {

// torchvision's initialisation for ResNet/MobileNet: conv kaiming-normal (fan_out, relu),
// batch-norm 1/0, linear N(0, 0.01) with zero bias.
inline void torchvision_init(Graph& g, Rng& rng) {
  for (Node& n : g.nodes()) {
    if (n.op == OpKind::conv2d) {
      Tensor& w = n.params.at("weights")->data;  // (O, I/G, KH, KW)
      const float std = std::sqrt(2.0f / float(w.shape()[0] * w.shape()[2] * w.shape()[3]));
      for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = std * rng.normal();
      if (auto b = n.param_ptr("bias")) b->data.zero();
    } else if (n.op == OpKind::linear) {
      Tensor& w = n.params.at("weights")->data;
      for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = 0.01f * rng.normal();
      n.params.at("bias")->data.zero();
    }
  }
}

class Builder {
 public:
  explicit Builder(const ModelConfig& c) : rng_(c.seed) { x_ = g_.add_input("input", c.input); }
  Graph& graph() { return g_; }
  int input() const { return x_; }
  Rng& rng() { return rng_; }

  std::string name(const std::string& base) {
    int n = counters_[base]++;
    return base + std::to_string(n);
  }

  int conv(int x, int64_t out, int64_t k, int64_t stride, int64_t groups = 1, bool bias = false, int64_t pad = -1) {
    if (pad < 0) pad = (k - 1) / 2;
    return g_.add_node(OpKind::conv2d, name("conv"), {x},
                       {{"out_channels", out},
                        {"kernel", std::vector<int64_t>{k, k}},
                        {"stride", std::vector<int64_t>{stride, stride}},
                        {"padding", std::vector<int64_t>{pad, pad}},
                        {"groups", groups},
                        {"bias", int64_t(bias)}},
                       &rng_);
  }
  int bn(int x) { return g_.add_node(OpKind::batch_norm2d, name("bn"), {x}, {}, &rng_); }
  int act(int x, OpKind op) { return g_.add_node(op, name(op_name(op)), {x}, {}, &rng_); }
  int conv_bn(int x, int64_t out, int64_t k, int64_t stride, int64_t groups = 1) {
    return bn(conv(x, out, k, stride, groups));
  }
  int conv_bn_act(int x, int64_t out, int64_t k, int64_t stride, OpKind a, int64_t groups = 1) {
    return act(conv_bn(x, out, k, stride, groups), a);
  }
  int add(int a, int b) { return g_.add_node(OpKind::add, name("add"), {a, b}, {}, &rng_); }
  int max_pool(int x, int64_t k, int64_t stride, int64_t pad = 0) {
    return g_.add_node(OpKind::max_pool2d, name("maxpool"), {x},
                       {{"kernel", std::vector<int64_t>{k, k}},
                        {"stride", std::vector<int64_t>{stride, stride}},
                        {"padding", std::vector<int64_t>{pad, pad}}},
                       &rng_);
  }
  int global_pool_flatten(int x) {
    int p = g_.add_node(OpKind::global_avg_pool, name("gap"), {x}, {}, &rng_);
    return g_.add_node(OpKind::flatten, name("flatten"), {p}, {}, &rng_);
  }
  int dropout(int x, double p) {
    return p > 0 ? g_.add_node(OpKind::dropout, name("dropout"), {x}, {{"p", p}}, &rng_) : x;
  }
  int linear(int x, int64_t out) {
    return g_.add_node(OpKind::linear, name("fc"), {x}, {{"out_features", out}, {"bias", int64_t(1)}}, &rng_);
  }
  int64_t channels(int x) const { return g_.values()[x].shape[1]; }

  void torchvision_init() { zoo::torchvision_init(g_, rng_); }

  // The shared head of the torchvision-style models: global pooling, optional dropout, a linear
  // classifier, torchvision initialisation, and the finished graph.
  Graph classifier_head(int x, const ModelConfig& c, double dropout) {
    x = linear(this->dropout(global_pool_flatten(x), dropout), c.classes);
    torchvision_init();
    return finish(x, c);
  }

  Graph finish(int out, const ModelConfig& c) {
    g_.set_output(out);
    g_.meta["model"] = c.name;
    g_.validate();
    return std::move(g_);
  }

 private:
  Graph g_;
  Rng rng_;
  int x_;
  std::map<std::string, int> counters_;
};

// Rounds channel counts to a multiple of 8 without losing more than 10% (MobileNet's rule).
inline int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t r = std::max<int64_t>(divisor, int64_t(v + divisor / 2.0) / divisor * divisor);
  if (r < 0.9 * v) r += divisor;
  return r;
}

Graph build_cnn(const ModelConfig& c);
Graph build_resnet(const ModelConfig& c);
Graph build_mobilenet_v1(const ModelConfig& c);
Graph build_mobilenet_v2(const ModelConfig& c);

}  // namespace nimble::zoo
