// The resampler that fits images to a model's input (src/data/fit.cpp) against PIL's antialiased
// bilinear resize (tests/fixtures/make_resize_fixture.py), and the fitting built on it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "data/internal.hpp"
#include "data/npy.hpp"
#include "nimble/core/error.hpp"

namespace nimble::data {
namespace {

std::map<std::string, NpyArray> load_fixture() {
  std::map<std::string, NpyArray> m;
  for (auto& [name, a] : read_npz_file(std::string(NIMBLE_FIXTURES_DIR) + "/resize_pil.npz")) m[name] = std::move(a);
  return m;
}

TEST(Resize, MatchesPilBilinearWithinOneLevel) {
  const auto f = load_fixture();
  const NpyArray& src = f.at("src");  // (H, W, 3)
  const int64_t h = src.shape[0], w = src.shape[1];
  int cases = 0;
  for (int i = 0; f.count("out_" + std::to_string(i)); ++i, ++cases) {
    const auto* box = reinterpret_cast<const double*>(f.at("box_" + std::to_string(i)).data.data());
    const auto* size = reinterpret_cast<const int64_t*>(f.at("size_" + std::to_string(i)).data.data());
    const NpyArray& want = f.at("out_" + std::to_string(i));
    const int64_t ow = size[0], oh = size[1];
    std::vector<uint8_t> got(size_t(oh * ow * 3));
    resize_region(src.data.data(), h, w, 3, CropBox{box[1], box[0], box[3] - box[1], box[2] - box[0]}, got.data(), oh,
                  ow);
    // PIL rounds to 8 bits between its two passes, we once at the end: at most one level apart.
    int worst = 0;
    for (size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::abs(int(got[k]) - int(want.data[k])));
    EXPECT_LE(worst, 1) << "case " << i << ": " << oh << "x" << ow;
  }
  EXPECT_EQ(cases, 6);
}

TEST(Resize, SizesThatAbortedStbImageResizeWork) {
  // stb_image_resize 0.97 (Debian 12) asserts on these (nothings/stb#1449): any size pair must work.
  for (int64_t h = 20; h <= 48; ++h)
    for (int64_t w : {24, 31, 37, 44, 47}) {
      std::vector<uint8_t> src(size_t(h * w * 3), 200), out(32 * 32 * 3);
      const CropBox box = centre_crop_box(h, w, 32, 32, FitMode::crop);
      resize_region(src.data(), h, w, 3, box, out.data(), 32, 32);
      for (uint8_t v : out) ASSERT_EQ(v, 200) << h << "x" << w;  // a constant image stays constant
    }
}

TEST(Fit, CropKeepsTheCentreAndStretchKeepsEverything) {
  // A 10x30 grey image: left third 0, middle 100, right third 250.
  std::vector<uint8_t> img(10 * 30);
  for (int64_t y = 0; y < 10; ++y)
    for (int64_t x = 0; x < 30; ++x) img[size_t(y * 30 + x)] = x < 10 ? 0 : x < 20 ? 100 : 250;
  std::vector<uint8_t> out(10 * 10);
  fit_image(img.data(), 10, 30, 1, Shape{1, 10, 10}, FitMode::crop, out.data());
  for (uint8_t v : out) EXPECT_EQ(v, 100);  // only the middle third survives the crop
  fit_image(img.data(), 10, 30, 1, Shape{1, 10, 10}, FitMode::stretch, out.data());
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[5], 100);
  EXPECT_EQ(out[9], 250);
}

TEST(Fit, GreyBecomesRgbAndTooSmallIsAnError) {
  std::vector<uint8_t> grey(8 * 8, 77), rgb(3 * 8 * 8);
  fit_image(grey.data(), 8, 8, 1, Shape{3, 8, 8}, FitMode::crop, rgb.data());
  for (uint8_t v : rgb) EXPECT_EQ(v, 77);
  std::vector<uint8_t> tiny(1, 5), out(28 * 28);
  try {
    fit_image(tiny.data(), 1, 1, 1, Shape{1, 28, 28}, FitMode::crop, out.data());
    FAIL() << "a 1x1 image was fitted to 28x28";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nimble::data
