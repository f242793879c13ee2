// dropout's kernel (its semantics and reference: graph/ops/dropout.cpp).
#include <cstring>

#include "graph/ops/dropout.hpp"
#include "graph/ops/op_util.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class DropoutKernel : public Kernel {
 public:
  explicit DropoutKernel(KernelBuilder& b)
      : p_(ops::drop_probability(b.node)),
        scale_(ops::keep_scale(p_)),
        seed_(ops::generator_seed(b.node)),
        rng_(seed_) {
    const md& desc = b.src_desc[0];
    NIMBLE_CHECK(desc.data_type() == dt::f32 || desc.data_type() == dt::bf16,
                 "dropout '" + b.node.name + "' supports f32 and bf16 activations only");
    bf16_ = desc.data_type() == dt::bf16;
    b.dst_desc = desc;  // elementwise: keep the producer's layout and dtype
    bytes_ = desc.get_size();
    // Elementwise on the physical buffer, padding included: padded zeros stay zero.
    if (b.training() && p_ > 0.0f) mask_.assign(bytes_ / (bf16_ ? sizeof(uint16_t) : sizeof(float)), 0);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    s.wait();  // the loops below read the producer's output on the host
    const void* x = a.src[0].get_data_handle();
    void* y = a.dst.get_data_handle();
    if (mask_.empty()) {
      if (x != y) std::memcpy(y, x, bytes_);
      return;
    }
    const uint64_t draw = rng_.next_u64();
    const int64_t n = int64_t(mask_.size());
    uint8_t* mask = mask_.data();
    const float p = p_;
    // The mask in a pass of its own: fused into apply_mask's loop, mobilenet_v2's 128x1280 forward
    // ran slower in bf16 and fp32 (NIMBLE_PROFILE=1; docs/results.md, Figures behind code comments).
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) mask[i] = ops::keep_element(draw, uint64_t(i), p);
    apply_mask(x, y);
  }
  // diff_src = diff_dst * mask * scale, with the mask of the last forward.
  // One draw per forward: the stream after `passes` of them (a resumed run's masks).
  void set_forward_passes(int64_t passes) override {
    rng_ = Rng(seed_);
    for (int64_t i = 0; i < passes; ++i) rng_.next_u64();
  }
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (!a.diff_src[0]) return;
    s.wait();
    const void* dy = a.diff_dst.get_data_handle();
    void* dx = a.diff_src[0].get_data_handle();
    if (mask_.empty()) {
      if (dx != dy) std::memcpy(dx, dy, bytes_);
      return;
    }
    apply_mask(dy, dx);
  }

 private:
  // out = in * scale where the mask keeps, else 0; in bf16 the product is rounded once.
  void apply_mask(const void* in, void* out) const {
    const int64_t n = int64_t(mask_.size());
    const uint8_t* mask = mask_.data();
    const float scale = scale_;
    if (bf16_) {
      const uint16_t* x = static_cast<const uint16_t*>(in);
      uint16_t* y = static_cast<uint16_t*>(out);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) y[i] = mask[i] ? f32_to_bf16(bf16_to_f32(x[i]) * scale) : uint16_t(0);
      return;
    }
    const float* x = static_cast<const float*>(in);
    float* y = static_cast<float*>(out);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = mask[i] ? x[i] * scale : 0.0f;
  }

  float p_, scale_;
  bool bf16_ = false;
  uint64_t seed_;
  Rng rng_;
  size_t bytes_ = 0;
  std::vector<uint8_t> mask_;  // per physical element of the last train forward: 1 kept, 0 dropped
};

}  // namespace

std::unique_ptr<Kernel> compile_dropout(KernelBuilder& b) { return std::make_unique<DropoutKernel>(b); }

}  // namespace nimble::kernels
