#pragma once
// The one list of ops. Adding an op: one line here, one file in src/graph/ops/.
#define NIMBLE_OPS(X) \
  X(conv2d)           \
  X(linear)           \
  X(batch_norm2d)     \
  X(relu)             \
  X(relu6)            \
  X(hardswish)        \
  X(sigmoid)          \
  X(max_pool2d)       \
  X(avg_pool2d)       \
  X(global_avg_pool)  \
  X(add)              \
  X(concat)           \
  X(flatten)          \
  X(reshape)          \
  X(dropout)          \
  X(softmax)          \
  X(quantize)         \
  X(dequantize)       \
  X(qconv2d)          \
  X(qlinear)          \
  X(qadd)             \
  X(fake_quant)       \
  X(dqlinear)

namespace nimble {
enum class OpKind : unsigned char {
#define NIMBLE_OP_ENUM(name) name,
  NIMBLE_OPS(NIMBLE_OP_ENUM)
#undef NIMBLE_OP_ENUM
  count
};
constexpr int kOpCount = int(OpKind::count);
}  // namespace nimble
