#pragma once
// int8 quantization of a saved float model: calibrated (static) or per batch (dynamic), each layer
// kept in float where int8 measures slower or loses too much accuracy, optionally after
// quantization-aware fine-tuning; both models evaluated and timed side by side.
#include <optional>
#include <string>
#include <vector>

#include "nimble/quant/observer.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"
#include "nimble/workflows/teacher.hpp"

namespace nimble {

struct QuantizeOptions {
  std::string model, out;  // the float .nimble file; where the int8 one is written
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";  // auto | idx | folder | cifar | numpy (data::load_data)
  bool skip_bad = false;             // skip unreadable images instead of stopping
  int64_t cache_mb = 0;  // memory for decoded images, MB (0: half of RAM); beyond it they are decoded each epoch
  quant::ObserverKind observer = quant::ObserverKind::minmax;
  int64_t calib = 512;                  // calibration samples from the training split
  std::vector<std::string> keep_float;  // layers left in float whatever is measured
  // Accuracy-aware: keep the most sensitive layers in float until the validation top-1 drop is
  // within this many points.
  std::optional<double> max_drop;
  bool measure_sensitivity = false;  // with max_drop: every int8 layer's drop alone, in the layer table
  int64_t qat_epochs = 0;            // quantization-aware fine-tuning before converting
  double qat_lr = 0.001;
  bool sync_batch_norm = false;                // of quantization-aware training under mpirun (train::TrainConfig)
  bool force = false;                          // write {out} even when it is one of the inputs
  Precision precision = Precision::automatic;  // of quantization-aware training
  bool dynamic = false;                        // int8 weights for linear layers, activations quantized per batch
  bool speed_gate = true;                      // keep layers in float where int8 measures slower
  int64_t batch = 256, iters = 50;
  uint64_t seed = 0;
  TeacherOptions teacher;  // distillation during quantization-aware training
  bool progress = true;
  Log log = log_to_stderr;
  void validate() const;
};

struct QuantizeLayerReport {
  std::string name, op;
  bool int8 = true;
  std::string reason;
  double float_ms_b1 = 0, int8_ms_b1 = 0, float_ms_big = 0, int8_ms_big = 0;
  std::optional<double> accuracy_drop_alone;
};

struct QuantizeReport {
  double peak_memory_mib = 0;  // the process's peak resident memory when the run ended
  std::string model, checkpoint;
  std::string mode, observer;
  int64_t calibration_samples = 0, qat_epochs = 0;
  double test_accuracy_fp32 = 0, test_accuracy_int8 = 0;
  double latency_ms_fp32 = 0, latency_ms_int8 = 0;
  int64_t batch = 0;
  double throughput_fp32 = 0, throughput_int8 = 0;
  int64_t size_bytes_fp32 = 0, size_bytes_int8 = 0;
  std::vector<std::string> layers_kept_float;
  std::vector<QuantizeLayerReport> layers;
  std::optional<double> val_accuracy_fp32, val_accuracy_int8;
  bool tolerance_met = true;
  double gate_float_ms_b1 = 0, gate_int8_ms_b1 = 0, gate_float_ms_big = 0, gate_int8_ms_big = 0;
  // Its whole-model comparisons (timed in alternation), their rounds, and the layers whose
  // comparison stayed unstable (quant::Selection).
  int gate_comparisons = 0, gate_rounds = 0;
  std::vector<std::string> gate_unstable;
  std::optional<PrecisionChoice> qat_precision;
  std::optional<DistillReport> distillation;
};

QuantizeReport quantize_model(const QuantizeOptions& options);
std::string to_json(const QuantizeReport& report);  // `nimble quantize --json`
// The per-layer table (precision, float / int8 times, why float) as text lines.
std::string layer_table(const QuantizeReport& report);

}  // namespace nimble
