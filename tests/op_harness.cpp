#include "op_harness.hpp"

#include <cmath>

#include "kernels/registry.hpp"

namespace nimble::testing {

using namespace kernels;

Tensor random_tensor(const Shape& s, Rng& rng, float lo, float hi) {
  Tensor t(s);
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = rng.uniform(lo, hi);
  return t;
}

OpHarness::OpHarness(OpKind op, Attrs attrs, std::vector<Shape> in_shapes, uint64_t seed)
    : in_shapes_(std::move(in_shapes)) {
  node_.name = std::string("test_") + op_name(op);
  node_.op = op;
  node_.attrs = std::move(attrs);
  node_.output = int(in_shapes_.size());
  for (size_t i = 0; i < in_shapes_.size(); ++i) node_.inputs.push_back(int(i));
  Rng rng(seed);
  const OpDef& def = op_def(op);
  if (def.init_params) def.init_params(node_, in_shapes_, rng);
  // Constant initialisations (ones, zeros) would hide indexing bugs: perturb every parameter.
  for (auto& [key, p] : node_.params) {
    float* d = p->data.data<float>();
    for (int64_t i = 0; i < p->data.numel(); ++i)
      d[i] = key == "running_var" ? rng.uniform(0.5f, 1.5f) : d[i] + rng.uniform(-0.5f, 0.5f);
    p->touch();
  }
}

Shape OpHarness::out_shape() const { return op_def(node_.op).infer(node_, in_shapes_); }

namespace {
struct Compiled {
  std::unique_ptr<kernels::Kernel> kernel;
  kernels::KernelArgs args;
  md dst_desc;
  std::vector<md> src_desc;
};

Compiled compile(const Node& node, const std::vector<Shape>& in_shapes, Mode mode, const Shape& out) {
  auto& eng = cpu_engine();
  kernels::KernelBuilder b{node, mode, eng, {}, {}, out, {}, DType::f32, md()};
  for (const Shape& s : in_shapes) {
    b.src_desc.push_back(plain_desc(s));
    b.src_shape.push_back(s);
    b.need_diff_src.push_back(mode == Mode::train);
  }
  Compiled c;
  c.kernel = kernels::kernel_for(node.op)(b);
  c.dst_desc = b.dst_desc;
  c.src_desc = b.src_desc;
  c.args.dst = dnnl::memory(b.dst_desc, eng);
  if (mode == Mode::train) c.args.diff_dst = dnnl::memory(b.dst_desc, eng);
  return c;
}

}  // namespace

dnnl::memory to_layout(dnnl::stream& s, const Tensor& t, const md& desc) {
  auto& eng = cpu_engine();
  dnnl::memory plain(plain_desc(t.shape()), eng, const_cast<void*>(t.raw()));
  dnnl::memory out(desc, eng);
  dnnl::reorder(plain, out).execute(s, plain, out);
  s.wait();
  return out;
}

Tensor to_plain(dnnl::stream& s, const dnnl::memory& m, const Shape& shape) {
  Tensor t(shape);
  dnnl::memory plain(plain_desc(shape), cpu_engine(), t.raw());
  dnnl::reorder(m, plain).execute(s, const_cast<dnnl::memory&>(m), plain);
  s.wait();
  return t;
}

Tensor OpHarness::forward(const std::vector<Tensor>& inputs, Mode mode) {
  dnnl::stream s(cpu_engine());
  Compiled c = compile(node_, in_shapes_, mode, out_shape());
  for (size_t i = 0; i < inputs.size(); ++i) c.args.src.push_back(to_layout(s, inputs[i], c.src_desc[i]));
  c.kernel->forward(s, c.args);
  s.wait();
  return to_plain(s, c.args.dst, out_shape());
}

std::vector<Tensor> OpHarness::backward(const std::vector<Tensor>& inputs, const Tensor& diff_dst) {
  dnnl::stream s(cpu_engine());
  Compiled c = compile(node_, in_shapes_, Mode::train, out_shape());
  for (size_t i = 0; i < inputs.size(); ++i) {
    c.args.src.push_back(to_layout(s, inputs[i], c.src_desc[i]));
    c.args.diff_src.emplace_back(c.src_desc[i], cpu_engine());
  }
  c.kernel->forward(s, c.args);
  dnnl::memory dd = to_layout(s, diff_dst, c.dst_desc);
  std::memcpy(c.args.diff_dst.get_data_handle(), dd.get_data_handle(), c.dst_desc.get_size());
  c.kernel->backward(s, c.args);
  s.wait();
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) out.push_back(to_plain(s, c.args.diff_src[i], in_shapes_[i]));
  return out;
}

Tensor OpHarness::reference(const std::vector<Tensor>& inputs, bool training) const {
  return op_def(node_.op).reference(node_, inputs, training);
}

::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, float atol, float rtol) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << a.shape().str() << " vs " << b.shape().str();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << x[i] << " vs " << y[i] << " (atol " << atol << ", rtol " << rtol << ")";
  }
  return ::testing::AssertionSuccess();
}

void expect_matches_reference(OpHarness& h, Mode mode, uint64_t seed, float atol, float rtol) {
  Rng rng(seed);
  std::vector<Tensor> inputs;
  for (const Shape& s : h.in_shapes()) inputs.push_back(random_tensor(s, rng));
  Tensor got = h.forward(inputs, mode);
  Tensor want = h.reference(inputs, mode == Mode::train);
  EXPECT_TRUE(all_close(got, want, atol, rtol))
      << op_name(h.node().op) << " in " << (mode == Mode::train ? "train" : "eval") << " mode, input "
      << h.in_shapes()[0].str();
}

namespace {
double weighted_sum(const Tensor& out, const Tensor& r) {
  double acc = 0;
  for (int64_t i = 0; i < out.numel(); ++i) acc += double(out.data<float>()[i]) * r.data<float>()[i];
  return acc;
}

// Central difference of sum(forward * r) with respect to element `i` of `t`.
double central_difference(OpHarness& h, const std::vector<Tensor>& inputs, const Tensor& r, float* elem, float eps,
                          const std::function<void()>& changed) {
  const float keep = *elem;
  *elem = keep + eps;
  changed();
  double up = weighted_sum(h.forward(inputs, Mode::train), r);
  *elem = keep - eps;
  changed();
  double down = weighted_sum(h.forward(inputs, Mode::train), r);
  *elem = keep;
  changed();
  return (up - down) / (2.0 * eps);
}
}  // namespace

void expect_gradients_match_fd(OpHarness& h, uint64_t seed, float eps, float atol, float rtol, int max_checks) {
  Rng rng(seed);
  std::vector<Tensor> inputs;
  for (const Shape& s : h.in_shapes()) inputs.push_back(random_tensor(s, rng));
  Tensor r = random_tensor(h.out_shape(), rng);
  std::vector<Tensor> diff_src = h.backward(inputs, r);
  // Copy analytic parameter gradients before FD forwards run.
  std::map<std::string, Tensor> param_grads;
  for (auto& [key, p] : h.node().params)
    if (p->trainable) param_grads[key] = p->grad.clone();

  auto check = [&](const std::string& what, Tensor& t, const Tensor& analytic, const std::function<void()>& changed) {
    const int64_t n = t.numel();
    const int64_t step = std::max<int64_t>(1, n / max_checks);
    for (int64_t i = 0; i < n; i += step) {
      double fd = central_difference(h, inputs, r, t.data<float>() + i, eps, changed);
      float a = analytic.data<float>()[i];
      EXPECT_LE(std::fabs(a - fd), atol + rtol * std::fabs(fd)) << op_name(h.node().op) << ": d/d " << what << "[" << i
                                                                << "] analytic " << a << " vs finite difference " << fd;
    }
  };
  for (size_t k = 0; k < inputs.size(); ++k) check("input" + std::to_string(k), inputs[k], diff_src[k], [] {});
  for (auto& [key, g] : param_grads) {
    ParamPtr p = h.node().params[key];
    check(key, p->data, g, [p] { p->touch(); });
  }
}

}  // namespace nimble::testing
