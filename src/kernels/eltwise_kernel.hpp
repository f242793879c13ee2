#pragma once
// An activation (relu, relu6, hardswish, sigmoid) as a oneDNN eltwise forward/backward pair that
// runs in whatever layout its input has: dst, diff_dst and diff_src all share the src layout, so an
// activation between two blocked-layout layers never forces a reorder.
#include <string>

#include "kernels/dnnl_glue.hpp"

namespace nimble::kernels {

class EltwiseKernel {
 public:
  EltwiseKernel() = default;
  // `desc`: the layout of src (and therefore of dst and both diffs). `with_backward` builds the
  // backward primitive too (train mode, when someone needs the input gradient).
  EltwiseKernel(const std::string& act, const md& desc, bool training, bool with_backward, const dnnl::engine& eng);

  // Outputs first, then inputs (DESIGN.md conventions).
  void forward(dnnl::stream& s, const dnnl::memory& dst, const dnnl::memory& src);
  // diff_src = f'(src) * diff_dst, from the same src the forward saw.
  void backward(dnnl::stream& s, const dnnl::memory& diff_src, const dnnl::memory& src, const dnnl::memory& diff_dst);
  bool has_backward() const { return has_backward_; }

 private:
  dnnl::eltwise_forward fwd_;
  dnnl::eltwise_backward bwd_;
  bool has_backward_ = false;
};

}  // namespace nimble::kernels
