#pragma once
// Knowledge distillation as a part of every workflow that trains (train, prune's fine-tuning,
// quantize's QAT): the teacher, its loss settings, and what it cost.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nimble/distill/teacher.hpp"

namespace nimble {

struct TeacherOptions {
  std::string teacher;  // a .nimble file; empty: no distillation
  distill::TeacherForm form = distill::TeacherForm::automatic;
  double temperature = 4.0, alpha = 0.9;
  std::vector<std::string> hints;  // "teacher_layer:student_layer" feature losses
  double hint_weight = 1.0, hint_lr = 0.01;
  bool cache = false;  // compute the teacher's logits once (augmentation must be off)
  // A resumed run's teacher: the int8 form with exactly these layers in float, as the interrupted
  // run's speed gate left it (not an option users set).
  std::optional<std::set<std::string>> int8_float_layers;
  // The first loss setting that differs from its default ("teacher.alpha", ...), else null: such
  // settings need a teacher.
  const char* customized_field() const;
  // Throws OptionError naming "teacher.<field>".
  void validate() const;
};

struct TeacherCandidateReport {
  std::string form;
  double val_accuracy = 0, ms_per_batch = 0;
  std::vector<double> timings_ms;  // every alternating round's
  bool chosen = false;
  std::string note;
};

struct DistillReport {
  std::string teacher;
  double teacher_test_accuracy = 0;
  int64_t teacher_params = 0, student_params = 0;
  double teacher_latency_ms = 0, student_latency_ms = 0;
  std::string teacher_precision;  // the form that ran
  std::vector<TeacherCandidateReport> teacher_candidates;
  bool teacher_form_stable = true;            // the candidates' timings agreed (a quiet enough machine)
  double teacher_form_others_cpu_share = -1;  // of the CPU while timing, other processes' (-1: unknown)
  double temperature = 0, alpha = 0;
  std::vector<std::string> hints;
  double teacher_seconds = 0, teacher_share_of_training_time = 0, hint_seconds = 0, teacher_train_accuracy = 0;
  // The teacher's checkpoint records label smoothing: such a teacher's soft targets carry little.
  bool teacher_label_smoothing = false;
};

}  // namespace nimble
