// The kernel of every element-wise op (traits.scalar; the op list marks them ELTWISE): oneDNN's
// eltwise primitive where the op names a oneDNN algorithm, else a plain loop over the op's scalar
// functions. Either way dst, diff_dst and diff_src keep the producer's layout, so an activation
// between two blocked-layout layers never forces a reorder.
#include "kernels/eltwise_kernel.hpp"
#include "kernels/kernel.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::kernels {
namespace {

class OnednnEltwiseKernel : public Kernel {
 public:
  explicit OnednnEltwiseKernel(KernelBuilder& b)
      : eltwise_(op_name(b.node.op), b.src_desc[0], b.training(), b.training() && b.need_diff_src[0], b.engine) {
    b.dst_desc = b.src_desc[0];
  }
  void forward(dnnl::stream& s, KernelArgs& a) override { eltwise_.forward(s, a.dst, a.src[0]); }
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (eltwise_.has_backward() && a.diff_src[0]) eltwise_.backward(s, a.diff_src[0], a.src[0], a.diff_dst);
  }

 private:
  EltwiseKernel eltwise_;
};

// The op's scalar functions over the physical buffer in f32, or widened from bf16 / f16 and
// rounded once. In a blocked layout with padded channels the padding stays zero (f(0) may not be).
class ScalarEltwiseKernel : public Kernel {
 public:
  explicit ScalarEltwiseKernel(KernelBuilder& b) : f_(op_traits(b.node.op)) {
    const md& desc = b.src_desc[0];
    type_ = desc.data_type();
    NIMBLE_CHECK(type_ == dt::f32 || type_ == dt::bf16 || type_ == dt::f16,
                 std::string(op_name(b.node.op)) + " '" + b.node.name + "' runs on f32, bf16 and f16 only");
    b.dst_desc = desc;
    count_ = int64_t(desc.get_size() / dnnl::memory::data_type_size(type_));
    if (count_ != b.src_shape[0].numel()) real_ = real_elements(desc, b.src_shape[0], b.engine);
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    s.wait();  // the loop reads the producer's output on the host
    run(a.dst, [&](int64_t i) { return f_.scalar(load(a.src[0], i)); });
  }

  // diff_src = f'(src, dst) * diff_dst: the dst of the last forward is still in its buffer.
  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (!a.diff_src[0]) return;
    s.wait();
    run(a.diff_src[0],
        [&](int64_t i) { return f_.scalar_grad(load(a.src[0], i), load(a.dst, i)) * load(a.diff_dst, i); });
  }

 private:
  // Which elements of a padded layout are real: a reorder of ones from the plain layout leaves the
  // padding zero.
  static std::vector<uint8_t> real_elements(const md& desc, const Shape& shape, const dnnl::engine& eng) {
    const md plain = plain_desc(shape), mask_desc = with_dtype(desc, dt::f32);
    std::vector<float> ones(size_t(shape.numel()), 1.0f);
    dnnl::memory from(plain, eng, ones.data()), to(mask_desc, eng);
    std::memset(to.get_data_handle(), 0, mask_desc.get_size());
    dnnl::stream s(eng);
    dnnl::reorder(from, to).execute(s, from, to);
    s.wait();
    const float* m = static_cast<const float*>(to.get_data_handle());
    std::vector<uint8_t> real(mask_desc.get_size() / sizeof(float));
    for (size_t i = 0; i < real.size(); ++i) real[i] = m[i] != 0.0f;
    return real;
  }

  float load(const dnnl::memory& m, int64_t i) const {
    const void* p = m.get_data_handle();
    if (type_ == dt::f32) return static_cast<const float*>(p)[i];
    const uint16_t h = static_cast<const uint16_t*>(p)[i];
    return type_ == dt::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
  }

  template <class Value> void run(const dnnl::memory& out, Value value) const {
    void* p = out.get_data_handle();
    const uint8_t* real = real_.empty() ? nullptr : real_.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count_; ++i) {
      const float y = real && !real[i] ? 0.0f : value(i);
      if (type_ == dt::f32)
        static_cast<float*>(p)[i] = y;
      else
        static_cast<uint16_t*>(p)[i] = type_ == dt::bf16 ? f32_to_bf16(y) : f32_to_f16(y);
    }
  }

  const OpTraits& f_;
  dt type_ = dt::f32;
  int64_t count_ = 0;          // elements in the buffer, padding included
  std::vector<uint8_t> real_;  // padded layouts only: 0 where the element is padding
};

}  // namespace

std::unique_ptr<Kernel> compile_eltwise(KernelBuilder& b) {
  if (op_traits(b.node.op).onednn_eltwise != EltwiseAlgorithm::none) return std::make_unique<OnednnEltwiseKernel>(b);
  return std::make_unique<ScalarEltwiseKernel>(b);
}

}  // namespace nimble::kernels
