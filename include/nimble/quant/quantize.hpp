#pragma once
// Static post-training int8 quantization, as passes:
//   prepare    Graph -> Graph: batch-norm folded, activations fused, dropout removed (the graph
//              an eval Session runs);
//   calibrate  runs calibration samples through it and observes every value;
//   convert    Graph -> Graph: conv2d / linear / add become qconv2d / qlinear / qadd with s8
//              per-output-channel weights, pooling and reshapes run on int8 between them, and
//              quantize / dequantize nodes appear only where int8 meets float (the graph input,
//              layers kept in float, the output).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/graph/qparams.hpp"
#include "nimble/quant/observer.hpp"

namespace nimble::quant {

Graph prepare(const Graph& g);

// Per value of the prepared graph, its calibrated quantization. The graph input keeps its whole
// range under entropy and mse: they fit thresholds to activations' tails, and an image's spike at
// its background value led entropy to clip the foreground (a Fashion-MNIST student lost 15 points;
// percentile clips at most 0.01 % of the values by construction).
struct Calibration {
  ObserverKind observer = ObserverKind::minmax;
  std::vector<Observer> values;
  int input = -1;  // the graph input's value
  std::vector<QParams> params() const;
};
Calibration calibrate(const Graph& prepared, const data::ImageSet& samples, const data::Normalization& norm,
                      ObserverKind observer, int64_t batch = 64);

// The nodes of a prepared graph that convert() makes int8 unless told to keep them float.
std::vector<std::string> quantizable_layers(const Graph& prepared);

struct ConvertOptions {
  std::set<std::string> keep_float;  // names of prepared-graph nodes to leave in float
};
Graph convert(const Graph& prepared, const std::vector<QParams>& value_params, const ConvertOptions& options = {});

// convert(), also saying which quantizable layer each node of the int8 graph serves: a layer's
// own int8 node, the quantize nodes made for its inputs and the dequantize nodes made for its
// float readers (so a layer's cost in int8 includes the conversions it causes).
struct Converted {
  Graph graph;
  std::map<std::string, std::string> layer_of;  // int8-graph node name -> prepared layer name
};
Converted convert_layers(const Graph& prepared, const std::vector<QParams>& value_params,
                         const ConvertOptions& options = {});

// Dynamic quantization (no calibration): every linear layer of a prepared graph becomes a
// dqlinear — s8 per-channel weights, activations quantized per batch on the fly; the rest stays
// float.
Graph convert_dynamic(const Graph& prepared, const std::set<std::string>& keep_float = {});

// Symmetric per-output-channel s8 weights: scale[o] = max |w[o, ...]| / 127 (1 for an all-zero
// channel), q = round_half_even(w / scale) clamped to [-127, 127]. weights: (O, ...) f32.
void quantize_weights(Tensor& q, Tensor& scales, const Tensor& weights);

}  // namespace nimble::quant
