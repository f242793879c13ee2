#include "workflows/report_json.hpp"

namespace nimble::workflow {

json precision_json(const PrecisionChoice& c) {
  json j = {
      {"precision", precision_name(c.precision)}, {"precision_emulated", c.emulated}, {"precision_reason", c.reason}};
  if (!c.timings.empty()) {
    for (const auto& [name, ms] : c.timings) j["precision_timings_ms"][name] = ms;
    j["precision_decision_stable"] = c.stable;
    j["precision_others_cpu_share"] = c.others_cpu_share;
  }
  return j;
}

json distill_json(const DistillReport& r) {
  json candidates = json::array();
  for (const TeacherCandidateReport& c : r.teacher_candidates)
    candidates.push_back({{"form", c.form},
                          {"val_accuracy", c.val_accuracy},
                          {"ms_per_batch", c.ms_per_batch},
                          {"timings_ms", c.timings_ms},
                          {"chosen", c.chosen},
                          {"note", c.note}});
  return {{"teacher", r.teacher},
          {"teacher_test_accuracy", r.teacher_test_accuracy},
          {"teacher_params", r.teacher_params},
          {"student_params", r.student_params},
          {"teacher_latency_ms", r.teacher_latency_ms},
          {"student_latency_ms", r.student_latency_ms},
          {"teacher_precision", r.teacher_precision},
          {"teacher_candidates", candidates},
          {"teacher_form_stable", r.teacher_form_stable},
          {"teacher_form_others_cpu_share", r.teacher_form_others_cpu_share},
          {"temperature", r.temperature},
          {"alpha", r.alpha},
          {"hints", r.hints},
          {"teacher_seconds", r.teacher_seconds},
          {"teacher_share_of_training_time", r.teacher_share_of_training_time},
          {"hint_seconds", r.hint_seconds},
          {"teacher_train_accuracy", r.teacher_train_accuracy},
          {"teacher_label_smoothing", r.teacher_label_smoothing}};
}

}  // namespace nimble::workflow
