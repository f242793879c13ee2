#pragma once
// The teacher of a distillation run: a trained model run in eval mode, in the fastest form that
// keeps its accuracy on this CPU (fp32, bf16 or int8, measured), fed the student's batches.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/runtime/precision.hpp"

namespace nimble::distill {

// Which form of the teacher runs: automatic is the fastest of fp32 / bf16 / int8 that keeps its
// validation accuracy on this CPU, measured.
enum class TeacherForm { automatic, fp32, bf16, int8 };
const char* teacher_form_name(TeacherForm form);              // "auto", "fp32", "bf16", "int8"
TeacherForm teacher_form_from_name(const std::string& name);  // throws Error on other names

struct TeacherCandidate {
  std::string form;                // "fp32" | "bf16" | "int8"
  double accuracy = 0;             // on the validation samples given
  double ms_per_batch = 0;         // the least of `timings_ms`
  std::vector<double> timings_ms;  // one per alternating round
  bool chosen = false;
  std::string note;  // why not, when not chosen
};

struct TeacherChoice {
  Graph graph;  // what runs: the teacher, or its int8 conversion
  Precision precision = Precision::fp32;
  std::string form;
  std::vector<TeacherCandidate> candidates;
  bool stable = true;  // the timings agreed and the machine was quiet (decide_by_measurement)
  double others_cpu_share = -1;
  // int8: the layers its speed gate kept in float (timed, so kept with training checkpoints).
  std::set<std::string> int8_float_layers;
};

// Times every form this CPU runs natively at `batch` and measures its accuracy on `val`; keeps the
// fastest whose accuracy is within `max_drop` (a fraction) of fp32's; a form other than
// automatic is forced. int8 is calibrated on `calib`
// and only offered without hints (int8 values cannot feed a hint). `int8_float_layers`, when
// given, replaces the int8 speed gate: exactly those layers stay float (a resumed run's teacher).
TeacherChoice choose_teacher_form(const Graph& teacher, TeacherForm forms, const data::ImageSet& val,
                                  const data::ImageSet& calib, const data::Normalization& norm, int64_t batch,
                                  bool need_float_values, double max_drop = 0.002,
                                  const std::optional<std::set<std::string>>& int8_float_layers = std::nullopt);

}  // namespace nimble::distill
