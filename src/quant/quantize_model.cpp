#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/timing.hpp"

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

QuantizedModel quantize_dynamic(const Graph& model, const SelectionOptions& o) {
  constexpr int kIters1 = 30, kItersBig = 5;
  const Graph prepared = prepare(model);
  QuantizedModel q;
  q.selection.keep_float = o.keep_float;
  const Graph all = convert_dynamic(prepared, o.keep_float);
  std::map<std::string, double> f1, fb, q1, qb;
  if (o.speed) {
    f1 = node_times(prepared, 1, kIters1), fb = node_times(prepared, o.big_batch, kItersBig);
    q1 = node_times(all, 1, kIters1), qb = node_times(all, o.big_batch, kItersBig);
  }
  for (const Node& n : prepared.nodes()) {
    if (n.op != OpKind::linear) continue;
    LayerReport r;
    r.name = n.name;
    r.op = op_name(n.op);
    if (o.keep_float.count(n.name)) {
      r.int8 = false, r.reason = "kept in float by request";
    } else if (o.speed) {
      r.float_ms_b1 = f1.at(n.name), r.float_ms_big = fb.at(n.name);
      r.int8_ms_b1 = q1.at(n.name), r.int8_ms_big = qb.at(n.name);
      // Input and output stay f32 either way: a layer's choice does not move costs elsewhere.
      if (r.int8_ms_b1 > r.float_ms_b1 || r.int8_ms_big > r.float_ms_big) {
        r.int8 = false, r.reason = "int8 is slower here";
        q.selection.keep_float.insert(n.name);
      }
    }
    q.selection.layers.push_back(r);
  }
  q.graph = convert_dynamic(prepared, q.selection.keep_float);
  return q;
}

}  // namespace nimble::quant
