// add's kernel (its semantics and reference: graph/ops/add.cpp), with the ReLU or ReLU6 that
// passes::fuse_training_activations moves into it: forward a oneDNN post-op, backward one masked
// pass over the gradient instead of the ReLU's pass and the add's two copies.
#include <cstdint>
#include <limits>
#include <optional>

#include "graph/ops/op_util.hpp"
#include "kernels/eltwise_kernel.hpp"
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

// out = dy where 0 < y < hi, else 0, over a whole buffer (padding included: a padded channel
// holds y = 0, so its gradient stays 0). Both loads unconditional and `simd` so that GCC vectorizes
// it: the signs of y are random, and the branch per element it compiled to otherwise was slow.
void mask_gradient(const float* __restrict y, const float* __restrict dy, float* __restrict out, int64_t n, float hi) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = y[i], d = dy[i];
    out[i] = ((v > 0.0f) & (v < hi)) ? d : 0.0f;
  }
}
// bf16 and f16 order like their bit patterns among positive numbers: 0 < y < hi is a pattern in
// [1, hi_bits), one unsigned compare after subtracting 1 (zero wraps around to the top).
void mask_gradient(const uint16_t* __restrict y, const uint16_t* __restrict dy, uint16_t* __restrict out, int64_t n,
                   uint16_t hi_bits) {
  const uint16_t span = uint16_t(hi_bits - 1);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t v = y[i], d = dy[i];
    out[i] = uint16_t(v - 1) < span ? d : uint16_t(0);
  }
}

class AddKernel : public Kernel {
 public:
  explicit AddKernel(KernelBuilder& b) : act_(b.node.attr_str("activation", "none")) {
    const auto& eng = b.engine;
    const md& layout = b.src_desc[0];
    src1_in_ = LayoutConverter(b.src_desc[1], layout, eng);
    type_ = layout.data_type();
    // oneDNN 2.6's binary kernel with an eltwise post-op writes past the end of a blocked buffer
    // whose channels do not fill the last block (valgrind: a byte after it, 2x3x13x13 in nChw16c);
    // there the activation runs as a second pass over dst.
    const bool padded = layout.get_size() != size_t(b.dst_shape.numel()) * dnnl::memory::data_type_size(type_);
    if (act_ != "none" && padded) separate_ = EltwiseKernel(act_, layout, false, false, eng);
    add_ = dnnl::binary(
        dnnl::binary::primitive_desc(dnnl::binary::desc(dnnl::algorithm::binary_add, layout, layout, layout),
                                     activation_attr(padded ? "none" : act_), eng));
    b.dst_desc = layout;
    NIMBLE_CHECK(act_ == "none" || type_ == dt::f32 || type_ == dt::bf16 || type_ == dt::f16,
                 "add '" + b.node.name + "': a fused activation runs on f32, bf16 and f16 only");
    if (!b.training()) return;
    diff_to_src0_ = LayoutConverter(layout, layout, eng);  // a copy
    diff_to_src1_ = LayoutConverter(layout, b.src_desc[1], eng);
    if (act_ != "none" && !b.need_diff_src[0]) masked_ = dnnl::memory(layout, eng);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    execute(add_, s,
            {arg(DNNL_ARG_SRC_0, a.src[0]), arg(DNNL_ARG_SRC_1, src1_in_(s, a.src[1])), arg(DNNL_ARG_DST, a.dst)});
    if (separate_) separate_->forward(s, a.dst, a.dst);
  }

  // d(a + b)/da = d(a + b)/db = 1, times the activation's derivative, read from the forward's dst
  // (still in its buffer): both gradients are that, each in its input's layout.
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (act_ == "none") {
      if (a.diff_src[0]) diff_to_src0_.into(s, a.diff_dst, a.diff_src[0]);
      if (a.diff_src[1]) diff_to_src1_.into(s, a.diff_dst, a.diff_src[1]);
      return;
    }
    if (!a.diff_src[0] && !a.diff_src[1]) return;
    const dnnl::memory& g = a.diff_src[0] ? a.diff_src[0] : masked_;
    s.wait();  // the loop reads the forward's dst and the gradient on the host
    mask(a.dst, a.diff_dst, g);
    if (a.diff_src[1]) diff_to_src1_.into(s, g, a.diff_src[1]);
  }

 private:
  void mask(const dnnl::memory& y, const dnnl::memory& dy, const dnnl::memory& out) const {
    const int64_t n = int64_t(y.get_desc().get_size() / dnnl::memory::data_type_size(type_));
    const bool six = act_ == "relu6";
    if (type_ == dt::f32) {
      mask_gradient(static_cast<const float*>(y.get_data_handle()), static_cast<const float*>(dy.get_data_handle()),
                    static_cast<float*>(out.get_data_handle()), n, six ? 6.0f : std::numeric_limits<float>::infinity());
      return;
    }
    // 6 in bf16 and in f16; 0x7F81 / 0x7C01 take +inf in but not the NaN patterns above it.
    const uint16_t hi_bits = six ? (type_ == dt::bf16 ? 0x40C0 : 0x4600) : (type_ == dt::bf16 ? 0x7F81 : 0x7C01);
    mask_gradient(static_cast<const uint16_t*>(y.get_data_handle()), static_cast<const uint16_t*>(dy.get_data_handle()),
                  static_cast<uint16_t*>(out.get_data_handle()), n, hi_bits);
  }

  std::string act_;
  dt type_ = dt::f32;
  dnnl::binary add_;
  std::optional<EltwiseKernel> separate_;  // the activation after the sum, where no post-op can take it
  LayoutConverter src1_in_, diff_to_src0_, diff_to_src1_;
  dnnl::memory masked_;  // the masked gradient when input 0 needs none but input 1 does
};

}  // namespace

std::unique_ptr<Kernel> compile_add(KernelBuilder& b) { return std::make_unique<AddKernel>(b); }

}  // namespace nimble::kernels
