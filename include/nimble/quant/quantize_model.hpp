#pragma once
// The whole of static post-training quantization in one call: prepare (fold and fuse),
// calibrate, choose the layers that stay float (speed gate, accuracy tolerance), convert.
#include "nimble/quant/layer_selection.hpp"

namespace nimble::quant {

struct QuantizeOptions {
  ObserverKind observer = ObserverKind::minmax;
  SelectionOptions selection;
  int64_t calibration_batch = 64;
};

struct QuantizedModel {
  Graph graph;
  Selection selection;
};

QuantizedModel quantize(const Graph& model, const data::ImageSet& calibration, const data::Normalization& norm,
                        const QuantizeOptions& options = {});

}  // namespace nimble::quant
