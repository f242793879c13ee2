#pragma once
// Checks shared by the element-wise op tests (relu, relu6, hardswish, sigmoid, tanh).
#include <cmath>
#include <limits>
#include <vector>

#include "kernel_runner.hpp"
#include "op_harness.hpp"

namespace nimble::testing {

inline const std::vector<Shape>& eltwise_shapes() {
  static const std::vector<Shape> shapes = {{1}, {3, 13}, {1, 127}, {2, 3, 13, 13}, {1, 17, 5, 7}, {2, 3, 5, 7, 3}};
  return shapes;
}

inline void expect_eltwise_matches_reference(OpKind op) {
  for (const Shape& s : eltwise_shapes()) {
    OpHarness h(op, {}, {s});
    expect_matches_reference(h, Mode::eval, 3);
    expect_matches_reference(h, Mode::train, 4);
  }
}

// eps 1e-3 keeps the central difference away from the kinks of relu/relu6 (inputs are in [-1, 1]);
// only the perturbed element changes, so fp32 rounding stays far below the tolerance.
inline void expect_eltwise_gradients_match_fd(OpKind op) {
  for (const Shape& s : eltwise_shapes()) {
    OpHarness h(op, {}, {s});
    expect_gradients_match_fd(h, 7, 1e-3f, 2e-3f, 2e-3f);
  }
}

// Backward at chosen points (kinks included) against the expected derivative, with diff_dst = 1.
inline void expect_derivative(OpKind op, const std::vector<float>& xs, const std::vector<float>& want) {
  OpHarness h(op, {}, {{1, int64_t(xs.size())}});
  Tensor x({1, int64_t(xs.size())}), ones({1, int64_t(xs.size())});
  std::copy(xs.begin(), xs.end(), x.data<float>());
  ones.fill(1.0f);
  Tensor dx = h.backward({x}, ones)[0];
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_NEAR(dx.data<float>()[i], want[i], 1e-5f) << op_name(op) << "'(" << xs[i] << ")";
}

// In a blocked layout (channels padded to 16) the op keeps the layout, matches the reference, and
// leaves the padding zero even where f(0) != 0 (sigmoid) and dst held garbage.
inline void expect_eltwise_blocked_layout(OpKind op) {
  const Shape s{2, 3, 5, 7};
  OpHarness h(op, {}, {s});
  KernelRunner run(h.node(), {s}, {layout(s, kernels::tag::nChw16c)}, Mode::train);
  EXPECT_EQ(run.dst_desc(), run.src_desc(0));
  float* dst = static_cast<float*>(run.dst().get_data_handle());
  std::fill(dst, dst + run.dst_desc().get_size() / sizeof(float), std::numeric_limits<float>::quiet_NaN());
  Rng rng(11);
  Tensor x = random_tensor(s, rng, -5.0f, 5.0f);
  EXPECT_TRUE(all_close(run.forward({x}), h.reference({x}, true), 1e-5f, 1e-5f));
  std::vector<float> phys = physical(run.dst());  // (N, C/16, H, W, 16)
  for (size_t i = 0; i < phys.size(); ++i)
    if (i % 16 >= 3) {
      ASSERT_EQ(phys[i], 0.0f) << op_name(op) << ": padding element " << i;
    }
  // Same gradient as in plain layout.
  Tensor r = random_tensor(s, rng);
  EXPECT_TRUE(all_close(run.backward(r)[0], h.backward({x}, r)[0], 1e-6f, 1e-6f));
}

inline void expect_eltwise_rejects_empty(OpKind op) {
  Node node;
  node.name = "a";
  node.op = op;
  EXPECT_THROW(op_def(op).infer(node, {Shape{}}), Error);         // rank 0
  EXPECT_THROW(op_def(op).infer(node, {Shape{2, 0, 3}}), Error);  // empty
}

}  // namespace nimble::testing
