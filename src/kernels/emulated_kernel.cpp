// An op run in fp32 between low-precision neighbours: how fp16 works on oneDNN 2.6 CPUs (no fp16
// kernels, fp16 reorders only) and how bf16 ops without a bf16 kernel run. The values between
// layers really are rounded to the low dtype, so overflow and underflow behave as in native
// low precision — which is what the loss scaler exists for.
#include "kernels/kernel.hpp"

namespace nimble::kernels {

namespace {

class EmulatedKernel : public Kernel {
 public:
  EmulatedKernel(KernelBuilder& b, DType storage, CompileFn compile) {
    KernelBuilder wide = b;
    for (md& d : wide.src_desc) d = with_dtype(d, dt::f32);
    wide.compute = DType::f32;
    inner_ = compile(wide);
    b.dst_desc = with_dtype(wide.dst_desc, to_dnnl(storage));
    const auto& eng = b.engine;
    const size_t n = b.src_desc.size();
    args_.src.resize(n);
    args_.diff_src.resize(n);
    for (size_t i = 0; i < n; ++i) src_in_.emplace_back(b.src_desc[i], wide.src_desc[i], eng);
    args_.dst = dnnl::memory(wide.dst_desc, eng);
    dst_out_ = LayoutConverter(wide.dst_desc, b.dst_desc, eng);
    if (!b.training()) return;
    args_.diff_dst = dnnl::memory(wide.dst_desc, eng);
    diff_dst_in_ = LayoutConverter(b.dst_desc, wide.dst_desc, eng);
    for (size_t i = 0; i < n; ++i) {
      diff_src_out_.emplace_back(wide.src_desc[i], b.src_desc[i], eng);
      wide_diff_src_.push_back(b.need_diff_src[i] ? dnnl::memory(wide.src_desc[i], eng) : dnnl::memory());
    }
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    for (size_t i = 0; i < a.src.size(); ++i) args_.src[i] = src_in_[i](s, a.src[i]);
    inner_->forward(s, args_);
    dst_out_.into(s, args_.dst, a.dst);
  }

  void set_forward_passes(int64_t passes) override { inner_->set_forward_passes(passes); }
  void backward(dnnl::stream& s, KernelArgs& a) override {
    diff_dst_in_.into(s, a.diff_dst, args_.diff_dst);
    for (size_t i = 0; i < a.diff_src.size(); ++i)
      args_.diff_src[i] = a.diff_src[i] ? wide_diff_src_[i] : dnnl::memory();
    inner_->backward(s, args_);
    for (size_t i = 0; i < a.diff_src.size(); ++i)
      if (a.diff_src[i]) diff_src_out_[i].into(s, args_.diff_src[i], a.diff_src[i]);
  }

 private:
  std::unique_ptr<Kernel> inner_;
  KernelArgs args_;  // the inner kernel's fp32 view
  std::vector<LayoutConverter> src_in_, diff_src_out_;
  LayoutConverter dst_out_, diff_dst_in_;
  std::vector<dnnl::memory> wide_diff_src_;
};

}  // namespace

std::unique_ptr<Kernel> compile_emulated(KernelBuilder& b, DType storage, CompileFn compile) {
  return std::make_unique<EmulatedKernel>(b, storage, compile);
}

}  // namespace nimble::kernels
