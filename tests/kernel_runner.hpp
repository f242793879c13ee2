#pragma once
// Runs one node's runtime kernel with its inputs in chosen layouts (e.g. blocked nChw16c) and keeps
// the kernel alive across calls. For tests the OpHarness cannot express: layouts other than plain,
// several forwards through one kernel, or the physical (padded) output buffer.
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/registry.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::testing {

class KernelRunner {
 public:
  // `node` must outlive the runner (kernels keep a reference to it). `compute`: the session's
  // compute precision (bf16: the kernel may choose bf16 outputs).
  KernelRunner(const Node& node, std::vector<Shape> in_shapes, std::vector<kernels::md> src_desc, Mode mode,
               DType compute = DType::f32)
      : in_shapes_(std::move(in_shapes)), stream_(kernels::cpu_engine()) {
    auto& eng = kernels::cpu_engine();
    out_shape_ = op_def(node.op).infer(node, in_shapes_);
    kernels::KernelBuilder b{node, mode, eng, std::move(src_desc), in_shapes_, out_shape_, {}, compute, kernels::md()};
    for (size_t i = 0; i < in_shapes_.size(); ++i) b.need_diff_src.push_back(mode == Mode::train);
    kernel_ = kernels::kernel_for(node.op)(b);
    src_desc_ = b.src_desc;
    dst_desc_ = b.dst_desc;
    for (const auto& d : src_desc_) {
      args_.src.emplace_back(d, eng);
      if (mode == Mode::train) args_.diff_src.emplace_back(d, eng);
    }
    args_.dst = dnnl::memory(dst_desc_, eng);
    if (mode == Mode::train) args_.diff_dst = dnnl::memory(dst_desc_, eng);
  }

  Tensor forward(const std::vector<Tensor>& inputs) {
    for (size_t i = 0; i < inputs.size(); ++i) from_plain(inputs[i], args_.src[i]);
    kernel_->forward(stream_, args_);
    stream_.wait();
    return to_plain(args_.dst, out_shape_);
  }

  // Input gradients for `diff_dst`, using the state of the last forward().
  std::vector<Tensor> backward(const Tensor& diff_dst) {
    from_plain(diff_dst, args_.diff_dst);
    kernel_->backward(stream_, args_);
    stream_.wait();
    std::vector<Tensor> out;
    for (size_t i = 0; i < args_.diff_src.size(); ++i) out.push_back(to_plain(args_.diff_src[i], in_shapes_[i]));
    return out;
  }

  const kernels::md& dst_desc() const { return dst_desc_; }
  const kernels::md& src_desc(int i) const { return src_desc_[i]; }
  dnnl::memory& dst() { return args_.dst; }
  dnnl::memory& src(int i) { return args_.src[i]; }
  dnnl::memory& diff_src(int i) { return args_.diff_src[i]; }

 private:
  void from_plain(const Tensor& t, dnnl::memory& m) {
    dnnl::memory plain(kernels::plain_desc(t.shape()), kernels::cpu_engine(), const_cast<void*>(t.raw()));
    dnnl::reorder(plain, m).execute(stream_, plain, m);
    stream_.wait();
  }
  Tensor to_plain(dnnl::memory& m, const Shape& shape) {
    Tensor t(shape);
    dnnl::memory plain(kernels::plain_desc(shape), kernels::cpu_engine(), t.raw());
    dnnl::reorder(m, plain).execute(stream_, m, plain);
    stream_.wait();
    return t;
  }

  std::vector<Shape> in_shapes_;
  Shape out_shape_;
  dnnl::stream stream_;
  std::unique_ptr<kernels::Kernel> kernel_;
  std::vector<kernels::md> src_desc_;
  kernels::md dst_desc_;
  kernels::KernelArgs args_;
};

// A 4-D layout by tag, e.g. layout(s, tag::nChw16c); f32 unless `type` says otherwise.
inline kernels::md layout(const Shape& s, kernels::tag t, kernels::dt type = kernels::dt::f32) {
  return kernels::md(kernels::to_dims(s), type, t);
}

// The physical buffer of a memory as floats (padding included).
inline std::vector<float> physical(const dnnl::memory& m) {
  const float* p = static_cast<const float*>(m.get_data_handle());
  return std::vector<float>(p, p + m.get_desc().get_size() / sizeof(float));
}

}  // namespace nimble::testing
