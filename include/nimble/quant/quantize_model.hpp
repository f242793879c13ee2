#pragma once
// The whole of int8 quantization in one call: prepare (fold and fuse), calibrate, choose the
// layers that stay float (speed gate, accuracy tolerance), optionally fine-tune with fake
// quantization, convert.
#include <functional>

#include "nimble/quant/layer_selection.hpp"

namespace nimble::quant {

struct QuantizeOptions {
  ObserverKind observer = ObserverKind::minmax;
  SelectionOptions selection;
  int64_t calibration_batch = 64;
  // Quantization-aware training: when set, the model with fake quantization inserted
  // (quant/qat.hpp) is handed to this to be fine-tuned (normally a train::Trainer), and the int8
  // model is converted with the weights and ranges it ends with.
  std::function<void(Graph&)> fine_tune;
};

struct QuantizedModel {
  Graph graph;
  Selection selection;
};

QuantizedModel quantize(const Graph& model, const data::ImageSet& calibration, const data::Normalization& norm,
                        const QuantizeOptions& options = {});

// Dynamic quantization (convert_dynamic) with the same per-layer speed gate: a linear layer
// stays float where its dqlinear form measures slower at batch 1 or the big batch. Accuracy
// options are not used (nothing is calibrated).
QuantizedModel quantize_dynamic(const Graph& model, const SelectionOptions& options = {});

}  // namespace nimble::quant
