#pragma once
// The one list of ops. Adding an op: one line here, one file in src/graph/ops/, its test; an op
// with its own kernel (KERNEL) also has src/kernels/ops/<name>_kernel.cpp, while an element-wise
// op (ELTWISE) runs on the generic element-wise kernel from the functions its OpDef declares.
#define NIMBLE_OPS_BY_KERNEL(KERNEL, ELTWISE) \
  KERNEL(conv2d)                              \
  KERNEL(linear)                              \
  KERNEL(batch_norm2d)                        \
  ELTWISE(relu)                               \
  ELTWISE(relu6)                              \
  ELTWISE(hardswish)                          \
  ELTWISE(sigmoid)                            \
  KERNEL(max_pool2d)                          \
  KERNEL(avg_pool2d)                          \
  KERNEL(global_avg_pool)                     \
  KERNEL(add)                                 \
  KERNEL(concat)                              \
  KERNEL(flatten)                             \
  KERNEL(reshape)                             \
  KERNEL(dropout)                             \
  KERNEL(softmax)                             \
  KERNEL(quantize)                            \
  KERNEL(dequantize)                          \
  KERNEL(qconv2d)                             \
  KERNEL(qlinear)                             \
  KERNEL(qadd)                                \
  KERNEL(fake_quant)                          \
  KERNEL(dqlinear)                            \
  ELTWISE(tanh)                               \
  ELTWISE(silu)                               \
  ELTWISE(hardsigmoid)                        \
  KERNEL(mul)                                 \
  KERNEL(channel_shuffle)                     \
  KERNEL(slice)

// Every op, whatever runs it.
#define NIMBLE_OPS(X) NIMBLE_OPS_BY_KERNEL(X, X)

namespace nimble {
enum class OpKind : unsigned char {
#define NIMBLE_OP_ENUM(name) name,
  NIMBLE_OPS(NIMBLE_OP_ENUM)
#undef NIMBLE_OP_ENUM
      count
};
constexpr int kOpCount = int(OpKind::count);
}  // namespace nimble
