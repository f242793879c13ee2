#include <cstring>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {

// Weak so a partial tree links while an op is being written; op_def() reports a missing one and
// a unit test checks that every OpKind has its definition.
#define NIMBLE_OP_DECLARE(name) extern const OpDef op_def_##name __attribute__((weak));
NIMBLE_OPS(NIMBLE_OP_DECLARE)
#undef NIMBLE_OP_DECLARE

namespace {
const OpDef* const kOpTable[] = {
#define NIMBLE_OP_ENTRY(name) &op_def_##name,
    NIMBLE_OPS(NIMBLE_OP_ENTRY)
#undef NIMBLE_OP_ENTRY
};
static_assert(sizeof(kOpTable) / sizeof(kOpTable[0]) == size_t(kOpCount), "one OpDef per OpKind");
}  // namespace

const OpDef& op_def(OpKind op) {
  NIMBLE_ASSERT(int(op) < kOpCount);
  NIMBLE_CHECK(kOpTable[int(op)] != nullptr, "op #" + std::to_string(int(op)) + " is not built into this library");
  return *kOpTable[int(op)];
}

const char* op_name(OpKind op) { return op_def(op).name; }

OpKind op_from_name(const std::string& name) {
  for (int i = 0; i < kOpCount; ++i)
    if (kOpTable[i] && name == kOpTable[i]->name) return OpKind(i);
  throw Error("unknown op '" + name + "'");
}

}  // namespace nimble
