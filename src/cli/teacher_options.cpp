// --teacher on the commands that train: the distillation hook, built once for all of them.
#include <cstdio>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/distill/distillation.hpp"
#include "nimble/distill/teacher.hpp"

namespace nimble::cli {

void add_teacher_options(CLI::App* c, TeacherArgs& t, bool required) {
  CLI::Option* o = c->add_option("--teacher", t.teacher, "distil from this trained model (.nimble)");
  if (required) o->required();
  c->add_option("--temperature", t.temperature, "softmax temperature of the soft targets")->capture_default_str();
  c->add_option("--alpha", t.alpha, "weight of the soft-target loss (the hard-label loss gets 1 - alpha; 0: plain training)")
      ->capture_default_str();
  c->add_option("--hint", t.hints,
                "feature distillation from a teacher layer to a student layer through a learned 1x1 adapter: "
                "teacher_layer:student_layer (repeatable)");
  c->add_option("--hint-weight", t.hint_weight, "weight of each hint loss")->capture_default_str();
  c->add_option("--hint-lr", t.hint_lr, "learning rate of the hint adapters (SGD, momentum 0.9)")->capture_default_str();
  c->add_flag("--cache-teacher", t.cache, "compute the teacher's logits once for all epochs (needs augmentation off)");
  c->add_option("--teacher-precision", t.precision,
                "auto (the fastest of fp32 / bf16 / int8 that keeps the teacher's validation accuracy) | fp32 | bf16 | int8")
      ->capture_default_str();
}

std::shared_ptr<distill::Distillation> make_distillation(const TeacherArgs& t, const Graph& student,
                                                         const data::Normalization& student_norm,
                                                         const data::Split& split, const data::ImageSet& test,
                                                         int64_t batch, bool augmenting, json& report) {
  if (t.teacher.empty()) {
    NIMBLE_CHECK(t.hints.empty() && !t.cache, "--hint and --cache-teacher need --teacher");
    return nullptr;
  }
  NIMBLE_CHECK(t.temperature > 0 && std::isfinite(t.temperature), "--temperature must be positive");
  NIMBLE_CHECK(t.alpha >= 0 && t.alpha <= 1, "--alpha must be in [0, 1]");
  NIMBLE_CHECK(t.hint_weight >= 0 && t.hint_lr > 0, "--hint-weight must be non-negative and --hint-lr positive");
  NIMBLE_CHECK(!t.cache || !augmenting,
               "--cache-teacher needs augmentation off (train / distill: --crop-padding 0 --hflip 0 --erase 0): "
               "augmented images differ every epoch");
  distill::DistillConfig cfg;
  cfg.temperature = float(t.temperature);
  cfg.alpha = float(t.alpha);
  cfg.hint_weight = float(t.hint_weight);
  cfg.hint_lr = float(t.hint_lr);
  cfg.cache_teacher = t.cache;
  for (const std::string& h : t.hints) cfg.hints.push_back(distill::parse_hint(h));

  LoadedModel teacher = load_model(t.teacher);
  const data::Normalization teacher_norm = normalization_of(teacher.extra);
  // Which form of the teacher runs: measured on (up to 2,000) validation samples at the run's batch.
  const data::ImageSet& pool = split.val.size() > 0 ? split.val : split.train;
  const data::ImageSet val = data::take(pool, 2000);
  const data::ImageSet calib = data::split_validation(split.train, std::min<int64_t>(256, split.train.size() - 1), 1).val;
  distill::TeacherChoice choice = distill::choose_teacher_form(teacher.graph, t.precision, val, calib, teacher_norm, batch,
                                                               !cfg.hints.empty());
  std::string line = "teacher " + t.teacher + ": runs in " + choice.form + " (";
  json candidates = json::array();
  for (const distill::TeacherCandidate& c : choice.candidates) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %.2f%% %.2f ms/batch%s", candidates.empty() ? "" : "; ", c.form.c_str(),
                  100 * c.accuracy, c.ms_per_batch, c.note.empty() ? "" : (", " + c.note).c_str());
    line += buf;
    candidates.push_back({{"form", c.form}, {"val_accuracy", c.accuracy}, {"ms_per_batch", c.ms_per_batch},
                          {"chosen", c.chosen}, {"note", c.note}});
  }
  // Built before anything is printed: it rejects hints that name no layer.
  auto hook = std::make_shared<distill::Distillation>(choice.graph, choice.precision, teacher_norm, student_norm, student,
                                                      cfg, batch);
  note(line + ")");
  if (t.cache) {
    hook->cache_logits(split.train, student_norm);
    note("teacher logits cached for " + std::to_string(split.train.size()) + " training samples in " +
         std::to_string(hook->teacher_seconds()) + " s");
  }
  const std::vector<Speed> speeds = measure_speeds({&teacher.graph, &student}, batch, 30);
  const Speed &ts = speeds[0], &ss = speeds[1];
  report["teacher"] = t.teacher;
  report["teacher_test_accuracy"] = train::evaluate(teacher.graph, test, teacher_norm, 500, Precision::fp32).accuracy;
  report["teacher_params"] = teacher.graph.param_count();
  report["student_params"] = student.param_count();
  report["teacher_latency_ms"] = ts.latency_ms;
  report["student_latency_ms"] = ss.latency_ms;
  report["teacher_precision"] = choice.form;
  report["teacher_candidates"] = candidates;
  report["temperature"] = t.temperature;
  report["alpha"] = t.alpha;
  report["hints"] = t.hints;
  return hook;
}

void finish_distillation_report(const distill::Distillation& hook, json& report) {
  report["teacher_seconds"] = hook.teacher_seconds();
  report["teacher_share_of_training_time"] = hook.teacher_share();
  report["hint_seconds"] = hook.hint_seconds();
  report["teacher_train_accuracy"] = hook.teacher_train_accuracy();
  char buf[128];
  std::snprintf(buf, sizeof buf, "teacher: %.1f s, %.1f%% of the training time", hook.teacher_seconds(),
                100 * hook.teacher_share());
  note(buf);
}

}  // namespace nimble::cli
