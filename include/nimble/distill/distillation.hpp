#pragma once
// Knowledge distillation as a trainer hook: every training step runs the teacher on the same
// batch (or reads its cached logits) and mixes Hinton's soft-target loss with the student's
// hard-label loss, plus optional hint losses on hidden layers through learned 1x1 adapters.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nimble/distill/losses.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::distill {

struct Hint {
  std::string teacher_layer, student_layer;  // node names (`nimble info`)
};

struct DistillConfig {
  float temperature = 4.0f;
  float alpha = 0.9f;  // weight of the soft loss; the hard loss gets 1 - alpha
  std::vector<Hint> hints;
  float hint_weight = 1.0f;
  float hint_lr = 0.01f;       // the adapters' SGD learning rate
  bool cache_teacher = false;  // logits computed once per training sample (augmentation must be off)
};

// Parses "teacher_layer:student_layer"; throws Error otherwise.
Hint parse_hint(const std::string& text);

class Distillation : public train::TrainerHook {
 public:
  // `teacher` runs in `precision`; its inputs are the student's batches re-normalised from
  // `student_norm` to `teacher_norm`. Throws Error for hint layers neither model has.
  Distillation(const Graph& teacher, Precision precision, const data::Normalization& teacher_norm,
               const data::Normalization& student_norm, const Graph& student, DistillConfig config, int64_t batch);
  ~Distillation() override;

  // --cache-teacher: the teacher's logits for every sample of `train` (the set passed to fit(),
  // normalised as the student's batches are), so later steps only copy them.
  void cache_logits(const data::ImageSet& train, const data::Normalization& student_norm);

  void on_loss(Session& session, const data::Batch& batch, const Tensor& logits, Tensor& diff_logits, double& loss,
               train::ValueGrads& value_grads) override;
  void on_epoch_end(train::Trainer&, const train::EpochStats& stats) override;
  // Which teacher this is ("int8", and its weights' fingerprint), kept in training checkpoints: a
  // resumed run refuses another teacher or another form of it. Set by whoever loaded the teacher.
  // `int8_float_layers`: for int8, the layers its speed gate kept in float, comma-separated.
  void set_teacher_identity(std::string form, std::string fingerprint, std::string int8_float_layers);
  // The identity above and the hint adapters' training state.
  void save_state(train::TrainState& st) const override;
  void load_state(const train::TrainState& st) override;

  // Seconds spent in the teacher (forward or cache reads) and in the hint adapters, over the run.
  double teacher_seconds() const { return teacher_seconds_; }
  double hint_seconds() const { return hint_seconds_; }
  // The teacher's share of the training time of the epochs so far.
  double teacher_share() const { return train_seconds_ > 0 ? teacher_seconds_ / train_seconds_ : 0.0; }
  double last_kd_loss() const { return last_kd_; }
  // How often the teacher's arg-max matched the label on the (augmented) training batches: a
  // check that the teacher sees what the student sees.
  double teacher_train_accuracy() const {
    return teacher_seen_ ? double(teacher_correct_) / double(teacher_seen_) : 0.0;
  }

 private:
  const Tensor& teacher_logits(const data::Batch& batch);
  DistillConfig cfg_;
  std::unique_ptr<Session> teacher_;
  std::vector<float> scale_, shift_;  // per channel: teacher input = student input * scale + shift
  bool renormalize_ = false;
  Tensor teacher_in_, cached_, batch_logits_;
  std::vector<int> teacher_hint_values_;                      // value ids in the teacher session's graph
  std::vector<std::vector<std::string>> student_hint_names_;  // per hint: the layer, or what it fuses into
  std::vector<int> student_hint_values_;  // resolved against the trainer's session at the first step
  std::vector<std::unique_ptr<HintAdapter>> adapters_;
  double teacher_seconds_ = 0, hint_seconds_ = 0, train_seconds_ = 0, last_kd_ = 0;
  int64_t teacher_correct_ = 0, teacher_seen_ = 0;
  uint64_t seed_ = 0;
  std::string teacher_form_, teacher_fingerprint_, teacher_float_layers_;
};

}  // namespace nimble::distill
