#include "layout_harness.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

struct ShuffleCase {
  Shape in;
  int64_t groups;
};

const ShuffleCase kCases[] = {
    {{1, 6, 1, 1}, 2},  {{2, 6, 13, 13}, 3}, {{3, 12, 5, 7}, 4}, {{1, 116, 3, 3}, 2},
    {{2, 48, 4, 4}, 2}, {{1, 9, 5, 5}, 3},   {{2, 5, 3, 3}, 1},  {{2, 5, 3, 3}, 5},  // identities
};

Attrs attrs_of(int64_t groups) { return {{"groups", groups}}; }

// ShuffleNet's own definition, reshape (N, g, C/g, H, W) -> transpose(1, 2) -> reshape, spelt
// out on channel indices: with C = 6, g = 2 the channels come out as 0 3 1 4 2 5.
TEST(ChannelShuffle, ReferenceIsShuffleNetsPermutation) {
  OpHarness h(OpKind::channel_shuffle, attrs_of(2), {{1, 6, 1, 2}});
  Tensor x({1, 6, 1, 2});
  for (int64_t i = 0; i < 12; ++i) {
    const int64_t channel = i / 2;  // two elements per channel: c and c + 0.5
    x.data<float>()[i] = float(channel) + (i % 2 ? 0.5f : 0.0f);
  }
  const int order[] = {0, 3, 1, 4, 2, 5};
  const Tensor want_kernel = h.forward({x}, Mode::eval);
  for (const Tensor& y : {h.reference({x}, false), want_kernel})
    for (int64_t c = 0; c < 6; ++c) {
      EXPECT_EQ(y.data<float>()[2 * c], float(order[c])) << c;
      EXPECT_EQ(y.data<float>()[2 * c + 1], float(order[c]) + 0.5f) << c;
    }
  // g = 3: (3, 2) transposed gives 0 2 4 1 3 5.
  OpHarness h3(OpKind::channel_shuffle, attrs_of(3), {{1, 6, 1, 2}});
  const int order3[] = {0, 2, 4, 1, 3, 5};
  const Tensor y3 = h3.forward({x}, Mode::eval);
  for (int64_t c = 0; c < 6; ++c) EXPECT_EQ(y3.data<float>()[2 * c], float(order3[c])) << c;
}

TEST(ChannelShuffle, ForwardMatchesReference) {
  for (const ShuffleCase& c : kCases) {
    OpHarness h(OpKind::channel_shuffle, attrs_of(c.groups), {c.in});
    EXPECT_EQ(h.out_shape(), c.in);
    expect_matches_reference(h, Mode::eval, 3, 0, 0);
    expect_matches_reference(h, Mode::train, 4, 0, 0);
  }
}

TEST(ChannelShuffle, GradientsMatchFiniteDifferences) {
  for (const ShuffleCase& c : kCases) {
    OpHarness h(OpKind::channel_shuffle, attrs_of(c.groups), {c.in});
    expect_gradients_match_fd(h, 7);
  }
}

// Keeps the producer's layout (blocked included) and gives the same results in it.
TEST(ChannelShuffle, KeepsBlockedLayoutAndMatchesInIt) {
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc})
    for (const ShuffleCase& c : kCases) {
      OpHarness h(OpKind::channel_shuffle, attrs_of(c.groups), {c.in});
      Rng rng(11);
      Tensor x = random_tensor(c.in, rng), r = random_tensor(c.in, rng);
      LayoutRun run = run_in_layouts(h.node(), {x}, {t}, Mode::train, &r);
      EXPECT_TRUE(all_close(run.dst, h.reference({x}, true), 0, 0)) << c.in.str() << " g" << c.groups;
      EXPECT_TRUE(run.dst_desc == desc_of(c.in, t)) << "channel_shuffle changed its input's layout";
      EXPECT_TRUE(all_close(run.diff_src[0], h.backward({x}, r)[0], 0, 0)) << c.in.str() << " g" << c.groups;
    }
}

// A permutation of int8 values: quantize -> shuffle -> dequantize in a Session, the integers exact.
TEST(ChannelShuffle, PassesInt8Through) {
  for (const char* dtype : {"u8", "s8"}) {
    Graph g;
    int y = g.add_input("x", {12, 5, 5});
    Attrs q;
    set_qparams(q, "", {1.0f, 0, std::string(dtype) == "u8" ? DType::u8 : DType::s8});
    y = g.add_node(OpKind::quantize, "q", {y}, q);
    y = g.add_node(OpKind::channel_shuffle, "shuffle", {y}, attrs_of(3));
    g.add_node(OpKind::dequantize, "dq", {y}, q);
    Rng rng(5);
    Tensor x({2, 12, 5, 5});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(int(rng.uniform(0.0f, 100.0f)));
    Session s(g, {2, Mode::eval, false, Precision::fp32});
    EXPECT_TRUE(all_close(s.forward(x), op_def(OpKind::channel_shuffle).reference(g.nodes()[1], {x}, false), 0, 0))
        << dtype;
  }
}

TEST(ChannelShuffle, RejectsBadShapesAndGroups) {
  const OpDef& def = op_def(OpKind::channel_shuffle);
  Node node;
  node.name = "shuffle";
  node.op = OpKind::channel_shuffle;
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);  // no groups
  node.attrs["groups"] = int64_t(4);
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);  // 4 does not divide 6
  node.attrs["groups"] = int64_t(0);
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);
  node.attrs["groups"] = int64_t(-2);
  EXPECT_THROW(def.infer(node, {{1, 6, 3, 3}}), Error);
  node.attrs["groups"] = int64_t(2);
  EXPECT_THROW(def.infer(node, {{6, 3, 3}}), Error);     // rank 3
  EXPECT_THROW(def.infer(node, {{1, 6, 0, 3}}), Error);  // empty
  EXPECT_EQ(def.infer(node, {{1, 6, 3, 3}}), (Shape{1, 6, 3, 3}));
}

}  // namespace
}  // namespace nimble::testing
