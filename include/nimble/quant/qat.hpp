#pragma once
// Quantization-aware training as two passes around the normal Trainer:
//   insert_fake_quant  Graph -> Graph: a fake_quant node wherever the int8 graph will quantize a
//                      value (the graph input, the output of every int8 layer after its folded
//                      batch-norm and fused activation), initialised from a PTQ calibration, and
//                      conv2d / linear weights fake-quantized per output channel;
//   strip_fake_quant   Graph -> Graph without them, plus the ranges they observed while training,
//                      which qat_params() turns into the quantization convert() uses.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nimble/graph/graph.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::quant {

// g: the float training graph; prepared / params: prepare(g) and its calibration; keep_float:
// layers that stay float (no fake quantization for them). Parameters are copied.
Graph insert_fake_quant(const Graph& g, const Graph& prepared, const std::vector<QParams>& params,
                        const std::set<std::string>& keep_float);

// Ranges by the layer each fake_quant observed ("" for the graph input).
using ObservedRanges = std::map<std::string, QParams>;
Graph strip_fake_quant(const Graph& g, ObservedRanges& ranges);

// Per value of `prepared` (prepare() of the stripped graph): the QAT ranges where a fake_quant
// observed the value, `fallback` (a PTQ calibration) elsewhere.
std::vector<QParams> qat_params(const Graph& prepared, const ObservedRanges& ranges, std::vector<QParams> fallback);

}  // namespace nimble::quant
