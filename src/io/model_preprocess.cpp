// Model::preprocess: raw pixels into the model's input, with the formula and rounding of the
// training loader (pixel * 1 / (pixel_max * std) - mean / std), so a model sees what it trained on.
#include <fmt/format.h>

#include "data/image_decode.hpp"
#include "data/internal.hpp"
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
              ": expected (N, C, H, W), (N, H, W, C)" + (c == 1 ? " or (N, H, W)" : "") +
              " with C 1 or 3 (other sizes are fitted to the input)");
}

// u8 images of another size or channel count, fitted to the input as the data they were trained
// on was: channels-last (N, H, W, C) or (N, H, W), or (N, C, H, W) when only that reading has C 1 or 3.
Tensor fit_to_input(const Tensor& images, const Shape& in, data::FitMode mode) {
  const Shape& d = images.shape();
  const auto is_c = [](int64_t v) { return v == 1 || v == 3; };
  const bool nhwc = d.rank() == 3 || (d.rank() == 4 && is_c(d[3]));
  if (!(d.rank() == 3 || (d.rank() == 4 && (nhwc || is_c(d[1]))))) layout_of(d, in);  // throws its message
  const int64_t n = d[0], c = d.rank() == 3 ? 1 : nhwc ? d[3] : d[1];
  const int64_t h = nhwc ? d[1] : d[2], w = nhwc ? d[2] : d[3];
  Tensor out(Shape{n, in[0], in[1], in[2]}, DType::u8);
  std::vector<uint8_t> hwc(static_cast<size_t>(h * w * c));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = images.data<uint8_t>() + i * h * w * c;
    if (!nhwc)
      for (int64_t k = 0; k < c; ++k)
        for (int64_t p = 0; p < h * w; ++p) hwc[size_t(p * c + k)] = src[k * h * w + p];
    data::fit_image(nhwc ? src : hwc.data(), h, w, c, in, mode, out.data<uint8_t>() + i * in.numel());
  }
  return out;
}

bool fits_exactly(const Shape& dims, const Shape& in) {
  try {
    layout_of(dims, in);
    return true;
  } catch (const Error&) {
    return false;
  }
}
}  // namespace

Tensor Model::preprocess(const Tensor& images) const { return preprocess_images(preprocessing, input_shape(), images); }

Tensor Model::read_images(const std::vector<std::string>& paths) const {
  const Shape in = input_shape();
  NIMBLE_CHECK(in.rank() == 3 && (in[0] == 1 || in[0] == 3),
               "read_images applies to models taking 1- or 3-channel images; this one takes " + in.str());
  NIMBLE_CHECK(!paths.empty(), "read_images: no files given");
  Tensor out(Shape{int64_t(paths.size()), in[0], in[1], in[2]}, DType::u8);
  data::parallel_for(int64_t(paths.size()), 0, [&](int64_t i) {
    const std::string& path = paths[size_t(i)];
    const data::DecodedImage img = data::read_image_file(path, 0);
    try {
      data::fit_image(img.pixels.data(), img.height, img.width, img.channels, in, preprocessing.fit,
                      out.data<uint8_t>() + i * in.numel());
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  });
  return out;
}

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
  if (!fits_exactly(images.shape(), in))
    return preprocess_images(preprocessing, in, fit_to_input(images, in, preprocessing.fit));
  const PixelLayout layout = layout_of(images.shape(), in);
  const int64_t c = in[0], hw = in[1] * in[2];
  const bool bgr = preprocessing.channel_order == ChannelOrder::bgr && c == 3;
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
        const int64_t from = bgr ? c - 1 - k : k;  // pixels arrive RGB
        const uint8_t v = layout == PixelLayout::nchw ? src[(i * c + from) * hw + p] : src[(i * hw + p) * c + from];
        dst[(i * c + k) * hw + p] = float(v) * mul[size_t(k)] + add[size_t(k)];
      }
  return out;
}

}  // namespace nimble
