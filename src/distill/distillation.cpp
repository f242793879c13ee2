#include "nimble/distill/distillation.hpp"
#include "nimble/dist/communicator.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::distill {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

const Node* find_node(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes())
    if (n.name == name) return &n;
  return nullptr;
}

std::string layer_names(const Graph& g) {
  std::string s;
  for (const Node& n : g.nodes()) {
    if (s.size() > 200) return s + ", ...";
    s += (s.empty() ? "" : ", ") + n.name;
  }
  return s;
}
}  // namespace

Hint parse_hint(const std::string& text) {
  const size_t colon = text.find(':');
  NIMBLE_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < text.size() &&
                   text.find(':', colon + 1) == std::string::npos,
               "--hint expects teacher_layer:student_layer, got '" + text + "'");
  return {text.substr(0, colon), text.substr(colon + 1)};
}

Distillation::Distillation(const Graph& teacher, Precision precision, const data::Normalization& teacher_norm,
                           const data::Normalization& student_norm, const Graph& student, DistillConfig config,
                           int64_t batch)
    : cfg_(std::move(config)) {
  NIMBLE_CHECK(cfg_.temperature > 0, "--temperature must be positive");
  NIMBLE_CHECK(cfg_.alpha >= 0 && cfg_.alpha <= 1, "--alpha must be in [0, 1]");
  NIMBLE_CHECK(cfg_.hint_weight >= 0, "--hint-weight must be non-negative");
  NIMBLE_CHECK(
      teacher.input_shape() == student.input_shape(),
      "the teacher takes " + teacher.input_shape().str() + " but the student takes " + student.input_shape().str());
  NIMBLE_CHECK(teacher.output_shape() == student.output_shape(), "the teacher has " + teacher.output_shape().str() +
                                                                     " outputs but the student has " +
                                                                     student.output_shape().str());
  NIMBLE_CHECK(!cfg_.cache_teacher || cfg_.hints.empty(), "--cache-teacher keeps logits only: it cannot feed --hint");
  // Under mpirun the trainer gives each rank its slice of every batch.
  const int ranks = dist::world().size();
  if (batch % ranks == 0) batch /= ranks;
  // Hints read hidden values by name: the teacher then runs as written (no eval-mode fusion).
  teacher_ = std::make_unique<Session>(teacher, SessionOptions{batch, Mode::eval, cfg_.hints.empty(), precision});
  const Graph& tg = teacher_->graph();
  for (size_t i = 0; i < cfg_.hints.size(); ++i) {
    const Hint& h = cfg_.hints[i];
    const Node* tn = find_node(tg, h.teacher_layer);
    NIMBLE_CHECK(tn, "--hint: the teacher has no layer '" + h.teacher_layer + "' (it has " + layer_names(tg) + ")");
    const Node* sn = find_node(student, h.student_layer);
    NIMBLE_CHECK(sn,
                 "--hint: the student has no layer '" + h.student_layer + "' (it has " + layer_names(student) + ")");
    const Shape& ts = tg.values()[tn->output].shape;
    const Shape& ss = student.values()[sn->output].shape;
    NIMBLE_CHECK(ts.rank() == 4 && ss.rank() == 4 && ts[2] == ss[2] && ts[3] == ss[3],
                 "--hint " + h.teacher_layer + ":" + h.student_layer + ": feature maps " + ts.str() + " and " +
                     ss.str() + " need the same height and width");
    teacher_hint_values_.push_back(tn->output);
    // Training fuses a ReLU into the batch-norm or add before it (passes::fuse_training_activations):
    // then that node's output is the value.
    std::vector<std::string> names = {sn->name};
    const int p = sn->inputs.empty() ? -1 : student.values()[sn->inputs[0]].producer;
    if (p >= 0) {
      const FusionSite site = op_traits(student.nodes()[p].op).fusion_site;
      if ((site == FusionSite::batch_norm || site == FusionSite::add) && op_traits(sn->op).fuses_into(site))
        names.push_back(student.nodes()[p].name);
    }
    student_hint_names_.push_back(names);
    adapters_.push_back(std::make_unique<HintAdapter>(ss[1], ts[1], 1000 + i));
  }
  const Shape in = student.input_shape();
  const int64_t c = in[0];
  scale_.assign(size_t(c), 1.0f);
  shift_.assign(size_t(c), 0.0f);
  for (int64_t k = 0; k < c; ++k) {
    const auto at = [&](const std::vector<float>& v, float fallback) {
      return v.size() == size_t(c) ? v[size_t(k)] : fallback;
    };
    const float ms = at(student_norm.mean, 0), ss = at(student_norm.std, 1), mt = at(teacher_norm.mean, 0),
                st = at(teacher_norm.std, 1);
    scale_[size_t(k)] = ss / st;
    shift_[size_t(k)] = (ms - mt) / st;
    renormalize_ = renormalize_ || scale_[size_t(k)] != 1.0f || shift_[size_t(k)] != 0.0f;
  }
}

Distillation::~Distillation() = default;

void Distillation::set_teacher_identity(std::string form, std::string fingerprint, std::string int8_float_layers) {
  teacher_form_ = std::move(form);
  teacher_fingerprint_ = std::move(fingerprint);
  teacher_float_layers_ = std::move(int8_float_layers);
}

void Distillation::save_state(train::TrainState& st) const {
  st.settings["distill.teacher_form"] = teacher_form_;
  st.settings["distill.teacher_fingerprint"] = teacher_fingerprint_;
  if (teacher_form_ == "int8") st.settings["distill.teacher_int8_float_layers"] = teacher_float_layers_;
  for (size_t i = 0; i < adapters_.size(); ++i)
    for (const auto& [name, t] : adapters_[i]->state())
      st.hook_tensors.emplace_back("distill.hint" + std::to_string(i) + "." + name, t->clone());
}

void Distillation::load_state(const train::TrainState& st) {
  const auto setting = [&](const std::string& key) { return st.setting(key); };
  NIMBLE_CHECK(setting("distill.teacher_fingerprint") == teacher_fingerprint_,
               "the teacher is not the one the checkpoint was trained with (its weights' fingerprint is " +
                   teacher_fingerprint_ + ", the checkpoint's " + setting("distill.teacher_fingerprint") + ")");
  NIMBLE_CHECK(setting("distill.teacher_form") == teacher_form_, "the teacher runs in " + teacher_form_ +
                                                                     " but the checkpoint's run had it in " +
                                                                     setting("distill.teacher_form"));
  NIMBLE_CHECK(setting("distill.teacher_int8_float_layers") == (teacher_form_ == "int8" ? teacher_float_layers_ : ""),
               "the int8 teacher keeps other layers in float than the checkpoint's run did");
  for (size_t i = 0; i < adapters_.size(); ++i)
    for (const auto& [name, t] : adapters_[i]->state()) {
      const std::string key = "distill.hint" + std::to_string(i) + "." + name;
      auto it = std::find_if(st.hook_tensors.begin(), st.hook_tensors.end(),
                             [&](const auto& named) { return named.first == key; });
      NIMBLE_CHECK(it != st.hook_tensors.end() && it->second.shape() == t->shape(),
                   "the checkpoint has no hint adapter state " + key + " of shape " + t->shape().str());
      *t = it->second.clone();
    }
}

void Distillation::cache_logits(const data::ImageSet& train, const data::Normalization& student_norm) {
  NIMBLE_ASSERT(cfg_.hints.empty(), "hints need the teacher's hidden values, which a cache does not keep");
  const int64_t classes = teacher_->graph().output_shape()[0];
  Tensor all(Shape({train.size(), classes}));
  data::BatchLoader loader(train, student_norm, teacher_->batch(), false, false, {}, 0);
  loader.start_epoch(0);
  data::Batch b;
  while (loader.next(b)) {
    const Tensor& y = teacher_logits(b);  // counts into teacher_seconds_
    for (int64_t i = 0; i < b.count; ++i)
      std::memcpy(all.data<float>() + b.indices[size_t(i)] * classes, y.data<float>() + i * classes,
                  size_t(classes) * 4);
  }
  cached_ = all;
}

const Tensor& Distillation::teacher_logits(const data::Batch& batch) {
  const auto t0 = Clock::now();
  const int64_t classes = teacher_->graph().output_shape()[0];
  if (cached_.defined()) {
    if (!batch_logits_.defined() || batch_logits_.shape()[0] != batch.images.shape()[0])
      batch_logits_ = Tensor(Shape({batch.images.shape()[0], classes}));
    for (int64_t i = 0; i < batch.count; ++i)
      std::memcpy(batch_logits_.data<float>() + i * classes, cached_.data<float>() + batch.indices[size_t(i)] * classes,
                  size_t(classes) * 4);
    teacher_seconds_ += since(t0);
    return batch_logits_;
  }
  const Tensor* x = &batch.images;
  if (renormalize_) {
    if (!teacher_in_.defined() || teacher_in_.shape() != batch.images.shape())
      teacher_in_ = Tensor(batch.images.shape());
    const int64_t c = batch.images.shape()[1], per = batch.images.numel() / (batch.images.shape()[0] * c);
    for (int64_t i = 0; i < batch.images.numel(); ++i) {
      const size_t k = size_t((i / per) % c);
      teacher_in_.data<float>()[i] = batch.images.data<float>()[i] * scale_[k] + shift_[k];
    }
    x = &teacher_in_;
  }
  const Tensor& y = teacher_->forward(*x);
  teacher_seconds_ += since(t0);
  return y;
}

void Distillation::on_epoch_end(train::Trainer&, const train::EpochStats& stats) { train_seconds_ += stats.seconds; }

void Distillation::on_loss(Session& session, const data::Batch& batch, const Tensor& logits, Tensor& diff_logits,
                           double& loss, train::ValueGrads& value_grads) {
  if (cfg_.alpha == 0 && cfg_.hints.empty()) return;  // plain training, bit for bit
  NIMBLE_CHECK(batch.images.shape()[0] == teacher_->batch() || cached_.defined(),
               "distillation: the teacher was compiled for batch " + std::to_string(teacher_->batch()));
  const Tensor& t = teacher_logits(batch);
  const int64_t classes = t.shape()[1];
  for (int64_t i = 0; i < batch.count; ++i) {
    const float* row = t.data<float>() + i * classes;
    teacher_correct_ += std::max_element(row, row + classes) - row == batch.labels[size_t(i)];
  }
  teacher_seen_ += batch.count;
  if (cfg_.alpha > 0) {
    // (1 - alpha) * hard + alpha * soft, and the same for the gradient.
    const float hard = 1.0f - cfg_.alpha;
    for (int64_t i = 0; i < diff_logits.numel(); ++i) diff_logits.data<float>()[i] *= hard;
    last_kd_ = kd_loss(logits, t, batch.count, cfg_.temperature, cfg_.alpha, &diff_logits);
    loss = hard * loss + cfg_.alpha * last_kd_;
  }
  if (cfg_.hints.empty()) return;
  const auto t0 = Clock::now();
  if (student_hint_values_.empty()) {  // the trainer's session exists from the first step on
    for (const std::vector<std::string>& names : student_hint_names_) {
      int found = -1;
      for (size_t i = 0; i < names.size() && found < 0; ++i)
        if (const Node* n = find_node(session.graph(), names[i])) found = n->output;
      NIMBLE_CHECK(found >= 0, "--hint: layer '" + names[0] + "' is fused away when training");
      student_hint_values_.push_back(found);
    }
  }
  for (size_t i = 0; i < adapters_.size(); ++i) {
    const Tensor s = session.value(student_hint_values_[i]);
    const Tensor tv = teacher_->value(teacher_hint_values_[i]);
    Tensor ds(s.shape());
    loss += cfg_.hint_weight * adapters_[i]->loss(s, tv, batch.count, cfg_.hint_weight, ds);
    adapters_[i]->step(cfg_.hint_lr);
    value_grads.emplace_back(student_hint_values_[i], std::move(ds));
  }
  hint_seconds_ += since(t0);
}

}  // namespace nimble::distill
