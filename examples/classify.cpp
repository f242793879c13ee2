// Classifies images with a saved model: the first N images of an IDX file (raw uint8 pixels; the
// model applies its own preprocessing), printing each predicted class and the accuracy.
//   classify MODEL.nimble IMAGES-idx3-ubyte[.gz] LABELS-idx1-ubyte[.gz] [N]
#include <algorithm>
#include <cstdio>
#include <string>

#include <nimble/nimble.hpp>

int main(int argc, char** argv) try {
  if (argc < 4) return std::fprintf(stderr, "usage: classify MODEL.nimble IMAGES LABELS [N]\n"), 2;
  const nimble::Model model = nimble::Model::load(argv[1]);
  nimble::data::ImageSet set = nimble::data::load_idx_files(argv[2], argv[3]);
  if (argc > 4) set = nimble::data::take(set, std::stoll(argv[4]));

  nimble::Session session(model, {.batch = 100});
  const nimble::Tensor logits = session.run(set.images);  // (N, classes)
  int64_t correct = 0;
  for (int64_t i = 0; i < set.size(); ++i) {
    const float* row = logits.data<float>() + i * model.num_classes();
    const int64_t c = std::max_element(row, row + model.num_classes()) - row;
    correct += c == set.labels[i];
    const std::string name = model.class_names.empty() ? "" : model.class_names[c];
    if (i < 10) std::printf("image %lld: class %lld %s\n", (long long)i, (long long)c, name.c_str());
  }
  std::printf("accuracy %.4f on %lld images\n", double(correct) / double(set.size()), (long long)set.size());
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
