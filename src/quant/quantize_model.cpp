#include "nimble/quant/quantize_model.hpp"

#include "nimble/quant/qat.hpp"

namespace nimble::quant {

QuantizedModel quantize(const Graph& model, const data::ImageSet& calibration, const data::Normalization& norm,
                        const QuantizeOptions& o) {
  const Graph prepared = prepare(model);
  const std::vector<QParams> params = calibrate(prepared, calibration, norm, o.observer, o.calibration_batch).params();
  QuantizedModel q;
  q.selection = select_layers(prepared, params, o.selection);
  if (!o.fine_tune) {
    q.graph = convert(prepared, params, {q.selection.keep_float});
    return q;
  }
  Graph trained = insert_fake_quant(model, prepared, params, q.selection.keep_float);
  o.fine_tune(trained);
  ObservedRanges ranges;
  const Graph tuned = prepare(strip_fake_quant(trained, ranges));
  // Values no fake_quant observed (between float layers) keep a fresh calibration.
  const std::vector<QParams> fallback = calibrate(tuned, calibration, norm, o.observer, o.calibration_batch).params();
  q.graph = convert(tuned, qat_params(tuned, ranges, fallback), {q.selection.keep_float});
  return q;
}

}  // namespace nimble::quant
