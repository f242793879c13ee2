#include "nimble/distill/teacher.hpp"

#include <algorithm>

#include "nimble/core/error.hpp"
#include "nimble/quant/quantize_model.hpp"
#include "nimble/runtime/choose_by_measurement.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::distill {

const char* teacher_form_name(TeacherForm form) {
  switch (form) {
    case TeacherForm::automatic:
      return "auto";
    case TeacherForm::fp32:
      return "fp32";
    case TeacherForm::bf16:
      return "bf16";
    case TeacherForm::int8:
      return "int8";
  }
  return "?";
}

TeacherForm teacher_form_from_name(const std::string& name) {
  for (TeacherForm f : {TeacherForm::automatic, TeacherForm::fp32, TeacherForm::bf16, TeacherForm::int8})
    if (name == teacher_form_name(f)) return f;
  throw Error("unknown teacher precision '" + name + "' (expected auto, fp32, bf16 or int8)");
}

TeacherChoice choose_teacher_form(const Graph& teacher, TeacherForm forms, const data::ImageSet& val,
                                  const data::ImageSet& calib, const data::Normalization& norm, int64_t batch,
                                  bool need_float_values, double max_drop,
                                  const std::optional<std::set<std::string>>& int8_float_layers) {
  const bool any = forms == TeacherForm::automatic;
  NIMBLE_CHECK(!(forms == TeacherForm::int8 && need_float_values),
               "an int8 teacher cannot feed --hint (its values are int8)");
  NIMBLE_CHECK(!teacher.meta.count("quantized") || !need_float_values, "an int8 teacher cannot feed --hint");
  NIMBLE_CHECK(val.size() > 0, "choosing the teacher's precision needs validation samples");
  TeacherChoice out;
  struct Form {
    std::string name;
    Graph graph;
    Precision precision;
    std::set<std::string> float_layers;
  };
  std::vector<Form> tried;
  const bool already_int8 = teacher.meta.count("quantized") > 0;
  if (already_int8) {
    tried.push_back({"int8", teacher.clone(), Precision::fp32, {}});
  } else {
    if (any || forms == TeacherForm::fp32) tried.push_back({"fp32", teacher.clone(), Precision::fp32, {}});
    if ((any && precision_support(Precision::bf16).native) || forms == TeacherForm::bf16)
      tried.push_back({"bf16", teacher.clone(), Precision::bf16, {}});
    if ((any && !need_float_values) || forms == TeacherForm::int8) {
      quant::QuantizeOptions qo;
      qo.selection.big_batch = batch;
      if (int8_float_layers) qo.selection.speed = false, qo.selection.keep_float = *int8_float_layers;
      quant::QuantizedModel q = quant::quantize(teacher, calib, norm, qo);
      tried.push_back({"int8", std::move(q.graph), Precision::fp32, q.selection.keep_float});
    }
  }
  // Accuracy first (the fp32 form, first in the list, is the reference), then the fastest form
  // that keeps it.
  std::vector<MeasuredCandidate> measured;
  double reference = -1;
  for (const Form& f : tried) {
    TeacherCandidate c;
    c.form = f.name;
    c.accuracy = train::evaluate(f.graph, val, norm, 500, f.precision).accuracy;
    if (c.form == "fp32") reference = c.accuracy;
    if (reference >= 0 && c.accuracy < reference - max_drop) c.note = "loses accuracy";
    out.candidates.push_back(c);
    measured.push_back({f.name,
                        [&, &f = f] {
                          Session s(f.graph, {batch, Mode::eval, !need_float_values, f.precision});
                          return percentile(time_forward(s, random_batch(teacher.input_shape(), batch, 3), 2, 7), 0.5);
                        },
                        c.note, 0});
  }
  const MeasuredDecision decision = decide_by_measurement(measured, 0.0);
  const size_t best = decision.chosen;
  out.stable = decision.stable;
  out.others_cpu_share = decision.others_cpu_share;
  for (size_t i = 0; i < out.candidates.size(); ++i) {
    out.candidates[i].ms_per_batch = measured[i].ms;
    out.candidates[i].timings_ms = measured[i].samples;
    if (i != best && out.candidates[i].note.empty()) out.candidates[i].note = "slower";
  }
  out.candidates[best].chosen = true;
  out.form = tried[best].name;
  out.precision = tried[best].precision;
  out.graph = std::move(tried[best].graph);
  out.int8_float_layers = std::move(tried[best].float_layers);
  return out;
}

}  // namespace nimble::distill
