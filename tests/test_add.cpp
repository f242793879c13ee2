// add, alone and with the ReLU / ReLU6 that passes::fuse_training_activations moves into it.
#include "kernel_runner.hpp"
#include "layout_harness.hpp"
#include "nimble/core/dtype.hpp"
#include "op_harness.hpp"

namespace nimble::testing {
namespace {

using tag = dnnl::memory::format_tag;

const Shape kShapes[] = {{1, 1, 1, 1}, {2, 3, 13, 13}, {3, 17, 5, 7}, {3, 127}, {1, 16, 4, 4}};

TEST(Add, ForwardMatchesReference) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::add, {}, {s, s});
    EXPECT_EQ(h.out_shape(), s);
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

TEST(Add, GradientsMatchFiniteDifferences) {
  for (const Shape& s : kShapes) {
    OpHarness h(OpKind::add, {}, {s, s});
    expect_gradients_match_fd(h, 7);
  }
}

// The gradient an add with `act` passes to both inputs: diff_dst where the activation's slope is
// 1 (0 < y, and y < 6 for ReLU6: PyTorch's convention at both kinks), else 0.
Tensor masked(const Tensor& r, const Tensor& y, const std::string& act) {
  Tensor out = r.clone();
  for (int64_t i = 0; i < out.numel(); ++i) {
    const float v = y.data<float>()[i];
    const bool pass = act == "none" || (v > 0.0f && (act == "relu" || v < 6.0f));
    if (!pass) out.data<float>()[i] = 0.0f;
  }
  return out;
}

Tensor to_bf16(Tensor t) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = bf16_to_f32(f32_to_bf16(t.data<float>()[i]));
  return t;
}

TEST(Add, FusedActivationMatchesReferenceAndFiniteDifferences) {
  for (const char* act : {"relu", "relu6"})
    for (const Shape& s : {Shape{2, 3, 13, 13}, Shape{3, 17, 5, 7}, Shape{3, 127}}) {
      SCOPED_TRACE(act);
      OpHarness h(OpKind::add, {{"activation", std::string(act)}}, {s, s});
      expect_matches_reference(h, Mode::eval, 3);
      expect_matches_reference(h, Mode::train, 4);
      expect_gradients_match_fd(h, 7, 1e-3f);
    }
  Graph g;
  const int x = g.add_input("x", {3, 4, 4});
  EXPECT_THROW(g.add_node(OpKind::add, "sum", {x, x}, {{"activation", std::string("sigmoid")}}), Error);
}

// Sums spread over [-12, 12], so ReLU6's upper kink is crossed too; every layout pairing, the
// gradients exact (a mask, no arithmetic).
TEST(Add, MixedLayoutsKeepInputZerosLayout) {
  const std::pair<tag, tag> pairs[] = {
      {tag::nChw16c, tag::nchw}, {tag::nchw, tag::nChw16c}, {tag::nChw8c, tag::nhwc}, {tag::nChw16c, tag::nChw16c}};
  for (const char* act : {"none", "relu", "relu6"})
    for (const auto& [t0, t1] : pairs)
      for (const Shape& s : {Shape{2, 3, 13, 13}, Shape{3, 17, 5, 7}, Shape{1, 32, 3, 3}}) {
        SCOPED_TRACE(act);
        OpHarness h(OpKind::add, {{"activation", std::string(act)}}, {s, s});
        Rng rng(11);
        Tensor x0 = random_tensor(s, rng, -6, 6), x1 = random_tensor(s, rng, -6, 6), r = random_tensor(s, rng);
        LayoutRun run = run_in_layouts(h.node(), {x0, x1}, {t0, t1}, Mode::train, &r);
        const Tensor y = h.reference({x0, x1}, true);
        EXPECT_TRUE(all_close(run.dst, y, 1e-6f, 0)) << s.str();
        EXPECT_TRUE(run.dst_desc == desc_of(s, t0)) << "add must produce input 0's layout";
        const Tensor want = masked(r, y, act);
        EXPECT_TRUE(all_close(run.diff_src[0], want, 0, 0));
        EXPECT_TRUE(all_close(run.diff_src[1], want, 0, 0));
      }
}

// bf16 training, as ResNet's shortcuts run on AVX-512 without AMX (nChw16c, 20 channels: a padded
// block) and with it (nhwc): the sum rounded once, the gradient masked by the bf16 output.
TEST(Add, Bf16FusedReluInBlockedAndChannelsLastLayouts) {
  for (const char* act : {"relu", "relu6"})
    for (tag t : {tag::nChw16c, tag::nhwc}) {
      SCOPED_TRACE(act);
      const Shape s{4, 20, 6, 6};
      Node node;
      node.name = "sum";
      node.op = OpKind::add;
      node.attrs["activation"] = std::string(act);
      const kernels::md d = kernels::with_dtype(desc_of(s, t), kernels::dt::bf16);
      KernelRunner k(node, {s, s}, {d, d}, Mode::train, DType::bf16);
      Rng rng(5);  // values as the kernel holds them: bf16
      const Tensor x0 = to_bf16(random_tensor(s, rng, -6, 6)), x1 = to_bf16(random_tensor(s, rng, -6, 6)),
                   r = to_bf16(random_tensor(s, rng));
      const Tensor y = k.forward({x0, x1});
      OpHarness h(OpKind::add, {{"activation", std::string(act)}}, {s, s});
      EXPECT_TRUE(all_close(y, h.reference({x0, x1}, true), 0.0f, 1.0f / 256));  // the sum rounded once
      const std::vector<Tensor> g = k.backward(r);
      const Tensor want = masked(r, y, act);
      EXPECT_TRUE(all_close(g[0], want, 0, 0));
      EXPECT_TRUE(all_close(g[1], want, 0, 0));
    }
}

TEST(Add, RejectsMismatchedShapes) {
  const OpDef& def = op_def(OpKind::add);
  Node node;
  node.name = "residual";
  node.op = OpKind::add;
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 4, 8, 8}}), Error);
  EXPECT_THROW(def.infer(node, {{1, 3, 8, 8}, {1, 3, 64}}), Error);
  Graph g;
  int x = g.add_input("x", {3, 8, 8});
  EXPECT_THROW(g.add_node(OpKind::add, "one_input", {x}), Error);
  EXPECT_THROW(g.add_node(OpKind::add, "three_inputs", {x, x, x}), Error);
}

}  // namespace
}  // namespace nimble::testing
