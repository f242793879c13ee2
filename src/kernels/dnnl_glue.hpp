#pragma once
// oneDNN glue shared by every op's runtime kernel. Internal header: only .cpp files include it.
#include <cstring>
#include <dnnl.hpp>
#include <initializer_list>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::kernels {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using md = dnnl::memory::desc;

dnnl::engine& cpu_engine();
dt to_dnnl(DType t);
dnnl::memory::dims to_dims(const Shape& s);
tag plain_tag(int rank);  // a, ab, abc, abcd, abcde
// The tag among the usual ones (plain, channels-last, 16/8/4-channel blocks) that describes `d`
// holding shape `s`, or undef.
tag usual_tag(const md& d, const Shape& s);
md plain_desc(const Shape& s, DType t = DType::f32);
md any_desc(const Shape& s, DType t = DType::f32);
// The same layout (blocking, strides) holding another data type.
md with_dtype(const md& d, dt type);

// Runs primitive `p` with its arguments in a stack array. dnnl::primitive::execute takes a
// std::unordered_map and copies it into a vector: allocations on every call, a measurable share of
// a batch-1 call of a small model (docs/results.md, "Runtime overhead at batch 1").
inline dnnl_exec_arg_t arg(int which, const dnnl::memory& m) { return {which, m.get(true)}; }
inline void execute(const dnnl::primitive& p, const dnnl::stream& s, std::initializer_list<dnnl_exec_arg_t> args) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), s.get(), int(args.size()), args.begin()),
                          "could not execute a primitive");
}
// A reorder's two arguments.
inline void execute(const dnnl::reorder& r, const dnnl::stream& s, const dnnl::memory& from, const dnnl::memory& to) {
  execute(r, s, {arg(DNNL_ARG_FROM, from), arg(DNNL_ARG_TO, to)});
}

// Runs `fn`, turning a dnnl::error into nimble::Error that names what was being done.
template <class Fn> auto guarded(const std::string& what, Fn&& fn) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    throw Error("oneDNN failed in " + what + ": " + e.what());
  }
}

// A reorder decided at compile time: a no-op when the layouts already agree; a flat fp16<->fp32
// loop when they differ only in that data type (kernels/f16_convert.hpp says why).
class LayoutConverter {
 public:
  LayoutConverter() = default;
  LayoutConverter(const md& from, const md& to, const dnnl::engine& eng);
  bool needed() const { return needed_; }
  const md& to_desc() const { return to_; }
  // Returns `src` itself or the converted copy.
  dnnl::memory operator()(dnnl::stream& s, const dnnl::memory& src);
  // Converts into a caller-provided destination (always copies).
  void into(dnnl::stream& s, const dnnl::memory& src, const dnnl::memory& dst);

 private:
  bool needed_ = false;
  enum class Cast { none, to_f16, to_f32 } cast_ = Cast::none;
  int64_t cast_elements_ = 0;
  void run(dnnl::stream& s, const dnnl::memory& src, const dnnl::memory& dst);
  md to_;
  dnnl::reorder reorder_;
  dnnl::memory buffer_;
};

// A parameter as a primitive wants it: the plain fp32 master copy reordered to the layout (and
// dtype) the primitive negotiated, redone only when Param::version changes — once per optimizer
// step in training, once ever in inference.
class ParamMemory {
 public:
  ParamMemory() = default;
  ParamMemory(ParamPtr p, const md& plain, const md& wanted, const dnnl::engine& eng);
  const dnnl::memory& get(dnnl::stream& s);
  // Use transform(master) instead of the master itself (quantization-aware training's fake-
  // quantized weights); gradients still go to the master (straight through).
  void set_transform(void (*fn)(Tensor& out, const Tensor& in));
  // Writes a gradient in the wanted layout into the plain Param::grad.
  void store_grad(dnnl::stream& s, const dnnl::memory& diff);
  const md& wanted_desc() const { return wanted_; }

 private:
  ParamPtr p_;
  md plain_, wanted_;
  dnnl::memory plain_mem_, wanted_mem_, grad_plain_mem_;
  dnnl::reorder to_wanted_, from_wanted_;
  bool same_ = false;
  void (*transform_)(Tensor&, const Tensor&) = nullptr;
  Tensor staged_;  // transform's output, in the plain layout
  uint64_t version_ = ~uint64_t(0);
  const void* seen_data_ = nullptr;
};

// The weight copy a layer's backward-data reads: the forward's own (`forward`) where it already
// has the layout `wanted`, so the master is reordered once per step rather than twice; otherwise
// `spare`, set up here for `wanted`.
ParamMemory* weights_for_backward_data(ParamMemory& forward, ParamMemory& spare, ParamPtr p, const md& plain,
                                       const md& wanted, const dnnl::engine& eng);

}  // namespace nimble::kernels

namespace nimble::kernels {
dnnl::algorithm to_dnnl(EltwiseAlgorithm a);
// oneDNN eltwise algorithm (and alpha, beta) of an element-wise op, by name (an `activation`
// attribute); throws Error if it names none.
dnnl::algorithm activation_algorithm(const std::string& act, float* alpha, float* beta);
// Post-op attribute for a fused activation ("none": none); with `accumulate`, the result is first
// added to what dst already holds (a oneDNN sum post-op: a residual fused into a convolution).
dnnl::primitive_attr activation_attr(const std::string& act, bool accumulate = false);
}  // namespace nimble::kernels
