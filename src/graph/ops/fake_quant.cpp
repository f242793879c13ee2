// Fake quantization for quantization-aware training: y = dequantize(quantize(x)) with the
// symmetric per-tensor quantization the int8 graph will use for this value, so training sees the
// rounding and clipping; backward is the straight-through estimator (gradient passed inside the
// representable range, zero outside). In training the range follows the batches (EMA of batch
// min / max, like PyTorch's moving-average observer); in eval it is fixed.
// attrs: dtype ("u8" | "s8": the int8 type chosen at calibration), observes (the layer whose output
//        this is; "" for the graph input), momentum (EMA constant, default 0.01), frozen (0/1: the
//        range is not updated in training — an int8 average pool's rounding, which shares its
//        input's range parameter).
// params: range (2) f32, not trainable: observed [min, max].
#include <algorithm>
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "runtime/kernel.hpp"

namespace nimble {
namespace {

using namespace kernels;

DType int8_type(const Node& node) {
  const std::string t = node.attr_str("dtype", "");
  NIMBLE_CHECK(t == "u8" || t == "s8", "fake_quant '" + node.name + "': dtype must be u8 or s8, got '" + t + "'");
  return t == "u8" ? DType::u8 : DType::s8;
}

// The quantization of the current range in the calibrated dtype (quant::Observer's rule).
QParams current(const Node& node) {
  const float* r = node.param("range").data.data<float>();
  QParams q;
  q.dtype = int8_type(node);
  const float t = q.dtype == DType::u8 ? std::max(r[1], 0.0f) : std::max(std::fabs(r[0]), std::fabs(r[1]));
  q.scale = t > 0 ? t / float(qmax(q.dtype)) : 1.0f;
  return q;
}

inline float fake(float x, const QParams& q) { return q.scale * float(quantize_value(x, q)); }

Shape infer(const Node& node, const std::vector<Shape>& in) {
  int8_type(node);
  const double m = node.attr_float("momentum", 0.01);
  NIMBLE_CHECK(m > 0 && m <= 1, "fake_quant '" + node.name + "': momentum must be in (0, 1]");
  if (ParamPtr r = node.param_ptr("range"))
    NIMBLE_CHECK(r->data.shape() == Shape({2}) && r->data.dtype() == DType::f32, "fake_quant '" + node.name + "': range must be f32 (2)");
  return in[0];
}

void init_params(Node& node, const std::vector<Shape>&, Rng&) { node.params["range"] = ops::make_param({2}, false); }

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const QParams q = current(node);
  Tensor dst(in[0].shape());
  const float* x = in[0].data<float>();  // (N, ...)
  float* y = dst.data<float>();          // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) y[i] = fake(x[i], q);
  return dst;
}

class FakeQuantKernel : public runtime::Kernel {
 public:
  explicit FakeQuantKernel(runtime::KernelBuilder& b)
      : node_(b.node), training_(b.training() && !b.node.attr_int("frozen", 0)) {
    NIMBLE_CHECK(b.src_desc[0].data_type() == dt::f32, "fake_quant '" + b.node.name + "' supports f32 activations only");
    b.dst_desc = b.src_desc[0];  // elementwise on the physical buffer: padded zeros stay zero
    n_ = int64_t(b.src_desc[0].get_size() / sizeof(float));
    momentum_ = float(b.node.attr_float("momentum", 0.01));
  }

  void forward(dnnl::stream& s, runtime::KernelArgs& a) override {
    s.wait();
    const float* x = static_cast<const float*>(a.src[0].get_data_handle());
    float* y = static_cast<float*>(a.dst.get_data_handle());
    if (training_) observe(x);
    q_ = current(node_);
    // fake() vectorised: clamping to the integer bounds before rounding gives the same result,
    // and adding then subtracting 1.5 * 2^23 rounds half to even in the default rounding mode.
    const float inv = 1.0f / q_.scale, scale = q_.scale, lo = float(qmin(q_.dtype)), hi = float(qmax(q_.dtype));
    constexpr float kRound = 12582912.0f;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n_; ++i) {
      const float v = std::fmin(std::fmax(x[i] * inv, lo), hi);
      y[i] = scale * ((v + kRound) - kRound);
    }
  }

  // Straight through where x was representable, zero where it was clipped.
  void backward(dnnl::stream& s, runtime::KernelArgs& a) override {
    if (!a.diff_src[0]) return;
    s.wait();
    const float* x = static_cast<const float*>(a.src[0].get_data_handle());
    const float* dy = static_cast<const float*>(a.diff_dst.get_data_handle());
    float* dx = static_cast<float*>(a.diff_src[0].get_data_handle());
    const float lo = q_.scale * float(qmin(q_.dtype)), hi = q_.scale * float(qmax(q_.dtype));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_; ++i) dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : 0.0f;
  }

 private:
  void observe(const float* x) {
    float lo = x[0], hi = x[0];
#pragma omp parallel for reduction(min : lo) reduction(max : hi) schedule(static)
    for (int64_t i = 0; i < n_; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
    float* r = node_.params.at("range")->data.data<float>();
    if (!std::isfinite(lo) || !std::isfinite(hi)) return;  // an overflowing step (the loss scaler skips it)
    r[0] += momentum_ * (lo - r[0]);
    r[1] += momentum_ * (hi - r[1]);
  }

  const Node& node_;
  bool training_;
  int64_t n_ = 0;
  float momentum_ = 0.01f;
  QParams q_;  // of the last forward, for its backward
};

std::unique_ptr<runtime::Kernel> compile(runtime::KernelBuilder& b) { return std::make_unique<FakeQuantKernel>(b); }

}  // namespace

extern const OpDef op_def_fake_quant = {"fake_quant", 1, 1, infer, init_params, nullptr, reference, compile};

}  // namespace nimble
