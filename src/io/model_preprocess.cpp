// Model::preprocess: raw pixels into the model's input, with the formula and rounding of the
// training loader (pixel * 1 / (pixel_max * std) - mean / std), so a model sees what it trained on.
#include "nimble/core/error.hpp"
#include "nimble/model.hpp"

namespace nimble {

namespace {
enum class PixelLayout { nchw, nhwc };

// Which layout `dims` (batch first) is, for a model taking (C, H, W) per sample.
PixelLayout layout_of(const Shape& dims, const Shape& in) {
  const int64_t c = in[0], h = in[1], w = in[2];
  if (dims.rank() == 4 && dims[1] == c && dims[2] == h && dims[3] == w) return PixelLayout::nchw;
  if (dims.rank() == 4 && dims[1] == h && dims[2] == w && dims[3] == c) return PixelLayout::nhwc;
  if (dims.rank() == 3 && c == 1 && dims[1] == h && dims[2] == w) return PixelLayout::nchw;
  throw Error("images of shape " + dims.str() + " do not fit the model's input " + in.str() +
              ": expected (N, C, H, W), (N, H, W, C)" + (c == 1 ? " or (N, H, W)" : ""));
}
}  // namespace

Tensor Model::preprocess(const Tensor& images) const { return preprocess_images(preprocessing, input_shape(), images); }

Tensor preprocess_images(const Preprocessing& preprocessing, const Shape& in, const Tensor& images) {
  NIMBLE_CHECK(in.rank() == 3, "preprocessing applies to image models; this one takes " + in.str());
  const int64_t n = images.shape().rank() > 0 ? images.shape()[0] : 0;
  NIMBLE_CHECK(n > 0, "no images given (shape " + images.shape().str() + ")");
  if (images.dtype() == DType::f32) {
    NIMBLE_CHECK(images.numel() == n * in.numel() && images.shape().rank() == 4,
                 "float images must be preprocessed (N, C, H, W) " + in.str() + ", got " + images.shape().str());
    return images;
  }
  NIMBLE_CHECK(images.dtype() == DType::u8,
               std::string("images must be uint8 pixels or preprocessed float32, got ") + dtype_name(images.dtype()));
  const PixelLayout layout = layout_of(images.shape(), in);
  const int64_t c = in[0], hw = in[1] * in[2];
  const data::Normalization& norm = preprocessing.normalization;
  std::vector<float> mul(size_t(c), 1.0f / preprocessing.pixel_max), add(size_t(c), 0.0f);
  if (!norm.mean.empty())
    for (int64_t k = 0; k < c; ++k) {
      mul[size_t(k)] = 1.0f / (preprocessing.pixel_max * norm.std[size_t(k)]);
      add[size_t(k)] = -norm.mean[size_t(k)] / norm.std[size_t(k)];
    }
  Tensor out({n, c, in[1], in[2]});
  const uint8_t* src = images.data<uint8_t>();  // (N, C, H, W) or (N, H, W, C)
  float* dst = out.data<float>();               // (N, C, H, W)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t p = 0; p < hw; ++p) {
        const uint8_t v = layout == PixelLayout::nchw ? src[(i * c + k) * hw + p] : src[(i * hw + p) * c + k];
        dst[(i * c + k) * hw + p] = float(v) * mul[size_t(k)] + add[size_t(k)];
      }
  return out;
}

}  // namespace nimble
