// nimble train / nimble distill: train a zoo model (or a saved student) on a data set, optionally
// from a teacher, pruning as it goes or ending with quantization-aware training
// (nimble::train_model).
#include <memory>

#include "cli/common.hpp"
#include "nimble/workflows/train.hpp"

namespace nimble::cli {

namespace {

void add_model_options(CLI::App* c, TrainOptions& o, bool distill) {
  if (distill)
    c->add_option("--student", o.model,
                  "the student: a zoo model (cnn | resnet | mobilenet_v1 | mobilenet_v2) or a model "
                  "(.nimble, .onnx) to continue from")
        ->default_str("mobilenet_v2");
  else
    c->add_option("--model", o.model,
                  "cnn | resnet | mobilenet_v1 | mobilenet_v2, or a model (.nimble, .onnx) to fine-tune")
        ->capture_default_str();
  add_data_options(c, o.data, o.data_format, o.skip_bad, o.cache_mb,
                   "training and validation from its training split, accuracy on its test split");
  c->add_option_function<std::string>("--input",
                                      parse_field("input", [&o](const std::string& s) { o.input = Shape::parse(s); }),
                                      "model input CxHxW (default: the data's sample shape); images of another size "
                                      "or channel count are fitted to it");
  c->add_option("--fit", o.fit,
                "how images of another size are fitted: crop (resize the shorter side, crop the centre) or stretch "
                "(kept in the model)")
      ->capture_default_str()
      ->check(CLI::IsMember({"crop", "stretch"}));
  c->add_option_function<std::string>(
      "--mean", [&o](const std::string& s) { o.mean = parse_floats("--mean", s); },
      "per-channel mean of pixels scaled to [0, 1], e.g. 0.485,0.456,0.406 (default: the training split's; a model "
      "fine-tuned keeps its own)");
  c->add_option_function<std::string>(
      "--std", [&o](const std::string& s) { o.std = parse_floats("--std", s); },
      "per-channel std, e.g. 0.229,0.224,0.225 (with --mean)");
  c->add_option("--width", o.width, "channel width multiplier")->capture_default_str();
  c->add_option("--depth", o.depth,
                "resnet depth: 6n+2 (CIFAR layout; default 20 below 64 px) or 18 / 34 (ImageNet "
                "layout; default 18 from 64 px on)");
  c->add_option("--dropout", o.dropout, "dropout before the classifier (mobilenets)")->capture_default_str();
}

void add_optimizer_options(CLI::App* c, TrainOptions& o) {
  c->add_option_function<int64_t>(
       "--epochs", [&o](int64_t v) { o.epochs = v; }, "epochs (default per model: cnn 10, others 30)")
      ->check(positive_number());
  c->add_option_function<int64_t>(
      "--batch", [&o](int64_t v) { o.batch = v; },
      "batch size (default 128, smaller for a training split under 512 images, with the learning rate scaled to it)");
  c->add_option_function<double>(
       "--lr", [&o](double v) { o.lr = v; },
       "peak learning rate (default per model: cnn 0.05, resnet 0.1, mobilenets 0.05)")
      ->check(positive_number());
  c->add_option("--optimizer", o.optimizer, "sgd | adamw")->capture_default_str();
  c->add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  c->add_flag_function(
      "--no-nesterov", [&o](int64_t) { o.nesterov = false; }, "plain momentum instead of Nesterov");
  c->add_option("--weight-decay", o.weight_decay, "weight decay")->capture_default_str();
  c->add_option("--schedule", o.schedule, "cosine | step | constant")->capture_default_str();
  c->add_option("--warmup-epochs", o.warmup_epochs, "linear warm-up length in epochs")->capture_default_str();
  c->add_option("--step-epochs", o.step_epochs, "step schedule: decay by 10x every N epochs");
  c->add_option("--clip-grad", o.clip_grad, "clip the global gradient norm (0: off)")->capture_default_str();
  add_sync_bn_flag(c, o.sync_batch_norm);
  c->add_option_function<double>(
       "--label-smoothing", [&o](double v) { o.label_smoothing = v; }, "label smoothing (default per model)")
      ->check(CLI::Range(0.0, 0.99));
  add_precision_option(c, o.precision);
}

void add_data_options(CLI::App* c, TrainOptions& o) {
  c->add_option_function<int64_t>(
       "--crop-padding", [&o](int64_t v) { o.crop_padding = v; },
       "random-crop padding in pixels (default per model: cnn 0, others 2)")
      ->check(CLI::Range(0, 64));
  c->add_option_function<int>(
       "--hflip", [&o](int v) { o.hflip = v != 0; }, "random horizontal flip 0/1 (default 1)")
      ->check(CLI::Range(0, 1));
  c->add_option("--erase", o.erase, "random-erasing probability")->capture_default_str();
  c->add_option_function<double>(
      "--crop-scale", [&o](double v) { o.crop_scale = v; },
      "random resized crop: minimum area fraction, 0 off (replaces --crop-padding)");
  c->add_option("--jitter", o.jitter, "colour jitter strength: brightness, contrast, saturation factors in [1-J, 1+J]")
      ->capture_default_str();
  c->add_option_function<int64_t>(
       "--val", [&o](int64_t v) { o.val = v; },
       "training samples held out for validation (default: the data's val/ split, else a tenth, at most 5000)")
      ->check(non_negative_number());
  c->add_option("--limit", o.limit, "use only the first N training samples (0: all)")->check(non_negative_number());
  c->add_option("--seed", o.seed, "seed for initialisation, shuffling, augmentation")->capture_default_str();
  c->add_option("--out", o.out, "checkpoint path (default MODEL.nimble)");
}

void add_compression_options(CLI::App* c, TrainOptions& o) {
  c->add_option("--prune", o.prune,
                "prune while training: magnitude:S[:global|layer], channel:R[:l1|l2|bn] or nm:N:M (sparsity rises on "
                "the cubic schedule; channel pruning saves the physically smaller model)");
  c->add_option("--prune-ramp", o.prune_ramp, "fraction of the training steps over which sparsity rises to the target")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  c->add_flag("--qat", o.qat,
              "end with quantization-aware training: --qat-epochs of fine-tuning with fake quantization, then the int8 "
              "model is written to --qat-out (as nimble quantize --qat-epochs would)");
  c->add_option_function<int64_t>(
       "--qat-epochs", [&o](int64_t v) { o.qat_epochs = v; },
       "epochs of quantization-aware fine-tuning after the float epochs")
      ->default_str("2");
  c->add_option_function<double>(
       "--qat-lr", [&o](double v) { o.qat_lr = v; }, "learning rate of quantization-aware fine-tuning (cosine)")
      ->default_str("0.001");
  c->add_option("--qat-out", o.qat_out, "where --qat writes the int8 model (default OUT-int8.nimble)");
}

// The options of `train`; `distill` has the same with --student for --model and a required --teacher.
void add_train_command(CLI::App* c, const std::shared_ptr<TrainOptions>& o, bool distill) {
  auto out = std::make_shared<Output>();
  add_model_options(c, *o, distill);
  add_optimizer_options(c, *o);
  add_data_options(c, *o);
  add_compression_options(c, *o);
  add_force_flag(c, o->force);
  add_output_options(c, *out, true);
  c->add_option("--resume", o->resume,
                "continue the run saved in this checkpoint (its settings and teacher; --epochs may raise the total)");
  add_teacher_options(c, o->teacher);
  c->callback([o, out, distill] {
    if (distill && o->resume.empty() && o->teacher.teacher.empty())
      throw OptionError("teacher.teacher", "is required (the trained model to distil from)");
    if (distill && o->model.empty()) o->model = o->resume.empty() ? "mobilenet_v2" : TrainOptions{}.model;
    o->progress = !out->quiet;
    const TrainReport r = train_model(*o);
    if (out->json) print_json(to_json(r));
  });
}

}  // namespace

void add_train(CLI::App& app) {
  add_train_command(app.add_subcommand("train", "Train a zoo model on an IDX data set (default: Fashion-MNIST)"),
                    std::make_shared<TrainOptions>(), false);
}

void add_distill(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  o->model.clear();  // --student's default, mobilenet_v2, is set unless resuming
  add_train_command(
      app.add_subcommand("distill", "Train a small student from a trained teacher (knowledge distillation)"), o, true);
}

}  // namespace nimble::cli
