#include "layout_harness.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct SliceCase {
  Shape in;
  int64_t axis, start, end;
  Shape out;
};

const SliceCase kCases[] = {
    {{2, 116, 3, 3}, 1, 0, 58, {2, 58, 3, 3}},    // ShuffleNetV2's chunk(2): first half
    {{2, 116, 3, 3}, 1, 58, 116, {2, 58, 3, 3}},  // second half
    {{1, 3, 13, 13}, 1, 1, 2, {1, 1, 13, 13}},    // one channel from the middle
    {{3, 32, 5, 7}, 1, 16, 32, {3, 16, 5, 7}},    // a whole 16-channel block
    {{3, 32, 5, 7}, 1, 8, 24, {3, 16, 5, 7}},     // across block boundaries
    {{2, 5, 13, 7}, 2, 3, 13, {2, 5, 10, 7}},     // rows
    {{2, 5, 13, 7}, -1, 0, 1, {2, 5, 13, 1}},     // negative axis: columns
    {{3, 127}, 1, 1, 127, {3, 126}},              // rank 2
    {{2, 3, 7}, -2, 2, 3, {2, 1, 7}},             // rank 3, channels
    {{2, 6, 3, 4, 5}, 3, 1, 3, {2, 6, 3, 2, 5}},  // rank 5
    {{1, 1, 1, 1}, 1, 0, 1, {1, 1, 1, 1}},        // the whole thing
};

Attrs attrs_of(const SliceCase& c) { return {{"axis", c.axis}, {"start", c.start}, {"end", c.end}}; }

// The reference against hand-picked elements: x[n, c, h, w] = 1000 n + 100 c + 10 h + w.
TEST(Slice, ReferencePicksTheWindow) {
  const Shape in{2, 4, 3, 5};
  Tensor x(in);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t n = i / 60, c = i / 15 % 4, h = i / 5 % 3, w = i % 5;
    x.data<float>()[i] = float(1000 * n + 100 * c + 10 * h + w);
  }
  OpHarness channels(OpKind::slice, {{"start", int64_t(1)}, {"end", int64_t(3)}}, {in});  // axis defaults to 1
  const Tensor y = channels.reference({x}, false);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3, 5}));
  EXPECT_EQ(y.data<float>()[0], 100.0f);              // (0, 1, 0, 0)
  EXPECT_EQ(y.data<float>()[15 + 7], 212.0f);         // (0, 2, 1, 2)
  EXPECT_EQ(y.data<float>()[30 + 15 + 14], 1224.0f);  // (1, 2, 2, 4)
  OpHarness cols(OpKind::slice, {{"axis", int64_t(3)}, {"start", int64_t(2)}, {"end", int64_t(4)}}, {in});
  const Tensor z = cols.forward({x}, Mode::eval);
  ASSERT_EQ(z.shape(), (Shape{2, 4, 3, 2}));
  EXPECT_EQ(z.data<float>()[0], 2.0f);
  EXPECT_EQ(z.data<float>()[z.numel() - 1], 1323.0f);  // (1, 3, 2, 3)
}

TEST(Slice, ForwardMatchesReference) {
  for (const SliceCase& c : kCases) {
    OpHarness h(OpKind::slice, attrs_of(c), {c.in});
    EXPECT_EQ(h.out_shape(), c.out);
    expect_matches_reference(h, Mode::eval, 3, 0, 0);
    expect_matches_reference(h, Mode::train, 4, 0, 0);
  }
}

TEST(Slice, GradientsMatchFiniteDifferences) {
  for (const SliceCase& c : kCases) {
    OpHarness h(OpKind::slice, attrs_of(c), {c.in});
    expect_gradients_match_fd(h, 7);
  }
}

// Outside the window the input gradient is exactly zero (diff_src starts as NaN in the layout
// harness), inside it is diff_dst.
TEST(Slice, BackwardZeroesOutsideTheWindow) {
  const SliceCase c{{2, 5, 4, 3}, 1, 1, 3, {2, 2, 4, 3}};
  OpHarness h(OpKind::slice, attrs_of(c), {c.in});
  Rng rng(3);
  Tensor x = random_tensor(c.in, rng), r = random_tensor(c.out, rng);
  for (tag t : {tag::nchw, tag::nChw16c}) {
    const Tensor d = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r).diff_src[0];
    for (int64_t i = 0; i < d.numel(); ++i) {
      const int64_t n = i / 60, ch = i / 12 % 5, rest = i % 12;
      const float want = ch >= 1 && ch < 3 ? r.data<float>()[(n * 2 + ch - 1) * 12 + rest] : 0.0f;
      ASSERT_EQ(d.data<float>()[i], want) << i;
    }
  }
}

// Inputs in blocked and channels-last layouts: a window that starts on a block boundary keeps the
// layout; one that cuts a block goes through plain. Same values and gradients either way.
TEST(Slice, LayoutsKeptWhereTheWindowAllows) {
  struct LayoutCase {
    SliceCase c;
    tag t;
    tag want_dst;
  };
  const LayoutCase cases[] = {
      {{{3, 32, 5, 7}, 1, 16, 32, {3, 16, 5, 7}}, tag::nChw16c, tag::nChw16c},
      {{{3, 32, 5, 7}, 1, 0, 16, {3, 16, 5, 7}}, tag::nChw16c, tag::nChw16c},
      {{{3, 32, 5, 7}, 1, 8, 24, {3, 16, 5, 7}}, tag::nChw16c, tag::nchw},
      {{{2, 116, 3, 3}, 1, 58, 116, {2, 58, 3, 3}}, tag::nChw16c, tag::nchw},
      {{{2, 116, 3, 3}, 1, 58, 116, {2, 58, 3, 3}}, tag::nhwc, tag::nhwc},
      {{{2, 116, 3, 3}, 1, 0, 58, {2, 58, 3, 3}}, tag::nChw8c, tag::nchw},
      {{{2, 20, 3, 3}, 1, 16, 20, {2, 4, 3, 3}}, tag::nChw16c, tag::nChw16c},
      {{{2, 5, 13, 7}, 2, 3, 13, {2, 5, 10, 7}}, tag::nChw16c, tag::nChw16c},
      {{{2, 5, 13, 7}, 3, 2, 5, {2, 5, 13, 3}}, tag::nhwc, tag::nhwc},
  };
  for (const LayoutCase& lc : cases) {
    const SliceCase& c = lc.c;
    OpHarness h(OpKind::slice, attrs_of(c), {c.in});
    Rng rng(11);
    Tensor x = random_tensor(c.in, rng), r = random_tensor(c.out, rng);
    LayoutRun run = run_in_layouts(h.node(), {x}, {lc.t}, Mode::train, &r);
    const std::string what = c.in.str() + " axis " + std::to_string(c.axis) + " [" + std::to_string(c.start) + ", " +
                             std::to_string(c.end) + ")";
    EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 0, 0)) << what;
    EXPECT_TRUE(run.dst_desc == desc_of(c.out, lc.want_dst)) << what;
    EXPECT_TRUE(all_close(run.diff_src[0], h.backward({x}, r)[0], 0, 0)) << what;
  }
}

// ShuffleNetV2's unit in a training Session, fp32 and bf16: split channels in halves, one half
// through a conv, concat, shuffle; the input gradient reaches both halves.
TEST(Slice, ShuffleNetUnitInASession) {
  Rng rng(5);
  Graph g;
  const int x = g.add_input("x", {4, 6, 6});
  const int stem = g.add_node(OpKind::conv2d, "stem", {x},
                              {{"out_channels", int64_t(24)}, {"kernel", std::vector<int64_t>{1, 1}}}, &rng);
  const int left = g.add_node(OpKind::slice, "left", {stem}, {{"start", int64_t(0)}, {"end", int64_t(12)}});
  const int right = g.add_node(OpKind::slice, "right", {stem}, {{"start", int64_t(12)}, {"end", int64_t(24)}});
  const int branch = g.add_node(
      OpKind::conv2d, "branch", {right},
      {{"out_channels", int64_t(12)}, {"kernel", std::vector<int64_t>{3, 3}}, {"padding", std::vector<int64_t>{1, 1}}},
      &rng);
  const int cat = g.add_node(OpKind::concat, "cat", {left, branch});
  const int shuffled = g.add_node(OpKind::channel_shuffle, "shuffle", {cat}, {{"groups", int64_t(2)}});
  g.add_node(OpKind::global_avg_pool, "gap", {shuffled});
  const Tensor in = random_tensor({2, 4, 6, 6}, rng);
  std::vector<Tensor> v{in};
  for (const Node& n : g.nodes()) {
    std::vector<Tensor> ins;
    for (int i : n.inputs) ins.push_back(v[size_t(i)]);
    v.push_back(op_def(n.op).reference(n, ins, true));
  }
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    Session s(g, {.batch = 2, .mode = Mode::train, .precision = p});
    const float tol = p == Precision::fp32 ? 1e-5f : 3e-2f;
    EXPECT_TRUE(all_close(s.forward(in), v.back(), tol, tol)) << precision_name(p);
    EXPECT_TRUE(all_close(s.value(shuffled), v[size_t(shuffled)], tol, tol)) << precision_name(p);
    Tensor ones(v.back().shape());
    ones.fill(1.0f);
    s.backward(ones);
    // d(mean)/d(stem output) is 1/36 on every channel, through the left half directly: the stem's
    // bias gradient is 2 * 36 / 36 = 2 (batch 2) on the left channels, whatever the right does.
    const Tensor& bias_grad = g.nodes()[0].param("bias").grad;
    for (int64_t c = 0; c < 12; ++c) EXPECT_NEAR(bias_grad.data<float>()[c], 2.0f, 2 * tol) << precision_name(p) << c;
  }
}

// int8 passes through: quantize -> slice -> dequantize, the integers exact.
TEST(Slice, PassesInt8Through) {
  for (const char* dtype : {"u8", "s8"}) {
    Graph g;
    int y = g.add_input("x", {20, 5, 5});
    Attrs q;
    set_qparams(q, "", {1.0f, 0, std::string(dtype) == "u8" ? DType::u8 : DType::s8});
    y = g.add_node(OpKind::quantize, "q", {y}, q);
    y = g.add_node(OpKind::slice, "slice", {y}, {{"start", int64_t(3)}, {"end", int64_t(17)}});
    g.add_node(OpKind::dequantize, "dq", {y}, q);
    Rng rng(5);
    Tensor x({2, 20, 5, 5});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(int(rng.uniform(0.0f, 100.0f)));
    Session s(g, {2, Mode::eval, false, Precision::fp32});
    EXPECT_TRUE(all_close(s.forward(x), op_def(OpKind::slice).reference(g.nodes()[1], {x}, false), 0, 0)) << dtype;
  }
}

TEST(Slice, RejectsBadShapesAndAttrs) {
  const OpDef& def = op_def(OpKind::slice);
  Node node;
  node.name = "cut";
  node.op = OpKind::slice;
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);  // no start / end
  node.attrs = {{"start", int64_t(0)}, {"end", int64_t(3)}};
  EXPECT_EQ(def.infer(node, {{1, 6, 3, 3}}), (Shape{1, 3, 3, 3}));
  EXPECT_THROW(def.infer(node, {{6}}), Error);                 // rank 1
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3, 2, 2}}), Error);  // rank 6
  node.attrs["axis"] = int64_t(0);
  EXPECT_THROW(def.infer(node, {{4, 6, 3, 3}}), Error);  // the batch axis
  node.attrs["axis"] = int64_t(-4);
  EXPECT_THROW(def.infer(node, {{4, 6, 3, 3}}), Error);  // the batch axis, counted from the end
  node.attrs["axis"] = int64_t(4);
  EXPECT_THROW(def.infer(node, {{4, 6, 3, 3}}), Error);
  node.attrs["axis"] = int64_t(1);
  node.attrs["end"] = int64_t(7);
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);  // end beyond the axis
  node.attrs["start"] = int64_t(3), node.attrs["end"] = int64_t(3);
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);  // empty window
  node.attrs["start"] = int64_t(-1), node.attrs["end"] = int64_t(2);
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);  // negative start: the importer normalises it
}

}  // namespace
}  // namespace nimble::testing
