#include "layout_harness.hpp"

#include <cmath>
#include <limits>

#include "kernels/registry.hpp"
#include "op_harness.hpp"

namespace nimble::testing {

using namespace kernels;

dnnl::memory::desc desc_of(const Shape& shape, dnnl::memory::format_tag t) { return md(to_dims(shape), dt::f32, t); }

LayoutRun run_in_layouts(const Node& node, const std::vector<Tensor>& inputs, const std::vector<tag>& tags, Mode mode,
                         const Tensor* diff_dst) {
  auto& eng = cpu_engine();
  dnnl::stream s(eng);
  std::vector<Shape> shapes;
  shapes.reserve(inputs.size());
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  const Shape out_shape = op_def(node.op).infer(node, shapes);
  kernels::KernelBuilder b{node, mode, eng, {}, {}, out_shape, {}, DType::f32, md()};
  for (size_t i = 0; i < inputs.size(); ++i) {
    b.src_desc.push_back(desc_of(shapes[i], tags[i]));
    b.src_shape.push_back(shapes[i]);
    b.need_diff_src.push_back(mode == Mode::train);
  }
  auto kernel = kernels::kernel_for(node.op)(b);
  kernels::KernelArgs a;
  for (size_t i = 0; i < inputs.size(); ++i) a.src.push_back(to_layout(s, inputs[i], b.src_desc[i]));
  a.dst = dnnl::memory(b.dst_desc, eng);
  kernel->forward(s, a);
  s.wait();
  LayoutRun run{to_plain(s, a.dst, out_shape), {}, b.dst_desc};
  if (!diff_dst) return run;
  a.diff_dst = to_layout(s, *diff_dst, b.dst_desc);
  for (size_t i = 0; i < inputs.size(); ++i) {
    a.diff_src.emplace_back(b.src_desc[i], eng);
    float* d = static_cast<float*>(a.diff_src[i].get_data_handle());
    for (size_t k = 0; k < b.src_desc[i].get_size() / sizeof(float); ++k)
      d[k] = std::numeric_limits<float>::quiet_NaN();
  }
  kernel->backward(s, a);
  s.wait();
  for (size_t i = 0; i < inputs.size(); ++i) run.diff_src.push_back(to_plain(s, a.diff_src[i], shapes[i]));
  return run;
}

}  // namespace nimble::testing
