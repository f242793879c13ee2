#include "nimble/runtime/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <omp.h>

#include "kernels/f16_convert.hpp"
#include "kernels/kernel.hpp"
#include "kernels/registry.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/graph/passes.hpp"
#include "nimble/model.hpp"
#include "runtime/machine.hpp"

namespace nimble {

using namespace kernels;

struct Session::Impl {
  Graph graph;
  SessionOptions opt;
  Shape model_input;            // per sample, as the graph was given (before inference passes)
  Preprocessing preprocessing;  // what run() applies to uint8 images
  dnnl::stream stream;
  std::vector<Shape> shapes;
  std::vector<md> desc;                 // per value
  std::vector<dnnl::memory> mem, diff;  // per value
  std::vector<std::unique_ptr<kernels::Kernel>> kernels;
  std::vector<kernels::KernelArgs> args;
  // Fan-out: extra gradient slots summed into diff[value] before its producer's backward.
  std::vector<std::vector<dnnl::memory>> extra_diff;  // per value
  std::vector<dnnl::binary> accumulate;               // per value with extra_diff; empty for fp16
  LayoutConverter out_to_plain, diff_out_from_plain;
  Tensor output;
  dnnl::memory output_mem;  // `output`'s buffer, made once: not a memory object per call
  dnnl::memory diff_out_user;
  // NIMBLE_PROFILE=1: wall time per node and direction, printed when the session ends.
  bool profiling = std::getenv("NIMBLE_PROFILE") != nullptr;
  std::vector<double> forward_ms, backward_ms;  // per node, summed
  int64_t forward_calls = 0, backward_calls = 0;
  std::function<void(size_t)> backward_observer;

  template <class F> void timed(std::vector<double>& ms, size_t n, F run) {
    if (!profiling) return run();
    const auto t0 = std::chrono::steady_clock::now();
    run();
    if (ms.empty()) ms.assign(kernels.size(), 0.0);
    ms[n] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  void print_profile() const;

  void compile();
  void check_memory_fits(const std::vector<std::vector<int>>& consumers) const;
  void compile_accumulate(size_t v);
};

namespace {
// The session's thread count while it compiles or runs, the caller's again after.
class SessionThreads {
 public:
  explicit SessionThreads(int threads) : saved_(omp_get_max_threads()), set_(threads > 0 && threads != saved_) {
    if (set_) omp_set_num_threads(threads);
  }
  ~SessionThreads() {
    if (set_) omp_set_num_threads(saved_);
  }
  SessionThreads(const SessionThreads&) = delete;
  SessionThreads& operator=(const SessionThreads&) = delete;

 private:
  int saved_;
  bool set_;
};
}  // namespace

// diff[v] += extra: a binary add, or for fp16 (no oneDNN binary; its fp16 reorder-with-sum is a
// serial reference kernel) a flat loop that adds in fp32 and rounds once.
void Session::Impl::compile_accumulate(size_t v) {
  if (desc[v].data_type() == dt::f16) return;
  accumulate[v] = guarded("gradient accumulation", [&] {
    return dnnl::binary(dnnl::binary::primitive_desc(
        dnnl::binary::desc(dnnl::algorithm::binary_add, desc[v], desc[v], desc[v]), cpu_engine()));
  });
}

// Refused before anything is allocated: a batch that cannot fit would otherwise end in an
// allocation failure (or the OOM killer) somewhere in the middle of the work. A lower bound: every
// value in fp32 once, in training with its gradient (one more per extra reader) and the
// parameters' gradients; oneDNN's workspaces come on top.
void Session::Impl::check_memory_fits(const std::vector<std::vector<int>>& consumers) const {
  const bool train = opt.mode == Mode::train;
  int64_t values = 0, params = 0;
  for (size_t v = 0; v < shapes.size(); ++v)
    values += shapes[v].numel() * 4 * (train ? 1 + std::max<int64_t>(1, int64_t(consumers[v].size())) : 1);
  for (const auto& [name, p] : graph.named_params()) params += p->data.nbytes() * (train ? 2 : 1);
  const MemoryRoom room = memory_room();
  const auto mib = [](int64_t b) { return std::to_string((b + (1 << 20) - 1) >> 20); };
  NIMBLE_CHECK(values + params <= room.bytes,
               "not enough memory: at batch " + std::to_string(opt.batch) + " this model needs at least " +
                   mib(values + params) + " MiB (" + mib(values) + " MiB of activations" +
                   (train ? " and their gradients" : "") + ", " + mib(params) + " MiB of parameters) but " +
                   mib(room.bytes) + " MiB is left under " + room.bound + "; try a smaller batch");
}

void Session::Impl::compile() {
  graph.validate();
  NIMBLE_CHECK(opt.batch >= 1, "batch size must be at least 1");
  const bool train = opt.mode == Mode::train;
  auto& eng = cpu_engine();
  stream = dnnl::stream(eng);
  shapes = graph.infer_shapes(opt.batch);
  const auto consumers = graph.consumers();
  check_memory_fits(consumers);
  const size_t nv = graph.values().size();
  desc.assign(nv, md());
  mem.assign(nv, dnnl::memory());
  diff.assign(nv, dnnl::memory());
  extra_diff.assign(nv, {});
  accumulate.assign(nv, dnnl::binary());

  const int in = graph.input();
  desc[in] = plain_desc(shapes[in]);
  mem[in] = dnnl::memory(desc[in], eng, DNNL_MEMORY_NONE);

  for (const Node& node : graph.nodes()) {
    KernelBuilder b{node,
                    opt.mode,
                    eng,
                    {},
                    {},
                    shapes[node.output],
                    {},
                    DType::f32,
                    md(),
                    opt.choose_kernels_by_timing,
                    opt.sync_batch_norm};
    for (int v : node.inputs) {
      b.src_desc.push_back(desc[v]);
      b.src_shape.push_back(shapes[v]);
      b.need_diff_src.push_back(train && v != in);
    }
    const OpDef& def = op_def(node.op);
    bool int8_in = false;
    for (const md& d : b.src_desc) int8_in = int8_in || d.data_type() == dt::u8 || d.data_type() == dt::s8;
    NIMBLE_CHECK(
        !int8_in || def.traits.takes_int8,
        std::string(def.name) + " '" + node.name + "' cannot take an int8 input; a dequantize node must come first");
    // Int8 ops, and ops running on int8 values, carry their own scales: no precision rule applies.
    const bool int8_op = int8_in || def.traits.low_precision == LowPrecision::int8;
    const OpPrecisionRule rule =
        int8_op ? OpPrecisionRule::follow : op_precision_rule(opt.precision, node, b.src_shape);
    const DType low = low_dtype(opt.precision);
    b.compute = rule == OpPrecisionRule::low ? low : DType::f32;
    kernels.push_back(guarded(std::string("compiling ") + def.name + " '" + node.name + "'", [&] {
      const CompileFn compile = kernel_for(node.op);
      return rule == OpPrecisionRule::emulated ? compile_emulated(b, low, compile) : compile(b);
    }));
    NIMBLE_ASSERT(!b.dst_desc.is_zero(), std::string(def.name) + " did not set its dst layout");
    desc[node.output] = b.dst_desc;
    mem[node.output] = dnnl::memory(b.dst_desc, eng);
    // An op that adds into one of its inputs (a convolution with a fused residual) writes over
    // that input's buffer when nothing reads the input later, so it need not copy it first.
    if (!train && b.dst_may_share_input >= 0) {
      const int shared = node.inputs[size_t(b.dst_may_share_input)];
      const int self = int(&node - graph.nodes().data());
      const bool last_reader = std::all_of(consumers[size_t(shared)].begin(), consumers[size_t(shared)].end(),
                                           [self](int c) { return c <= self; });
      if (shared != in && shared != graph.output() && last_reader && desc[size_t(shared)] == b.dst_desc)
        mem[node.output] = mem[size_t(shared)];
    }
  }

  if (train) {
    for (size_t v = 0; v < nv; ++v) {
      if (int(v) == in) continue;
      diff[v] = dnnl::memory(desc[v], eng);
      std::memset(diff[v].get_data_handle(), 0, desc[v].get_size());
      for (size_t k = 1; k < consumers[v].size(); ++k) extra_diff[v].push_back(dnnl::memory(desc[v], eng));
      if (!extra_diff[v].empty()) compile_accumulate(v);
    }
  }

  // Wire each node's arguments; the k-th consumer of a fanned-out value writes its own slot.
  std::vector<size_t> seen(nv, 0);
  for (const Node& node : graph.nodes()) {
    KernelArgs a;
    for (int v : node.inputs) {
      a.src.push_back(mem[v]);
      if (!train || v == in) {
        a.diff_src.emplace_back();
      } else {
        size_t k = seen[v]++;
        a.diff_src.push_back(k == 0 ? diff[v] : extra_diff[v][k - 1]);
      }
    }
    a.dst = mem[node.output];
    if (train) a.diff_dst = diff[node.output];
    args.push_back(std::move(a));
  }

  const int out = graph.output();
  output = Tensor(shapes[out]);
  output_mem = dnnl::memory(plain_desc(output.shape()), eng, output.raw());
  out_to_plain = LayoutConverter(desc[out], plain_desc(shapes[out]), eng);
  if (train) {
    diff_out_from_plain = LayoutConverter(plain_desc(shapes[out]), desc[out], eng);
    diff_out_user = dnnl::memory(plain_desc(shapes[out]), eng, DNNL_MEMORY_NONE);
  }
}

Session::Session(const Graph& graph, SessionOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
  if (!options.optimize)
    impl_->graph = graph;
  else if (options.mode == Mode::eval)
    impl_->graph = passes::optimize_for_session(graph);
  else
    impl_->graph = passes::fuse_training_activations(graph);
  impl_->model_input = graph.input_shape();
  if (impl_->opt.threads <= 0) impl_->opt.threads = omp_get_max_threads();
  const SessionThreads threads(impl_->opt.threads);
  impl_->compile();
}

void Session::Impl::print_profile() const {
  if (!profiling || forward_calls == 0) return;
  std::fprintf(stderr, "profile: %lld forward and %lld backward passes at batch %lld, ms per pass\n",
               (long long)forward_calls, (long long)backward_calls, (long long)opt.batch);
  std::fprintf(stderr, "%10s %10s  node\n", "forward", "backward");
  double total_f = 0, total_b = 0;
  for (size_t n = 0; n < kernels.size(); ++n) {
    const double f = forward_ms[n] / double(forward_calls);
    const double b = backward_calls ? backward_ms[n] / double(backward_calls) : 0.0;
    total_f += f;
    total_b += b;
    std::fprintf(stderr, "%10.4f %10.4f  %s (%s)\n", f, b, graph.nodes()[n].name.c_str(), op_name(graph.nodes()[n].op));
  }
  std::fprintf(stderr, "%10.4f %10.4f  total\n", total_f, total_b);
}

Session::Session(const Model& model, SessionOptions options) : Session(model.graph, options) {
  impl_->preprocessing = model.preprocessing;
}

Tensor Session::run(const Tensor& images) {
  Impl& m = *impl_;
  NIMBLE_CHECK(m.opt.mode == Mode::eval, "run() is for inference sessions; training uses forward() and backward()");
  const Tensor x = preprocess_images(m.preprocessing, m.model_input, images);  // (N, C, H, W) f32
  const int64_t n = x.shape()[0], b = m.opt.batch, per_in = m.model_input.numel();
  std::vector<int64_t> out_dims = m.shapes[size_t(m.graph.output())].dims();  // (batch, ...)
  const int64_t per_out = m.shapes[size_t(m.graph.output())].numel() / b;
  out_dims[0] = n;
  Tensor out{Shape(out_dims)};
  Tensor chunk({b, m.model_input[0], m.model_input[1], m.model_input[2]});
  for (int64_t first = 0; first < n; first += b) {
    const int64_t count = std::min(b, n - first);
    std::copy_n(x.data<float>() + first * per_in, count * per_in, chunk.data<float>());
    std::fill(chunk.data<float>() + count * per_in, chunk.data<float>() + b * per_in, 0.0f);
    const Tensor& y = forward(chunk);
    std::copy_n(y.data<float>(), count * per_out, out.data<float>() + first * per_out);
  }
  return out;
}

Session::~Session() {
  if (impl_) impl_->print_profile();
}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Tensor& Session::forward(const Tensor& input) {
  Impl& m = *impl_;
  const int in = m.graph.input();
  NIMBLE_CHECK(input.dtype() == DType::f32, "session input must be f32");
  NIMBLE_CHECK(input.shape() == m.shapes[in],
               "session compiled for input " + m.shapes[in].str() + " got " + input.shape().str());
  m.mem[in].set_data_handle(const_cast<void*>(input.raw()));
  const SessionThreads threads(m.opt.threads);
  size_t n = 0;  // names the failing node without building a string per node on the hot path
  try {
    for (; n < m.kernels.size(); ++n) m.timed(m.forward_ms, n, [&] { m.kernels[n]->forward(m.stream, m.args[n]); });
    ++m.forward_calls;
  } catch (const dnnl::error& e) {
    throw Error("oneDNN failed in forward of '" + m.graph.nodes()[n].name + "': " + e.what());
  }
  guarded("forward output", [&] {
    m.out_to_plain.into(m.stream, m.mem[m.graph.output()], m.output_mem);
    m.stream.wait();
  });
  return m.output;
}

void Session::backward(const Tensor& diff_output) { backward(diff_output, {}); }

void Session::backward(const Tensor& diff_output, const std::vector<std::pair<int, Tensor>>& value_grads) {
  Impl& m = *impl_;
  NIMBLE_CHECK(m.opt.mode == Mode::train, "backward() needs a session compiled in train mode");
  const SessionThreads threads(m.opt.threads);
  NIMBLE_CHECK(diff_output.shape() == m.output.shape() && diff_output.dtype() == DType::f32,
               "backward() needs a gradient of shape " + m.output.shape().str());
  // Gradients arriving at intermediate values, in each value's layout, added to its gradient just
  // before its producer's backward.
  std::vector<std::vector<dnnl::memory>> injected(m.diff.size());
  for (const auto& value_grad : value_grads) {
    const int v = value_grad.first;  // not a structured binding: clang 14 cannot capture those
    const Tensor& grad = value_grad.second;
    NIMBLE_CHECK(
        v >= 0 && size_t(v) < m.diff.size() && v != m.graph.input() && m.graph.values()[size_t(v)].producer >= 0,
        "backward(): no intermediate value " + std::to_string(v) + " in this session's graph");
    NIMBLE_CHECK(
        grad.shape() == m.shapes[size_t(v)] && grad.dtype() == DType::f32,
        "backward(): the gradient of value " + std::to_string(v) + " must be f32 " + m.shapes[size_t(v)].str());
    guarded("value gradient", [&] {
      dnnl::memory plain(plain_desc(grad.shape()), cpu_engine(), const_cast<void*>(grad.raw()));
      dnnl::memory into(m.desc[size_t(v)], cpu_engine());
      LayoutConverter(plain.get_desc(), m.desc[size_t(v)], cpu_engine()).into(m.stream, plain, into);
      injected[size_t(v)].push_back(into);
      if (!m.accumulate[size_t(v)]) m.compile_accumulate(size_t(v));
    });
  }
  guarded("backward input", [&] {
    m.diff_out_user.set_data_handle(const_cast<void*>(diff_output.raw()));
    m.diff_out_from_plain.into(m.stream, m.diff_out_user, m.diff[m.graph.output()]);
  });
  const auto& nodes = m.graph.nodes();
  size_t n = nodes.size();
  try {
    while (n-- > 0) {
      const int v = nodes[n].output;
      auto add = [&](const dnnl::memory& extra) {
        if (m.accumulate[v])
          m.accumulate[v].execute(m.stream,
                                  {{DNNL_ARG_SRC_0, m.diff[v]}, {DNNL_ARG_SRC_1, extra}, {DNNL_ARG_DST, m.diff[v]}});
        else
          f16_accumulate(static_cast<uint16_t*>(m.diff[v].get_data_handle()),
                         static_cast<const uint16_t*>(extra.get_data_handle()), int64_t(m.desc[v].get_size() / 2));
      };
      for (auto& extra : m.extra_diff[v]) add(extra);
      for (auto& extra : injected[v]) add(extra);
      m.timed(m.backward_ms, n, [&] { m.kernels[n]->backward(m.stream, m.args[n]); });
      if (m.backward_observer) m.backward_observer(n);
    }
    ++m.backward_calls;
  } catch (const dnnl::error& e) {
    throw Error("oneDNN failed in backward of '" + nodes[n].name + "': " + e.what());
  }
  m.stream.wait();
}

void Session::set_forward_passes(int64_t passes) {
  NIMBLE_CHECK(passes >= 0, "forward passes must be non-negative");
  for (auto& k : impl_->kernels) k->set_forward_passes(passes);
}

void Session::set_backward_observer(std::function<void(size_t)> observer) {
  impl_->backward_observer = std::move(observer);
}

std::vector<std::vector<double>> Session::profile_samples(const Tensor& input, int iters) {
  Impl& m = *impl_;
  forward(input);  // warm-up, and checks the input
  const SessionThreads threads(m.opt.threads);
  std::vector<std::vector<double>> ms(m.kernels.size());
  for (int it = 0; it < iters; ++it) {
    for (size_t n = 0; n < m.kernels.size(); ++n) {
      const auto t0 = std::chrono::steady_clock::now();
      guarded("forward of '" + m.graph.nodes()[n].name + "'", [&] {
        m.kernels[n]->forward(m.stream, m.args[n]);
        m.stream.wait();
      });
      ms[n].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return ms;
}

std::vector<double> Session::profile(const Tensor& input, int iters) {
  std::vector<double> median;
  for (auto& v : profile_samples(input, iters)) {
    std::sort(v.begin(), v.end());
    median.push_back(v.empty() ? 0.0 : v[v.size() / 2]);
  }
  return median;
}

Tensor Session::value(int id) {
  Impl& m = *impl_;
  NIMBLE_CHECK(id >= 0 && size_t(id) < m.mem.size(), "no value " + std::to_string(id) + " in this session's graph");
  NIMBLE_CHECK(id != m.graph.input(), "value(): the input is the caller's own tensor");
  const dt type = m.desc[size_t(id)].data_type();
  NIMBLE_CHECK(type != dt::u8 && type != dt::s8, "value(): value " + std::to_string(id) + " is int8");
  Tensor t(m.shapes[size_t(id)]);
  guarded("reading a value", [&] {
    dnnl::memory plain(plain_desc(t.shape()), cpu_engine(), t.raw());
    LayoutConverter(m.desc[size_t(id)], plain.get_desc(), cpu_engine()).into(m.stream, m.mem[size_t(id)], plain);
    m.stream.wait();
  });
  return t;
}

const Graph& Session::graph() const { return impl_->graph; }
int64_t Session::batch() const { return impl_->opt.batch; }
Mode Session::mode() const { return impl_->opt.mode; }
int Session::threads() const { return impl_->opt.threads; }

}  // namespace nimble
