// Writes the seed files of the nimble-format fuzz targets with nimble's own writers: tiny models (a few
// hundred parameters) as `.nimble` checkpoints (float, pruned so a tensor is bitmask-encoded, int8, with
// training state), their graph JSON, and their ONNX export (float and QDQ int8).
//   fuzz_make_seeds CORPUS_DIR      (fuzz/corpus; run by fuzz/make_corpus.sh)
#include <cstdio>
#include <string>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/io/onnx.hpp"
#include "nimble/model.hpp"
#include "nimble/quant/quantize.hpp"

namespace {

using nimble::OpKind;
using Ints = std::vector<int64_t>;

// (2, 6, 6) -> conv 3x3 (3) -> batch-norm -> relu -> 2x2 max-pool -> flatten -> linear (4): 221 parameters.
nimble::Graph tiny_cnn() {
  nimble::Graph g;
  nimble::Rng rng(1);
  int x = g.add_input("input", {2, 6, 6});
  x = g.add_node(OpKind::conv2d, "conv", {x},
                 {{"out_channels", int64_t(3)}, {"kernel", Ints{3, 3}}, {"padding", Ints{1, 1}}}, &rng);
  x = g.add_node(OpKind::batch_norm2d, "bn", {x}, {}, &rng);
  x = g.add_node(OpKind::relu, "relu", {x}, {}, &rng);
  x = g.add_node(OpKind::max_pool2d, "pool", {x}, {{"kernel", Ints{2, 2}}}, &rng);
  x = g.add_node(OpKind::flatten, "flatten", {x}, {}, &rng);
  x = g.add_node(OpKind::linear, "fc", {x}, {{"out_features", int64_t(4)}}, &rng);
  g.set_output(x);
  return g;
}

// (1, 4, 4) -> flatten -> linear (3) -> sigmoid -> linear (2): 59 parameters.
nimble::Graph tiny_mlp() {
  nimble::Graph g;
  nimble::Rng rng(2);
  int x = g.add_input("input", {1, 4, 4});
  x = g.add_node(OpKind::flatten, "flatten", {x}, {}, &rng);
  x = g.add_node(OpKind::linear, "fc1", {x}, {{"out_features", int64_t(3)}}, &rng);
  x = g.add_node(OpKind::sigmoid, "act", {x}, {}, &rng);
  x = g.add_node(OpKind::linear, "fc2", {x}, {{"out_features", int64_t(2)}}, &rng);
  g.set_output(x);
  return g;
}

void write_text(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
    throw nimble::Error("cannot write " + path);
}

nimble::Model int8_model(const nimble::Model& fp32) {
  nimble::data::ImageSet samples;
  samples.images = nimble::Tensor(nimble::Shape{8, 2, 6, 6}, nimble::DType::u8);
  auto* px = samples.images.data<uint8_t>();
  for (int64_t i = 0; i < samples.images.shape().numel(); ++i) px[i] = uint8_t(i * 37 % 251);
  samples.labels.assign(8, 0);
  samples.num_classes = 4;
  const nimble::Graph prepared = nimble::quant::prepare(fp32.graph);
  const auto calibration = nimble::quant::calibrate(prepared, samples, fp32.preprocessing.normalization,
                                                    nimble::quant::ObserverKind::minmax);
  return nimble::Model(nimble::quant::convert(prepared, calibration.params()), fp32.preprocessing);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2) return std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n"), 2;
  const std::string dir = argv[1];

  nimble::Model cnn(tiny_cnn(), {.normalization = {{0.5f, 0.4f}, {0.25f, 0.2f}},
                                 .channel_order = nimble::ChannelOrder::bgr,
                                 .fit = nimble::data::FitMode::stretch});
  cnn.class_names = {"a", "b", "c", "d"};
  // Every metadata record the checkpoint's "extra" object can hold, so the fuzzer mutates their readers too.
  cnn.provenance.metrics = {.epoch = 3, .val_accuracy = 0.5, .train_loss = 1.25, .test_accuracy = 0.5};
  cnn.provenance.recipe = nimble::TrainRecipe{.model = "tiny", .input = nimble::Shape{2, 6, 6}, .classes = 4};
  cnn.provenance.distillation = nimble::DistillationRecord{.teacher = "teacher.nimble"};
  cnn.provenance.pruning =
      nimble::PruningRecord{.method = "l1", .config = "uniform", .amount = 0.5, .teacher = "t.nimble"};
  cnn.save(dir + "/checkpoint/cnn.nimble");
  write_text(dir + "/graph_json/cnn.json", nimble::io::graph_to_json(cnn.graph));
  nimble::io::export_onnx(cnn, dir + "/onnx/cnn.onnx");

  // Mostly-zero weights are stored bitmask-encoded; training state adds "state" tensors and train_state.
  nimble::Model mlp(tiny_mlp());
  for (auto& [name, p] : mlp.graph.named_params()) {
    if (name != "fc1.weights") continue;
    float* w = p->data.data<float>();
    for (int64_t i = 0; i < p->data.shape().numel(); ++i) w[i] = i % 7 == 0 ? 0.5f : 0.0f;
  }
  nimble::train::TrainState state;
  state.epoch = 2, state.step = 10, state.optimizer_steps = 10, state.best_val_accuracy = 0.75;
  state.optimizer.emplace_back("fc2.weight.momentum", nimble::Tensor(nimble::Shape{2, 3}));
  mlp.training_state = state;
  mlp.save(dir + "/checkpoint/mlp_pruned_train_state.nimble");
  write_text(dir + "/graph_json/mlp.json", nimble::io::graph_to_json(mlp.graph));
  mlp.training_state.reset();
  nimble::io::export_onnx(mlp, dir + "/onnx/mlp.onnx");

  nimble::Model q = int8_model(cnn);
  q.provenance.quantization =
      nimble::QuantizationRecord{.mode = "static", .observer = "minmax", .layers_kept_float = {"fc"}};
  q.save(dir + "/checkpoint/cnn_int8.nimble");
  write_text(dir + "/graph_json/cnn_int8.json", nimble::io::graph_to_json(q.graph));
  nimble::io::export_onnx(q, dir + "/onnx/cnn_int8_qdq.onnx");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
