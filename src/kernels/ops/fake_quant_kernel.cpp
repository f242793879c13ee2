// fake_quant's kernel (its semantics and reference: graph/ops/fake_quant.cpp).
#include <algorithm>
#include <cmath>

#include "graph/ops/fake_quant.hpp"
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class FakeQuantKernel : public Kernel {
 public:
  explicit FakeQuantKernel(KernelBuilder& b) : node_(b.node), training_(b.training() && !b.node.attr_int("frozen", 0)) {
    NIMBLE_CHECK(b.src_desc[0].data_type() == dt::f32,
                 "fake_quant '" + b.node.name + "' supports f32 activations only");
    b.dst_desc = b.src_desc[0];  // elementwise on the physical buffer: padded zeros stay zero
    n_ = int64_t(b.src_desc[0].get_size() / sizeof(float));
    momentum_ = float(b.node.attr_float("momentum", 0.01));
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    s.wait();
    const float* x = static_cast<const float*>(a.src[0].get_data_handle());
    float* y = static_cast<float*>(a.dst.get_data_handle());
    if (training_) observe(x);
    q_ = ops::current(node_);
    // ops::fake() vectorised: clamping to the integer bounds before rounding gives the same result,
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
  void backward(dnnl::stream& s, KernelArgs& a) override {
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

}  // namespace

std::unique_ptr<Kernel> compile_fake_quant(KernelBuilder& b) { return std::make_unique<FakeQuantKernel>(b); }

}  // namespace nimble::kernels
