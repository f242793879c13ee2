// nimble.Model: a loaded model, its preprocessing and provenance, and inference on numpy images.
#include "model_binding.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "keywords.hpp"
#include "nimble/io/onnx.hpp"
#include "nimble/model.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble::python {

namespace {

// Sessions per chunk size up to this; bigger inputs run in chunks of it.
constexpr int64_t kMaxRunBatch = 256;

// A Model and the Sessions it has compiled for run(), one per (batch, precision): compiling costs
// far more than a small batch, so repeated calls reuse them. A Session serves one call at a time:
// a call takes it out of the cache while it runs (another thread's concurrent call compiles its
// own) and puts it back afterwards.
class PyModel {
 public:
  explicit PyModel(Model m) : model(std::move(m)) {}

  py::array_t<float> run(const py::array& images, std::optional<int64_t> batch, const std::string& precision) {
    Tensor input = to_tensor(images);
    const int64_t n = input.shape().rank() > 0 ? input.shape()[0] : 0;
    NIMBLE_CHECK(!batch || *batch > 0, "batch must be positive");
    const Key key{batch.value_or(std::clamp<int64_t>(n, 1, kMaxRunBatch)), resolve(precision)};
    Tensor logits;
    {
      py::gil_scoped_release release;
      std::unique_ptr<Session> session = take(key);
      logits = session->run(input);
      give_back(key, std::move(session));
    }
    const Shape& s = logits.shape();  // (N, classes)
    py::array_t<float> out({py::ssize_t(s[0]), py::ssize_t(model.num_classes())});
    std::memcpy(out.mutable_data(), logits.data<float>(), logits.nbytes());
    return out;
  }

  Model model;

 private:
  using Key = std::pair<int64_t, Precision>;

  // uint8 images pass as they are (the model's preprocessing applies); float ones become f32
  // (already preprocessed, NCHW).
  static Tensor to_tensor(const py::array& images) {
    const py::dtype dt = images.dtype();
    const bool u8 = dt.is(py::dtype::of<uint8_t>());
    if (!u8 && dt.kind() != 'f')
      throw py::type_error("images: expected uint8 pixels or float32 preprocessed images, got " +
                           std::string(py::str(py::handle(dt))));
    NIMBLE_CHECK(images.ndim() >= 1 && images.ndim() <= kMaxRank,
                 "images: expected (N, C, H, W), (N, H, W, C) or (N, H, W), got " + std::to_string(images.ndim()) +
                     " dimensions");
    std::vector<int64_t> dims(images.shape(), images.shape() + images.ndim());
    Tensor t(Shape(dims), u8 ? DType::u8 : DType::f32);
    if (u8) {
      const auto a = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(images);
      std::memcpy(t.raw(), a.data(), t.nbytes());
    } else {
      const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(images);
      std::memcpy(t.raw(), a.data(), t.nbytes());
    }
    return t;
  }

  // "auto": the precision the model was trained in where this CPU runs it natively (as `nimble
  // eval` does, so run() reproduces its accuracy), else fp32.
  Precision resolve(const std::string& name) const {
    Precision p = Precision::fp32;
    from_python("precision", py::str(name), p);
    if (p != Precision::automatic) return p;
    const std::optional<Precision> trained = model.trained_precision();
    return trained && !choose_precision(*trained).emulated ? *trained : Precision::fp32;
  }

  std::unique_ptr<Session> take(const Key& key) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = sessions_.find(key); it != sessions_.end()) {
        std::unique_ptr<Session> s = std::move(it->second);
        sessions_.erase(it);
        return s;
      }
    }
    return std::make_unique<Session>(model, SessionOptions{.batch = key.first, .precision = key.second});
  }
  void give_back(const Key& key, std::unique_ptr<Session> session) {
    std::lock_guard lock(mutex_);
    sessions_.try_emplace(key, std::move(session));
  }

  std::mutex mutex_;
  std::map<Key, std::unique_ptr<Session>> sessions_;
};

py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

}  // namespace

void add_model_class(py::module_& m) {
  py::class_<PyModel, std::shared_ptr<PyModel>>(
      m, "Model", R"(A trained model: its graph, preprocessing, class names and provenance.

Load one with Model.load(path); run it on images with run().)")
      .def_static(
          "load",
          [](py::handle path) {
            std::string p;
            from_python("path", path, p);
            return std::make_shared<PyModel>(Model::load(p));
          },
          py::arg("path"),
          "Reads and validates a .nimble file, or imports an .onnx file (pixels / 255, no normalisation).")
      .def_static(
          "import_onnx",
          [](py::handle path, std::optional<std::vector<int64_t>> input, std::optional<std::vector<float>> mean,
             std::optional<std::vector<float>> std, const std::string& channel_order,
             std::vector<std::string> class_names) {
            std::string p;
            from_python("path", path, p);
            io::OnnxImportOptions o;
            if (input) o.input = Shape(*input);
            NIMBLE_CHECK(mean.has_value() == std.has_value(), "mean and std go together");
            if (mean) o.preprocessing.normalization = {*mean, *std};
            o.preprocessing.channel_order = channel_order_from_name(channel_order);
            o.class_names = std::move(class_names);
            return std::make_shared<PyModel>(io::import_onnx(p, o));
          },
          py::arg("path"), py::kw_only(), py::arg("input") = py::none(), py::arg("mean") = py::none(),
          py::arg("std") = py::none(), py::arg("channel_order") = "rgb",
          py::arg("class_names") = std::vector<std::string>{},
          R"(Imports an ONNX classifier (opsets 7-17) like `nimble import`.

input: (C, H, W) for a model whose input dims are symbolic. mean, std: per-channel statistics of
pixels scaled to [0, 1] that run() applies to uint8 images.)")
      .def(
          "export_onnx",
          [](const PyModel& self, py::handle path) {
            std::string p;
            from_python("path", path, p);
            io::export_onnx(self.model, p);
          },
          py::arg("path"), "Writes the model as ONNX like `nimble export` (int8 models as QDQ), atomically.")
      .def(
          "save",
          [](const PyModel& self, py::handle path) {
            std::string p;
            from_python("path", path, p);
            self.model.save(p);
          },
          py::arg("path"), "Writes the model atomically (a temporary file, then a rename).")
      .def("run", &PyModel::run, py::arg("images"), py::arg("batch") = py::none(), py::arg("precision") = "auto",
           R"(Logits (N, classes) float32 for N images.

images: uint8 pixels (N, C, H, W), (N, H, W, C) or (N, H, W) for one channel, to which the
model's own preprocessing is applied (images of another size or channel count are fitted to
the input first, as its training data was); or float32 (N, C, H, W) already preprocessed.
batch: the compiled batch size (default min(N, 256)); larger inputs run in chunks of it.
precision: "auto" (the precision the model was trained in, if this CPU runs it natively, else
fp32), "fp32", "bf16" or "fp16".
A Session is compiled per (batch, precision) and cached in this object; the GIL is released
while it runs, so several threads may call run() at once.)")
      .def(
          "read_images",
          [](const PyModel& self, const std::vector<std::string>& paths) {
            Tensor t;
            {
              py::gil_scoped_release release;
              t = self.model.read_images(paths);
            }
            const Shape& s = t.shape();
            py::array_t<uint8_t> out({py::ssize_t(s[0]), py::ssize_t(s[1]), py::ssize_t(s[2]), py::ssize_t(s[3])});
            std::memcpy(out.mutable_data(), t.data<uint8_t>(), size_t(t.nbytes()));
            return out;
          },
          py::arg("paths"),
          R"(JPEG or PNG files decoded and fitted to the input as the training data was (resize the
shorter side and crop the centre, or stretch): uint8 (N, C, H, W) for run().)")
      .def_property_readonly(
          "input_shape", [](const PyModel& self) { return py::tuple(py::cast(self.model.input_shape().dims())); },
          "(channels, height, width) of one input")
      .def_property_readonly("num_classes", [](const PyModel& self) { return self.model.num_classes(); })
      .def_property(
          "class_names", [](const PyModel& self) { return self.model.class_names; },
          [](PyModel& self, const std::vector<std::string>& names) { self.model.class_names = names; },
          "names of the classes (empty: numbered); settable before save()")
      .def_property_readonly(
          "preprocessing",
          [](const PyModel& self) {
            const Preprocessing& p = self.model.preprocessing;
            py::dict d;
            d["pixel_max"] = p.pixel_max;
            d["mean"] = p.normalization.mean;
            d["std"] = p.normalization.std;
            d["channel_order"] = channel_order_name(p.channel_order);
            d["fit"] = data::fit_mode_name(p.fit);
            return d;
          },
          "how uint8 pixels become inputs: (pixel / pixel_max - mean[c]) / std[c]")
      .def_property_readonly("quantized", [](const PyModel& self) { return self.model.quantized(); })
      .def_property_readonly(
          "metadata", [](const PyModel& self) { return json_loads(metadata_json(self.model)); },
          "provenance (recipe, metrics, what compression did) as `nimble info --json` prints it")
      .def("__repr__", [](const PyModel& self) {
        return "<nimble.Model input " + self.model.input_shape().str() + ", " +
               std::to_string(self.model.num_classes()) + " classes" + (self.model.quantized() ? ", int8" : "") + ">";
      });
}

}  // namespace nimble::python
