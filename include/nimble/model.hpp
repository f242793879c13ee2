#pragma once
// A Model: a Graph plus what is needed to use it — its preprocessing, class names and typed
// provenance (how it was trained, what was measured, what pruning / quantization / distillation
// did to it). Loaded from and saved to `.nimble` files (io/checkpoint.hpp holds the format); no
// caller reads the file's metadata JSON itself.
//
// Thread safety: a Model is a value. A const Model may be shared by any number of threads (each
// with its own Session). Copying a Model shares its parameters; clone() copies them.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nimble/core/tensor.hpp"
#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/train/train_state.hpp"

namespace nimble {

// The channel order a 3-channel model expects; a grey model has one channel. Pixels given to
// preprocess / Session::run, and images read from data sets, are RGB: a BGR model gets them swapped.
enum class ChannelOrder { rgb, bgr };
const char* channel_order_name(ChannelOrder order);
ChannelOrder channel_order_from_name(const std::string& name);  // throws Error on other names

// How raw 8-bit pixels become the model's input: x = (pixel / pixel_max - mean[c]) / std[c], as
// the training data loader computes it (data::BatchLoader).
struct Preprocessing {
  float pixel_max = 255.0f;           // pixels / pixel_max: the [0, 1] range the statistics are in
  data::Normalization normalization;  // one mean and std per input channel; empty: none
  ChannelOrder channel_order = ChannelOrder::rgb;
  // How uint8 images of another size than the input are brought to it (Session::run, and data
  // sets read for this model).
  data::FitMode fit = data::FitMode::crop;
};

// The recipe a model was trained with (`nimble train`'s settings); enough to resume the run or
// fine-tune with the same batch, augmentation and regularisation.
struct TrainRecipe {
  std::string model;  // zoo name, or the checkpoint a run started from
  double width = 1.0;
  int64_t depth = 0;
  Shape input;
  int64_t classes = 0;
  int64_t epochs = 0, batch = 128;
  double lr = 0.05;
  std::string optimizer = "sgd", schedule = "cosine";
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4, label_smoothing = 0, clip_grad = 0, warmup_epochs = 0;
  int64_t step_epochs = 0;
  int64_t crop_padding = 0;
  bool hflip = false;
  double erase = 0;
  double crop_scale = 0, jitter = 0;  // random resized crop (0: off), colour jitter strength
  uint64_t seed = 0;
  int64_t val = 5000, limit = 0;  // validation samples held out; first-N training samples (0: all)
  std::string data;               // the data set it was trained on
  Precision precision = Precision::fp32;
  double dropout = 0.2;
  // Pruning while training (`train --prune`): the spec as given, and its ramp.
  std::string prune, prune_config;
  double prune_ramp = 0.5;
};

// Distillation that produced the model: its teacher's file and the loss settings (what a resumed
// run distils with again).
struct DistillationRecord {
  std::string teacher;
  double temperature = 4.0, alpha = 0.9;
  std::vector<std::string> hints;  // "teacher_layer:student_layer"
  double hint_weight = 1.0, hint_lr = 0.01;
  bool cached_logits = false;
};

struct PruningRecord {
  std::string method, config;  // prune::method_name, PruneConfig::describe()
  double amount = 0;
  int64_t finetune_epochs = 0;
  std::string teacher;  // empty: fine-tuned on labels alone
  std::string source;   // the model file it was pruned from
  double test_accuracy_before = 0, weight_sparsity = 0;
};

struct QuantizationRecord {
  std::string mode;  // "static" | "dynamic"
  std::string observer;
  int64_t qat_epochs = 0, calibration_samples = 0;
  std::vector<std::string> layers_kept_float;
  std::string source;
  double test_accuracy_fp32 = 0;
};

// What was measured when the model was saved (absent values were not measured).
struct Metrics {
  std::optional<int64_t> epoch;  // the training epoch the weights come from
  std::optional<double> val_accuracy, train_loss, test_accuracy;
};

struct Provenance {
  std::optional<TrainRecipe> recipe;
  std::optional<DistillationRecord> distillation;
  std::optional<PruningRecord> pruning;
  std::optional<QuantizationRecord> quantization;
  Metrics metrics;
};

class Model {
 public:
  Model() = default;
  explicit Model(Graph graph, Preprocessing preprocessing = {})
      : graph(std::move(graph)), preprocessing(std::move(preprocessing)) {}

  // Reads and fully validates a `.nimble` file (any version nimble wrote), or imports an `.onnx` file
  // (io::import_onnx with default preprocessing: pixels / 255). Throws Error naming the
  // file and the problem.
  static Model load(const std::string& path);
  // Writes atomically (temporary file, fsync, rename); an existing file survives any failure.
  void save(const std::string& path) const;

  Graph graph;
  Preprocessing preprocessing;
  std::vector<std::string> class_names;  // empty: classes are numbered
  Provenance provenance;
  std::optional<train::TrainState> training_state;  // only in a training checkpoint (MODEL.nimble.train)
  int64_t file_size = 0;                            // bytes of the file it was loaded from (0: not loaded)

  Shape input_shape() const { return graph.input_shape(); }  // per sample, (C, H, W)
  int64_t num_classes() const { return graph.output_shape().numel(); }
  bool quantized() const { return graph.meta.count("quantized") != 0; }
  // The precision it was trained in, when known.
  std::optional<Precision> trained_precision() const;
  Model clone() const;  // deep copy: parameters are not shared
  // The size of its file without training state (a model file as `save` writes it).
  int64_t model_file_size() const;
  // 16 hex digits that change with any bit of any parameter or buffer (FNV-1a, names and bytes in
  // graph order), and of the training state (optimizer tensors, steps, loss scaler, kernel
  // choices; empty without one): two runs that should agree bit for bit can be compared.
  std::string weights_fingerprint() const;
  std::string training_state_fingerprint() const;

  // Raw images -> the model's input: u8 pixels, (N, C, H, W) or channels-last (N, H, W, C) (or
  // (N, H, W) for one channel), matched against input_shape(); f32 images pass through unchanged
  // (already preprocessed, NCHW). Returns a new f32 (N, C, H, W) tensor.
  // u8 images of another size or channel count are first fitted to the input (preprocessing.fit).
  Tensor preprocess(const Tensor& images) const;
  // JPEG or PNG files decoded and fitted to the input as its training data was: u8 (N, C, H, W),
  // ready for Session::run. Throws Error naming an unreadable file.
  Tensor read_images(const std::vector<std::string>& paths) const;
};

// preprocess() for any model taking `input` (C, H, W) per sample.
Tensor preprocess_images(const Preprocessing& preprocessing, const Shape& input, const Tensor& images);

// The metadata of a model as one JSON object (what `nimble info --json` prints as "metadata").
std::string metadata_json(const Model& model);

}  // namespace nimble
