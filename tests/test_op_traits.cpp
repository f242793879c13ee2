// Every registered op answers every question a pass or the runtime asks of it (op.hpp's OpTraits),
// and the answers agree with each other: a new op file that forgets a trait fails here.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/registry.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {
namespace {

bool listed_as_eltwise(OpKind op) {
  static const bool eltwise[] = {
#define NIMBLE_KERNEL_FLAG(name) false,
#define NIMBLE_ELTWISE_FLAG(name) true,
      NIMBLE_OPS_BY_KERNEL(NIMBLE_KERNEL_FLAG, NIMBLE_ELTWISE_FLAG)
#undef NIMBLE_KERNEL_FLAG
#undef NIMBLE_ELTWISE_FLAG
  };
  return eltwise[int(op)];
}

TEST(OpTraits, EveryOpAnswersEveryPass) {
  for (int i = 0; i < kOpCount; ++i) {
    const OpKind op = OpKind(i);
    const OpDef& def = op_def(op);
    const OpTraits& t = def.traits;
    EXPECT_NE(kernels::kernel_for(op), nullptr) << def.name << ": no kernel";
    EXPECT_NE(t.channels, ChannelRule::unset) << def.name << ": how does channel pruning treat it?";
    EXPECT_NE(t.int8, Int8Rule::unset) << def.name << ": what does int8 conversion do with it?";
    EXPECT_NE(t.low_precision, LowPrecision::unset) << def.name << ": what does it compute in under bf16/fp16?";
    if (t.int8 != Int8Rule::int8_op) {  // int8 ops: some take int8 (qconv2d), some make it (quantize)
      EXPECT_EQ(t.takes_int8, t.int8 == Int8Rule::passes_through)
          << def.name << ": int8 passes through it iff it takes int8";
    }
    EXPECT_EQ(t.channels == ChannelRule::int8, t.int8 == Int8Rule::int8_op) << def.name;
  }
}

TEST(OpTraits, ElementwiseOpsDeclareWhatTheGenericKernelNeeds) {
  for (int i = 0; i < kOpCount; ++i) {
    const OpKind op = OpKind(i);
    const OpDef& def = op_def(op);
    const OpTraits& t = def.traits;
    // The op list says which kernel runs the op; the op file must agree.
    EXPECT_EQ(listed_as_eltwise(op), t.elementwise()) << def.name;
    if (!t.elementwise()) {
      EXPECT_FALSE(t.fuses_into_matmul || t.fuses_into_batch_norm || t.fuses_into_add) << def.name;
      continue;
    }
    EXPECT_NE(t.scalar_grad, nullptr) << def.name << ": an element-wise op needs its derivative";
    EXPECT_EQ(def.min_inputs, 1) << def.name;
    EXPECT_EQ(def.max_inputs, 1) << def.name;
    // A post-op is a oneDNN eltwise algorithm.
    if (t.fuses_into_matmul || t.fuses_into_add) {
      EXPECT_NE(t.onednn_eltwise, EltwiseAlgorithm::none) << def.name << " fuses but names no oneDNN algorithm";
    }
    // Channel pruning: channel c from channel c; whether zero stays zero follows from f(0).
    const ChannelRule expect = t.scalar(0.0f) == 0.0f ? ChannelRule::per_channel : ChannelRule::per_channel_nonzero;
    EXPECT_EQ(t.channels, expect) << def.name << ": f(0) = " << t.scalar(0.0f);
    // f' against central differences away from kinks.
    for (float x : {-2.3f, -0.7f, 0.4f, 1.9f}) {
      const float h = 1e-3f, numeric = (t.scalar(x + h) - t.scalar(x - h)) / (2 * h);
      EXPECT_NEAR(t.scalar_grad(x, t.scalar(x)), numeric, 1e-2f) << def.name << " at " << x;
    }
  }
}

TEST(OpTraits, FusionSitesOnlyTakeWhatTheyCanRun) {
  // A batch-norm runs a fused activation as a clamp (kernels/batch_norm_training.cpp).
  for (int i = 0; i < kOpCount; ++i) {
    const OpTraits& t = op_traits(OpKind(i));
    if (!t.fuses_into_batch_norm) continue;
    EXPECT_TRUE(t.onednn_eltwise == EltwiseAlgorithm::relu || t.onednn_eltwise == EltwiseAlgorithm::clip_v2)
        << op_name(OpKind(i));
  }
}

}  // namespace
}  // namespace nimble
