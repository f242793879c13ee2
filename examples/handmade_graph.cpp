// Builds a small convolutional network by hand with the graph API, trains it on Fashion-MNIST with
// the Trainer, saves it as a model with its preprocessing and class names, and tests it.
//   handmade_graph DATA_DIR OUT.nimble [LIMIT] [EPOCHS]
#include <cstdio>
#include <string>
#include <vector>

#include <nimble/nimble.hpp>

using nimble::OpKind;
using Ints = std::vector<int64_t>;

int main(int argc, char** argv) try {
  if (argc < 3) return std::fprintf(stderr, "usage: handmade_graph DATA_DIR OUT.nimble [LIMIT] [EPOCHS]\n"), 2;
  const int64_t limit = argc > 3 ? std::stoll(argv[3]) : 0, epochs = argc > 4 ? std::stoll(argv[4]) : 5;

  // (1, 28, 28) -> conv 3x3 -> batch-norm -> relu -> 2x2 max-pool -> flatten -> linear (10)
  nimble::Graph g;
  nimble::Rng rng(0);  // initialises the parameters
  int x = g.add_input("input", {1, 28, 28});
  x = g.add_node(OpKind::conv2d, "conv", {x},
                 {{"out_channels", int64_t(16)}, {"kernel", Ints{3, 3}}, {"padding", Ints{1, 1}}}, &rng);
  x = g.add_node(OpKind::batch_norm2d, "bn", {x}, {}, &rng);
  x = g.add_node(OpKind::relu, "relu", {x}, {}, &rng);
  x = g.add_node(OpKind::max_pool2d, "pool", {x}, {{"kernel", Ints{2, 2}}}, &rng);
  x = g.add_node(OpKind::flatten, "flatten", {x}, {}, &rng);
  x = g.add_node(OpKind::linear, "fc", {x}, {{"out_features", int64_t(10)}}, &rng);
  g.set_output(x);

  const nimble::data::IdxData data = nimble::data::load_idx_dir(argv[1]);
  const nimble::data::ImageSet train = limit > 0 ? nimble::data::take(data.train, limit) : data.train;
  const nimble::data::Split split = nimble::data::split_validation(train, train.size() / 10, 0);
  const nimble::data::Normalization norm = nimble::data::compute_normalization(split.train);

  nimble::train::TrainConfig config;  // SGD with Nesterov momentum, cosine schedule
  config.epochs = epochs;
  config.batch = 64;
  config.schedule.lr = 0.01f;  // peak learning rate
  nimble::train::Trainer trainer(g, config);
  const nimble::train::TrainResult r = trainer.fit(split.train, split.val, norm);
  std::printf("best epoch %lld: validation accuracy %.4f\n", (long long)r.best_epoch, r.best_val_accuracy);

  nimble::Model model(g, {.normalization = norm});
  model.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  model.save(argv[2]);
  const nimble::train::EvalResult test = nimble::train::evaluate(model.graph, data.test, norm);
  std::printf("test accuracy %.4f on %lld images; saved %s\n", test.accuracy, (long long)test.samples, argv[2]);
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
