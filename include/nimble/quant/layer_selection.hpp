#pragma once
// Which layers of a quantized model stay in float, decided by measurement:
//   speed     — per layer, its time in int8 (its kernel plus the quantize / dequantize nodes it
//               causes) against its time in float, at batch 1 and at a large batch, on this CPU;
//               a layer slower in int8 at either goes back to float if the whole model then
//               measures faster (its float form moves conversions onto its neighbours); then,
//               while the whole int8 model is slower than the float one at either batch size,
//               the layer whose float form helps most goes back too ("never slower");
//   accuracy  — with a tolerance, each remaining int8 layer's sensitivity (accuracy with only it
//               quantized) is measured and the most sensitive layers go back to float until the
//               whole model is within the tolerance, or everything has been tried.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nimble/quant/quantize.hpp"

namespace nimble::quant {

struct LayerReport {
  std::string name, op;
  bool int8 = true;                                                           // the final choice
  std::string reason;                                                         // why it stays float, when it does
  double float_ms_b1 = 0, int8_ms_b1 = 0, float_ms_big = 0, int8_ms_big = 0;  // per-layer times
  double accuracy_drop_alone = -1;  // points lost with only this layer in int8 (-1: not measured)
};

struct Selection {
  std::set<std::string> keep_float;
  std::vector<LayerReport> layers;
  double float_accuracy = -1, int8_accuracy = -1;  // when an accuracy function was given
  bool tolerance_met = true;
  // Whole-model forward ms of the float and the selected int8 model (speed gate only; 0 when
  // not measured). The gate keeps int8 <= float at both batch sizes unless nothing helps.
  double float_ms_b1 = 0, int8_ms_b1 = 0, float_ms_big = 0, int8_ms_big = 0;
  // The gate's evidence: whole-model comparisons timed in alternation, their rounds in all, and
  // the layers whose comparison was still unstable after the last round (a busy machine).
  int gate_comparisons = 0, gate_rounds = 0;
  std::vector<std::string> gate_unstable;
};

struct SelectionOptions {
  std::set<std::string> keep_float;  // the user's own choices, kept whatever is measured
  bool speed = true;                 // the "never slower" gate
  int64_t big_batch = 256;
  // Accuracy-aware mode: `accuracy` (0..1 on a validation split) and the tolerated drop in
  // points (0..100); off when `accuracy` is empty.
  std::function<double(const Graph&)> accuracy;
  double max_drop_points = 0;
  // Measure every int8 layer's sensitivity even when the whole model is within the tolerance
  // (a report's per-layer table wants it); costs one evaluation per layer.
  bool measure_sensitivity = false;
};

Selection select_layers(const Graph& prepared, const std::vector<QParams>& value_params,
                        const SelectionOptions& options);

}  // namespace nimble::quant
