// nimble quantize: int8 quantization of a checkpoint (nimble::quantize_model).
#include <memory>
#include <sstream>

#include "cli/common.hpp"
#include "nimble/workflows/quantize.hpp"

namespace nimble::cli {

namespace {

void add_calibration_options(CLI::App* c, QuantizeOptions& o) {
  c->add_option("--calib", o.calib, "calibration samples")->capture_default_str();
  c->add_option_function<std::string>(
       "--observer", parse_field("observer", [&o](const std::string& s) { o.observer = quant::observer_from_name(s); }),
       "minmax | ema-minmax | percentile | entropy | mse")
      ->default_str("minmax");
  c->add_option_function<std::string>(
      "--keep-float",
      [&o](const std::string& list) {
        std::stringstream ss(list);
        for (std::string item; std::getline(ss, item, ',');)
          if (!item.empty()) o.keep_float.push_back(item);
      },
      "comma-separated layer names to leave in float");
  c->add_option_function<double>(
      "--max-drop", [&o](double v) { o.max_drop = v; },
      "accuracy-aware: keep the most sensitive layers in float until the validation top-1 drop is within this many "
      "points");
  c->add_flag("--dynamic", o.dynamic,
              "dynamic quantization: int8 weights for linear layers, activations quantized per batch (no calibration)");
  c->add_flag_function(
      "--no-speed-gate", [&o](int64_t) { o.speed_gate = false; },
      "quantize every layer even where int8 measures slower than float");
}

void add_qat_options(CLI::App* c, QuantizeOptions& o) {
  c->add_option("--qat-epochs", o.qat_epochs,
                "quantization-aware training: fine-tune this many epochs with fake quantization before converting")
      ->capture_default_str();
  c->add_option("--qat-lr", o.qat_lr, "learning rate of quantization-aware training (cosine)")->capture_default_str();
  add_sync_bn_flag(c, o.sync_batch_norm);
  add_precision_option(c, o.precision);
  add_teacher_options(c, o.teacher);
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c =
      app.add_subcommand("quantize", "Quantize a checkpoint to int8 (static, calibrated on training samples)");
  c->add_option("model", o->model, "fp32 checkpoint (.nimble)")->required();
  c->add_option("--out", o->out, "where to write the int8 checkpoint")->required();
  add_data_options(c, o->data, o->data_format, o->skip_bad, o->cache_mb,
                   "calibration from its training split, accuracy on its test split");
  add_calibration_options(c, *o);
  add_qat_options(c, *o);
  c->add_option("--batch", o->batch, "batch size of the throughput measurement")->capture_default_str();
  c->add_option("--iters", o->iters, "timed batch-1 calls per model")->capture_default_str();
  c->add_option("--seed", o->seed, "seed of the calibration subset")->capture_default_str();
  add_force_flag(c, o->force);
  add_output_options(c, *out, false);
  c->callback([o, out] {
    o->progress = !out->json;
    const QuantizeReport r = quantize_model(*o);
    if (out->json) print_json(to_json(r));
  });
}

}  // namespace nimble::cli
