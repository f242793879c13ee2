// The distillation hook every training workflow can add: the teacher loaded as a Model, run in
// its fastest accurate form, and its cost reported.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <optional>
#include <set>
#include <sstream>

#include "nimble/core/error.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/distill/teacher.hpp"
#include "nimble/runtime/choose_by_measurement.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

const char* TeacherOptions::customized_field() const {
  const TeacherOptions d;
  if (form != d.form) return "teacher.form";
  if (temperature != d.temperature) return "teacher.temperature";
  if (alpha != d.alpha) return "teacher.alpha";
  if (hints != d.hints) return "teacher.hints";
  if (hint_weight != d.hint_weight) return "teacher.hint_weight";
  if (hint_lr != d.hint_lr) return "teacher.hint_lr";
  if (cache != d.cache) return "teacher.cache";
  return nullptr;
}

void TeacherOptions::validate() const {
  if (teacher.empty()) {
    if (const char* f = customized_field()) throw OptionError(f, "needs a {teacher.teacher}");
    return;
  }
  if (!(temperature > 0 && std::isfinite(temperature))) throw OptionError("teacher.temperature", "must be positive");
  if (!(alpha >= 0 && alpha <= 1)) throw OptionError("teacher.alpha", "must be in [0, 1]");
  if (!(hint_weight >= 0)) throw OptionError("teacher.hint_weight", "must be non-negative");
  if (!(hint_lr > 0)) throw OptionError("teacher.hint_lr", "must be positive");
  for (const std::string& h : hints) distill::parse_hint(h);
}

namespace workflow {
namespace {
std::string join_layers(const std::set<std::string>& names) {
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ",") + n;
  return text;
}
}  // namespace

std::shared_ptr<distill::Distillation> make_distillation(const TeacherOptions& t, const Graph& student,
                                                         const data::Normalization& student_norm,
                                                         const data::Split& split, const data::ImageSet& test,
                                                         int64_t batch, bool augmenting, const Log& log,
                                                         DistillReport& report) {
  if (t.teacher.empty()) return nullptr;
  t.validate();
  if (t.cache && augmenting)
    throw OptionError(
        "teacher.cache",
        "needs augmentation off ({crop_padding} 0, {crop_scale} 0, {hflip} 0, {erase} 0, {jitter} 0): augmented "
        "images differ every epoch");
  distill::DistillConfig cfg;
  cfg.temperature = float(t.temperature);
  cfg.alpha = float(t.alpha);
  cfg.hint_weight = float(t.hint_weight);
  cfg.hint_lr = float(t.hint_lr);
  cfg.cache_teacher = t.cache;
  for (const std::string& h : t.hints) cfg.hints.push_back(distill::parse_hint(h));

  const Model teacher = Model::load(t.teacher);
  const data::Normalization& teacher_norm = teacher.preprocessing.normalization;
  if (teacher.provenance.recipe && teacher.provenance.recipe->label_smoothing > 0) {
    report.teacher_label_smoothing = true;
    say(log, "note: teacher " + t.teacher + " was trained with label smoothing " +
                 std::to_string(teacher.provenance.recipe->label_smoothing) +
                 "; its soft targets carry little beyond the smoothing (a teacher trained with --label-smoothing 0 "
                 "teaches better)");
  }
  // Which form of the teacher runs: measured on (up to 2,000) validation samples at the run's batch.
  const data::ImageSet& pool = split.val.size() > 0 ? split.val : split.train;
  const data::ImageSet val = data::take(pool, 2000);
  const data::ImageSet calib =
      data::split_validation(split.train, std::min<int64_t>(256, split.train.size() - 1), 1).val;
  distill::TeacherChoice choice = distill::choose_teacher_form(teacher.graph, t.form, val, calib, teacher_norm, batch,
                                                               !cfg.hints.empty(), 0.002, t.int8_float_layers);
  std::string line = "teacher " + t.teacher + ": runs in " + choice.form + " (";
  for (const distill::TeacherCandidate& c : choice.candidates) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %.2f%% %.2f ms/batch%s", report.teacher_candidates.empty() ? "" : "; ",
                  c.form.c_str(), 100 * c.accuracy, c.ms_per_batch, c.note.empty() ? "" : (", " + c.note).c_str());
    line += buf;
    report.teacher_candidates.push_back({c.form, c.accuracy, c.ms_per_batch, c.timings_ms, c.chosen, c.note});
  }
  // Built before anything else is logged: it rejects hints that name no layer.
  auto hook = std::make_shared<distill::Distillation>(choice.graph, choice.precision, teacher_norm, student_norm,
                                                      student, cfg, batch);
  hook->set_teacher_identity(choice.form, teacher.weights_fingerprint(), join_layers(choice.int8_float_layers));
  // A form the user gave was not chosen by timing: no caveat about the timing's reliability.
  const bool timed = t.form == distill::TeacherForm::automatic;
  say(log, line + (timed ? decision_caveat(choice.stable, choice.others_cpu_share, "--teacher-precision") : "") + ")");
  if (t.cache) {
    hook->cache_logits(split.train, student_norm);
    say(log, "teacher logits cached for " + std::to_string(split.train.size()) + " training samples in " +
                 std::to_string(hook->teacher_seconds()) + " s");
  }
  const std::vector<Speed> speeds = measure_speeds({&teacher.graph, &student}, batch, 30);
  report.teacher = t.teacher;
  report.teacher_test_accuracy = train::evaluate(teacher.graph, test, teacher_norm, 500, Precision::fp32).accuracy;
  report.teacher_params = teacher.graph.param_count();
  report.student_params = student.param_count();
  report.teacher_latency_ms = speeds[0].latency_ms;
  report.student_latency_ms = speeds[1].latency_ms;
  report.teacher_precision = choice.form;
  report.teacher_form_stable = choice.stable;
  report.teacher_form_others_cpu_share = choice.others_cpu_share;
  report.temperature = t.temperature;
  report.alpha = t.alpha;
  report.hints = t.hints;
  return hook;
}

void resume_teacher(TeacherOptions& t, const train::TrainState& state) {
  if (const std::string form = state.setting("distill.teacher_form"); !form.empty())
    t.form = distill::teacher_form_from_name(form);
  if (t.form == distill::TeacherForm::int8 && state.settings.count("distill.teacher_int8_float_layers")) {
    std::set<std::string> names;
    std::istringstream in(state.setting("distill.teacher_int8_float_layers"));
    for (std::string name; std::getline(in, name, ',');)
      if (!name.empty()) names.insert(name);
    t.int8_float_layers = names;
  }
}

void finish_distillation(const distill::Distillation& hook, const Log& log, DistillReport& report) {
  report.teacher_seconds = hook.teacher_seconds();
  report.teacher_share_of_training_time = hook.teacher_share();
  report.hint_seconds = hook.hint_seconds();
  report.teacher_train_accuracy = hook.teacher_train_accuracy();
  char buf[128];
  std::snprintf(buf, sizeof buf, "teacher: %.1f s, %.1f%% of the training time", hook.teacher_seconds(),
                100 * hook.teacher_share());
  say(log, buf);
}

}  // namespace workflow
}  // namespace nimble
