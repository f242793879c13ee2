#include "nimble/quant/quantize_model.hpp"

namespace nimble::quant {

QuantizedModel quantize(const Graph& model, const data::ImageSet& calibration, const data::Normalization& norm,
                        const QuantizeOptions& o) {
  const Graph prepared = prepare(model);
  const std::vector<QParams> params = calibrate(prepared, calibration, norm, o.observer, o.calibration_batch).params();
  QuantizedModel q;
  q.selection = select_layers(prepared, params, o.selection);
  q.graph = convert(prepared, params, {q.selection.keep_float});
  return q;
}

}  // namespace nimble::quant
