// End to end through nimble::Session: a small branchy graph whose values travel between ops in
// negotiated (blocked) layouts and whose conv output fans out to four consumers, so backward must
// accumulate gradients. Forward is checked against the chain of reference kernels, parameter
// gradients against central finite differences of the session itself.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "nimble/runtime/session.hpp"
#include "nimble/runtime/timing.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

using V = std::vector<int64_t>;

// x -> conv "stem" -> {conv, pool, avg_pool, 1x1 conv, concat}; add(conv, pool);
// concat(add, stem, 1x1 conv, avg_pool) -> global_avg_pool -> flatten -> reshape.
// `pool` is max_pool2d, or with max_pool = false an avg_pool2d (smooth everywhere).
Graph branchy_graph(Rng& rng, bool max_pool = true) {
  Graph g;
  int x = g.add_input("x", {3, 13, 13});
  int stem = g.add_node(OpKind::conv2d, "stem", {x},
                        {{"out_channels", int64_t(16)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}}, &rng);
  int body = g.add_node(
      OpKind::conv2d, "body", {stem},
      {{"out_channels", int64_t(16)}, {"kernel", V{3, 3}}, {"padding", V{1, 1}}, {"bias", int64_t(0)}}, &rng);
  int pool = g.add_node(max_pool ? OpKind::max_pool2d : OpKind::avg_pool2d, "pool", {stem},
                        {{"kernel", V{3, 3}}, {"stride", V{1, 1}}, {"padding", V{1, 1}}});
  int sum = g.add_node(OpKind::add, "residual", {body, pool});
  int narrow = g.add_node(OpKind::conv2d, "narrow", {stem}, {{"out_channels", int64_t(5)}, {"kernel", V{1, 1}}}, &rng);
  int avgp =
      g.add_node(OpKind::avg_pool2d, "avgp", {stem},
                 {{"kernel", V{3, 3}}, {"stride", V{1, 1}}, {"padding", V{1, 1}}, {"count_include_pad", int64_t(0)}});
  // 16 + 16 + 5 + 16 channels: the cut after `narrow` is not on a 16-channel block boundary.
  int cat = g.add_node(OpKind::concat, "cat", {sum, stem, narrow, avgp});
  int gap = g.add_node(OpKind::global_avg_pool, "gap", {cat});
  int flat = g.add_node(OpKind::flatten, "flat", {gap});
  g.add_node(OpKind::reshape, "shape", {flat}, {{"shape", V{53, 1}}});
  return g;
}

// Runs each node's reference kernel in order: the oracle for the whole graph.
Tensor reference_forward(const Graph& g, const Tensor& input) {
  std::vector<Tensor> values(g.values().size());
  values[g.input()] = input;
  for (const Node& node : g.nodes()) {
    std::vector<Tensor> ins;
    for (int v : node.inputs) ins.push_back(values[v]);
    values[node.output] = op_def(node.op).reference(node, ins, true);
  }
  return values[g.output()];
}

double weighted_sum(const Tensor& out, const Tensor& r) {
  double acc = 0;
  for (int64_t i = 0; i < out.numel(); ++i) acc += double(out.data<float>()[i]) * r.data<float>()[i];
  return acc;
}

TEST(Session, BranchyGraphForwardMatchesReferenceChain) {
  Rng rng(1);
  Graph g = branchy_graph(rng);
  Tensor x = random_tensor({2, 3, 13, 13}, rng);
  Tensor want = reference_forward(g, x);
  EXPECT_EQ(want.shape(), (Shape{2, 53, 1}));
  for (Mode mode : {Mode::train, Mode::eval}) {
    Session session(g, {.batch = 2, .mode = mode});
    EXPECT_TRUE(all_close(session.forward(x), want, 1e-4f, 1e-4f)) << (mode == Mode::train ? "train" : "eval");
    // A second run reuses every buffer and must give the same answer.
    EXPECT_TRUE(all_close(session.forward(x), want, 1e-4f, 1e-4f));
  }
}

// Session::backward's parameter gradients vs central differences of the session's own forward,
// for the parameters whose names pass `wanted`.
void expect_param_gradients_match_fd(Graph& g, Rng& rng, const std::function<bool(const std::string&)>& wanted) {
  Tensor x = random_tensor({2, 3, 13, 13}, rng);
  Session session(g, {.batch = 2, .mode = Mode::train});
  Tensor r = random_tensor(session.forward(x).shape(), rng);
  session.backward(r);
  int checked = 0;
  // eps 1e-3 balances truncation (none: the graph is piecewise linear) against fp32 rounding.
  const float eps = 1e-3f;
  for (auto& [name, p] : g.named_params()) {
    if (!p->trainable || !wanted(name)) continue;
    const Tensor grad = p->grad.clone();  // before the finite-difference forwards
    const int64_t n = p->data.numel(), step = std::max<int64_t>(1, n / 24);
    for (int64_t i = 0; i < n; i += step, ++checked) {
      float* w = p->data.data<float>() + i;
      const float keep = *w;
      *w = keep + eps;
      p->touch();
      const double up = weighted_sum(session.forward(x), r);
      *w = keep - eps;
      p->touch();
      const double down = weighted_sum(session.forward(x), r);
      *w = keep;
      p->touch();
      const double fd = (up - down) / (2.0 * eps);
      const float analytic = grad.data<float>()[i];
      EXPECT_LE(std::fabs(analytic - fd), 2e-3 + 1e-2 * std::fabs(fd))
          << name << "[" << i << "]: analytic " << analytic << " vs finite difference " << fd;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(Session, BranchyGraphParameterGradientsMatchFiniteDifferences) {
  // Every parameter, with the pool branch smooth: a max pool's argmax would flip under some
  // weight perturbations (kinks), making finite differences meaningless there.
  Rng rng(2);
  Graph g = branchy_graph(rng, /*max_pool=*/false);
  EXPECT_EQ(g.named_params().size(), 5u);  // stem weights+bias, body weights, narrow weights+bias
  expect_param_gradients_match_fd(g, rng, [](const std::string&) { return true; });
}

TEST(Session, BranchyGraphWithMaxPoolBiasGradientsMatchFiniteDifferences) {
  // A bias shifts a whole channel, so no max-pool window changes its argmax: the stem's bias
  // gradient is kink-free and still flows back through every branch, max pool included.
  Rng rng(2);
  Graph g = branchy_graph(rng, /*max_pool=*/true);
  expect_param_gradients_match_fd(g, rng, [](const std::string& name) { return name.ends_with(".bias"); });
}

TEST(Session, BackwardTwiceOverwritesGradients) {
  Rng rng(3);
  Graph g = branchy_graph(rng);
  Tensor x = random_tensor({2, 3, 13, 13}, rng);
  Session session(g, {.batch = 2, .mode = Mode::train});
  Tensor r = random_tensor(session.forward(x).shape(), rng);
  session.backward(r);
  Tensor first = g.nodes()[0].params.at("weights")->grad.clone();
  session.forward(x);
  session.backward(r);
  EXPECT_TRUE(all_close(g.nodes()[0].params.at("weights")->grad, first, 1e-6f, 1e-5f))
      << "fanned-out gradients leaked from one backward into the next";
}

TEST(Session, RunsWithItsOwnThreadCountAndRestoresTheCallers) {
  Rng rng(4);
  Graph g = branchy_graph(rng);
  const Tensor x = random_tensor({1, 3, 13, 13}, rng);
  const int callers = omp_get_max_threads();
  Session all(g, {.batch = 1});
  EXPECT_EQ(all.threads(), callers);  // 0: the count when it compiles
  const Tensor expected = all.forward(x).clone();
  Session one(g, {.batch = 1, .threads = 1});
  EXPECT_EQ(one.threads(), 1);
  EXPECT_EQ(omp_get_max_threads(), callers);
  EXPECT_TRUE(all_close(one.forward(x), expected, 1e-5f, 1e-5f));
  EXPECT_EQ(omp_get_max_threads(), callers) << "a one-thread session left its count behind";
}

TEST(Session, BatchOneTimingKeepsTheFasterThreadCount) {
  Rng rng(5);
  Graph g = branchy_graph(rng);
  const ModelTimes t = time_models({{&g, Precision::fp32}}, 4, 2, 8)[0];
  const int all = omp_get_max_threads();
  EXPECT_TRUE(t.batch1_threads == all || t.batch1_threads == 1) << t.batch1_threads;
  EXPECT_EQ(t.big_threads, all);
  EXPECT_EQ(t.batch1_ms.size(), 8u);  // the kept count's calls, in blocks or not
  EXPECT_TRUE(std::is_sorted(t.batch1_ms.begin(), t.batch1_ms.end()));
}

}  // namespace
}  // namespace nimble::testing
