// BatchNorm2d: per-channel normalisation of (N, C, H, W), PyTorch semantics.
// attrs: eps (1e-5), momentum (0.1), activation ("none" | "relu" | "relu6": a following ReLU or
//        ReLU6 fused by passes::fuse_batchnorm_relu, forward and backward; oneDNN fuses ReLU
//        itself (fuse_norm_relu) and ReLU6 runs as an eltwise after it, the hand-written training
//        kernels clamp both).
// params: scale (C, init 1), shift (C, init 0) trainable; running_mean (C, 0), running_var (C, 1) buffers.
// Train mode normalises with the batch statistics and updates the running ones in place,
// running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance for
// running_var; eval mode normalises with the running statistics.
#include "graph/ops/batch_norm2d.hpp"

#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 4, "input (N, C, H, W)");
  NIMBLE_CHECK(in[0].numel() > 0, "batch_norm2d '" + node.name + "': input " + in[0].str() + " is empty");
  NIMBLE_CHECK(node.attr_float("eps", 1e-5) > 0, "batch_norm2d '" + node.name + "': eps must be positive");
  const std::string act = node.attr_str("activation", "none");
  NIMBLE_CHECK(act == "none" || act == "relu" || act == "relu6",
               "batch_norm2d '" + node.name + "': activation must be none, relu or relu6, got '" + act + "'");
  const int64_t c = in[0][1];
  for (const char* key : ops::kParamNames)
    if (ParamPtr p = node.param_ptr(key))
      NIMBLE_CHECK(p->data.shape() == Shape({c}), "batch_norm2d '" + node.name + "': " + key + " " +
                                                      p->data.shape().str() + " does not match " + std::to_string(c) +
                                                      " channels of input " + in[0].str());
  return in[0];
}

void init_params(Node& node, const std::vector<Shape>& in, Rng&) {
  const int64_t c = in[0][1];
  node.params["scale"] = ops::make_param({c});
  node.params["scale"]->data.fill(1.0f);
  node.params["shift"] = ops::make_param({c});
  node.params["running_mean"] = ops::make_param({c}, false);
  node.params["running_var"] = ops::make_param({c}, false);
  node.params["running_var"]->data.fill(1.0f);
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool training) {
  const Shape s = infer(node, {in[0].shape()});
  const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  const double eps = node.attr_float("eps", 1e-5);
  const float* src = in[0].data<float>();  // (N, C, H, W)
  const float* scale = node.param("scale").data.data<float>();
  const float* shift = node.param("shift").data.data<float>();
  if (training) ops::check_batch_stats_possible(node, s);
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(s);
  float* y = dst.data<float>();  // (N, C, H, W)
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = node.param("running_mean").data.data<float>()[ch];
    double var = node.param("running_var").data.data<float>()[ch];
    if (training) {  // biased batch statistics, two passes in double
      double sum = 0, sq = 0;
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < hw; ++i) sum += src[(b * c + ch) * hw + i];
      mean = sum / double(n * hw);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < hw; ++i) {
          const double d = src[(b * c + ch) * hw + i] - mean;
          sq += d * d;
        }
      var = sq / double(n * hw);
    }
    const double k = scale[ch] / std::sqrt(var + eps);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < hw; ++i) {
        const int64_t at = (b * c + ch) * hw + i;
        y[at] = apply_activation(act, float((src[at] - mean) * k + shift[ch]));
      }
  }
  return dst;
}

}  // namespace

extern const OpDef op_def_batch_norm2d = {.name = "batch_norm2d",
                                          .min_inputs = 1,
                                          .max_inputs = 1,
                                          .infer = infer,
                                          .init_params = init_params,
                                          .macs = nullptr,
                                          .reference = reference,
                                          .traits = {.fusion_site = FusionSite::batch_norm,
                                                     .channels = ChannelRule::per_channel,
                                                     .int8 = Int8Rule::float_only,
                                                     .low_precision = LowPrecision::computes_low}};

}  // namespace nimble
