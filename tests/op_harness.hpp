#pragma once
// Runs one op's runtime kernel in isolation (plain-layout inputs) and checks it against the op's
// reference kernel and against central finite differences.
#include <gtest/gtest.h>

#include <dnnl.hpp>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble::testing {

Tensor random_tensor(const Shape& s, Rng& rng, float lo = -1.0f, float hi = 1.0f);

// A plain tensor copied into a oneDNN memory of the given layout, and back.
dnnl::memory to_layout(dnnl::stream& s, const Tensor& t, const dnnl::memory::desc& desc);
Tensor to_plain(dnnl::stream& s, const dnnl::memory& m, const Shape& shape);

class OpHarness {
 public:
  // Creates the node and initialises its parameters with a seeded generator; `randomize_params`
  // also perturbs parameters that start constant (batch-norm scale/shift/statistics) so tests see them.
  OpHarness(OpKind op, Attrs attrs, std::vector<Shape> in_shapes, uint64_t seed = 1);

  Node& node() { return node_; }
  const std::vector<Shape>& in_shapes() const { return in_shapes_; }
  Shape out_shape() const;

  Tensor forward(const std::vector<Tensor>& inputs, Mode mode);
  // One forward (train mode) then backward with `diff_dst`; returns the input gradients. Parameter
  // gradients land in node().params[...]->grad.
  std::vector<Tensor> backward(const std::vector<Tensor>& inputs, const Tensor& diff_dst);
  Tensor reference(const std::vector<Tensor>& inputs, bool training) const;

 private:
  Node node_;
  std::vector<Shape> in_shapes_;
};

// max |a - b| <= atol + rtol * |b| elementwise; reports the first offending element.
::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, float atol, float rtol);

// Kernel output vs reference, in the given mode.
void expect_matches_reference(OpHarness& h, Mode mode, uint64_t seed, float atol = 1e-4f, float rtol = 1e-4f);
// Backward vs central differences of sum(forward(x) * r) for inputs and trainable parameters.
// Checks up to `max_checks` elements per tensor.
void expect_gradients_match_fd(OpHarness& h, uint64_t seed, float eps = 1e-2f, float atol = 2e-2f, float rtol = 2e-2f,
                               int max_checks = 64);

}  // namespace nimble::testing
