// nimble::Model: typed metadata through a .nimble file, preprocessing that equals the training
// loader's, and Session::run on raw images equal to forward() on the loader's batches.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "data/internal.hpp"
#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"
#include "nimble/model.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/zoo/zoo.hpp"

namespace nimble {
namespace {

namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("nimble_model_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

// A small RGB cnn with a preprocessing of three different channels.
Model small_model() {
  zoo::ModelConfig c;
  c.input = {3, 12, 10};
  c.classes = 5;
  Model m(zoo::build(c));
  m.preprocessing.normalization = {{0.1f, 0.5f, 0.9f}, {0.2f, 0.25f, 0.5f}};
  return m;
}

// n random RGB images, (N, C, H, W) u8.
data::ImageSet random_images(int64_t n, const Shape& s) {
  data::ImageSet set;
  set.images = Tensor({n, s[0], s[1], s[2]}, DType::u8);
  Rng rng(7);
  for (int64_t i = 0; i < set.images.numel(); ++i) set.images.data<uint8_t>()[i] = uint8_t(rng.uniform(0.0f, 255.99f));
  set.labels.assign(size_t(n), 0);
  set.num_classes = 5;
  return set;
}

TEST(Model, MetadataRoundTripsThroughAFile) {
  Model m = small_model();
  m.class_names = {"a", "b", "c", "d", "e"};
  m.preprocessing.channel_order = ChannelOrder::bgr;
  TrainRecipe r;
  r.model = "cnn", r.input = {3, 12, 10}, r.epochs = 7, r.lr = 0.02, r.precision = Precision::bf16, r.seed = 3;
  r.prune = "channel:0.5", r.prune_config = "channel 50% (l1)";
  r.crop_scale = 0.35, r.jitter = 0.2;
  m.provenance.recipe = r;
  m.provenance.distillation = DistillationRecord{"teacher.nimble", 3.0, 0.7, {"conv1:stem"}, 0.5, 0.02, true};
  m.provenance.pruning = PruningRecord{"channel", "channel 50% (l1)", 0.5, 2, "t.nimble", "src.nimble", 0.9, 0.1};
  m.provenance.quantization = QuantizationRecord{"static", "minmax", 0, 512, {"fc2"}, "src.nimble", 0.91};
  m.provenance.metrics.test_accuracy = 0.875;
  m.provenance.metrics.epoch = 4;
  const fs::path path = temp_file("meta.nimble");
  m.save(path.string());
  const Model back = Model::load(path.string());
  EXPECT_EQ(back.class_names, m.class_names);
  EXPECT_EQ(back.preprocessing.channel_order, ChannelOrder::bgr);
  EXPECT_EQ(back.preprocessing.normalization.mean, m.preprocessing.normalization.mean);
  EXPECT_EQ(back.preprocessing.normalization.std, m.preprocessing.normalization.std);
  ASSERT_TRUE(back.provenance.recipe);
  EXPECT_EQ(back.provenance.recipe->epochs, 7);
  EXPECT_EQ(back.provenance.recipe->input, (Shape{3, 12, 10}));
  EXPECT_EQ(back.trained_precision(), Precision::bf16);
  EXPECT_EQ(back.provenance.recipe->prune, "channel:0.5");
  EXPECT_EQ(back.provenance.recipe->crop_scale, 0.35);
  EXPECT_EQ(back.provenance.recipe->jitter, 0.2);
  ASSERT_TRUE(back.provenance.distillation);
  EXPECT_EQ(back.provenance.distillation->teacher, "teacher.nimble");
  EXPECT_DOUBLE_EQ(back.provenance.distillation->alpha, 0.7);
  EXPECT_EQ(back.provenance.distillation->hints, std::vector<std::string>{"conv1:stem"});
  EXPECT_DOUBLE_EQ(back.provenance.distillation->hint_weight, 0.5);
  EXPECT_DOUBLE_EQ(back.provenance.distillation->hint_lr, 0.02);
  EXPECT_TRUE(back.provenance.distillation->cached_logits);
  ASSERT_TRUE(back.provenance.pruning);
  EXPECT_EQ(back.provenance.pruning->teacher, "t.nimble");
  ASSERT_TRUE(back.provenance.quantization);
  EXPECT_EQ(back.provenance.quantization->layers_kept_float, std::vector<std::string>{"fc2"});
  EXPECT_EQ(back.provenance.metrics.test_accuracy, 0.875);
  EXPECT_EQ(back.provenance.metrics.epoch, 4);
  EXPECT_FALSE(back.provenance.metrics.val_accuracy);
  EXPECT_FALSE(back.training_state);
  EXPECT_EQ(back.file_size, int64_t(fs::file_size(path)));
  EXPECT_EQ(metadata_json(back), metadata_json(m));
}

// The metadata an earlier nimble train wrote (before Model existed), written through the raw
// checkpoint writer: every field lands in its typed place.
TEST(Model, LoadsTheMetadataEarlierVersionsWrote) {
  const Model m = small_model();
  const std::string extra = R"({"hyper": {"model": "cnn", "epochs": 10, "batch": 128, "lr": 0.05, "precision": "bf16",
      "label_smoothing": 0.0, "input": "3x12x10", "val": 5000, "seed": 0, "teacher": "t.nimble", "alpha": 0.9,
      "temperature": 4.0},
    "normalization": {"mean": [0.1, 0.5, 0.9], "std": [0.2, 0.25, 0.5]},
    "metrics": {"epoch": 9, "val_accuracy": 0.91, "train_loss": 0.25, "test_accuracy": 0.905},
    "train_state": {"epoch": 9, "step": 3870, "optimizer_steps": 3870, "best_val_accuracy": 0.91}})";
  const fs::path path = temp_file("old.nimble");
  io::save_checkpoint(m.graph, path.string(), extra);
  const Model back = Model::load(path.string());
  ASSERT_TRUE(back.provenance.recipe);
  EXPECT_EQ(back.provenance.recipe->epochs, 10);
  EXPECT_EQ(back.provenance.recipe->optimizer, "sgd");  // absent: the default
  EXPECT_EQ(back.provenance.recipe->crop_scale, 0.0);   // no random resized crop, no colour jitter
  EXPECT_EQ(back.provenance.recipe->jitter, 0.0);
  EXPECT_EQ(back.trained_precision(), Precision::bf16);
  ASSERT_TRUE(back.provenance.distillation);
  EXPECT_EQ(back.provenance.distillation->teacher, "t.nimble");
  EXPECT_EQ(back.preprocessing.normalization.std, (std::vector<float>{0.2f, 0.25f, 0.5f}));
  EXPECT_EQ(back.provenance.metrics.train_loss, 0.25);
  ASSERT_TRUE(back.training_state);
  EXPECT_EQ(back.training_state->step, 3870);
}

TEST(Model, RejectsMetadataThatDoesNotFitTheGraph) {
  Model m = small_model();
  m.class_names = {"only", "two"};
  const fs::path path = temp_file("bad_names.nimble");
  m.save(path.string());
  EXPECT_THROW(Model::load(path.string()), Error);
  m.class_names.clear();
  m.preprocessing.normalization = {{0.5f}, {0.5f}};  // one channel for an RGB model
  m.save(path.string());
  EXPECT_THROW(Model::load(path.string()), Error);
}

TEST(Model, PreprocessingEqualsTheTrainingLoader) {
  const Model m = small_model();
  const data::ImageSet set = random_images(6, m.input_shape());
  data::BatchLoader loader(set, m.preprocessing.normalization, 6, false, false);
  data::Batch b;
  ASSERT_TRUE(loader.next(b));
  const Tensor x = m.preprocess(set.images);
  ASSERT_EQ(x.shape(), b.images.shape());
  EXPECT_EQ(std::memcmp(x.raw(), b.images.raw(), x.nbytes()), 0);  // bit for bit

  // Channels-last pixels give the same tensor.
  const int64_t c = 3, h = 12, w = 10;
  Tensor nhwc({6, h, w, c}, DType::u8);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t p = 0; p < h * w; ++p)
        nhwc.data<uint8_t>()[(i * h * w + p) * c + k] = set.images.data<uint8_t>()[(i * c + k) * h * w + p];
  const Tensor y = m.preprocess(nhwc);
  EXPECT_EQ(std::memcmp(y.raw(), x.raw(), x.nbytes()), 0);
  // Shapes that fit neither layout are refused.
  EXPECT_THROW(m.preprocess(Tensor({6, 4, 12, 10}, DType::u8)), Error);
  EXPECT_THROW(m.preprocess(Tensor({6, 3, 12, 10}, DType::s8)), Error);
}

TEST(Model, BgrModelsAndOtherSizesArePreprocessedAsTheirDataIs) {
  Model m = small_model();
  const data::ImageSet set = random_images(6, m.input_shape());
  // A BGR model: RGB pixels are swapped as workflows swap the data sets they read for it.
  m.preprocessing.channel_order = ChannelOrder::bgr;
  data::BatchLoader loader(data::swap_red_blue(set), m.preprocessing.normalization, 6, false, false);
  data::Batch b;
  ASSERT_TRUE(loader.next(b));
  const Tensor x = m.preprocess(set.images);
  EXPECT_EQ(std::memcmp(x.raw(), b.images.raw(), x.nbytes()), 0);

  // Channels-last images of another size are fitted to the input first, as data sets are.
  m.preprocessing.channel_order = ChannelOrder::rgb;
  const int64_t h = 30, w = 17;
  Tensor big({2, h, w, 3}, DType::u8);
  Rng rng(3);
  for (int64_t i = 0; i < big.numel(); ++i) big.data<uint8_t>()[i] = uint8_t(rng.uniform(0.0f, 255.99f));
  Tensor fitted({2, 3, 12, 10}, DType::u8);
  for (int64_t i = 0; i < 2; ++i)
    data::fit_image(big.data<uint8_t>() + i * h * w * 3, h, w, 3, m.input_shape(), data::FitMode::crop,
                    fitted.data<uint8_t>() + i * 3 * 12 * 10);
  const Tensor y = m.preprocess(big), want = m.preprocess(fitted);
  EXPECT_EQ(std::memcmp(y.raw(), want.raw(), y.nbytes()), 0);
  EXPECT_THROW(m.preprocess(Tensor({2, 1, 1, 3}, DType::u8)), Error);  // too small to fit
}

TEST(Session, RunOnRawImagesEqualsForwardOnTheLoadersBatches) {
  const Model m = small_model();
  const data::ImageSet set = random_images(7, m.input_shape());  // not a multiple of the batch
  Session s(m, {4, Mode::eval});
  const Tensor logits = s.run(set.images);
  ASSERT_EQ(logits.shape(), (Shape{7, 5}));
  data::BatchLoader loader(set, m.preprocessing.normalization, 4, false, false);
  Session reference(m.graph, {4, Mode::eval});
  data::Batch b;
  for (int64_t first = 0; loader.next(b); first += 4) {
    const Tensor& y = reference.forward(b.images);
    for (int64_t i = 0; i < b.count; ++i)
      for (int64_t k = 0; k < 5; ++k)
        EXPECT_EQ(logits.data<float>()[(first + i) * 5 + k], y.data<float>()[i * 5 + k]) << first + i << " " << k;
  }
}

}  // namespace
}  // namespace nimble
