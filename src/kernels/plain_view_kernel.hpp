#pragma once
// The kernel flatten and reshape share: a reshape is only meaningful on plain row-major data, so
// forward reorders the input (in whatever layout its producer chose) into a plain image of the
// input shape written straight into dst's buffer; backward does the reverse into src's layout.
// Internal: included by flatten_kernel.cpp and reshape_kernel.cpp only.
#include "kernels/kernel.hpp"

namespace nimble::kernels {

class PlainViewKernel : public Kernel {
 public:
  explicit PlainViewKernel(KernelBuilder& b) {
    const auto& eng = b.engine;
    const dt type = b.src_desc[0].data_type();
    const md src_plain(to_dims(b.src_shape[0]), type, plain_tag(b.src_shape[0].rank()));
    to_plain_ = LayoutConverter(b.src_desc[0], src_plain, eng);
    if (b.training()) from_plain_ = LayoutConverter(src_plain, b.src_desc[0], eng);
    view_ = dnnl::memory(src_plain, eng, DNNL_MEMORY_NONE);
    b.dst_desc = md(to_dims(b.dst_shape), type, plain_tag(b.dst_shape.rank()));
  }

  void forward(dnnl::stream& s, KernelArgs& a) override {
    view_.set_data_handle(a.dst.get_data_handle());  // dst's buffer, seen with the input's shape
    to_plain_.into(s, a.src[0], view_);
  }

  void backward(dnnl::stream& s, KernelArgs& a) override {
    if (!a.diff_src[0]) return;
    view_.set_data_handle(a.diff_dst.get_data_handle());
    from_plain_.into(s, view_, a.diff_src[0]);
  }

 private:
  LayoutConverter to_plain_, from_plain_;
  dnnl::memory view_;  // plain, input-shaped; its handle points at dst or diff_dst
};

}  // namespace nimble::kernels
