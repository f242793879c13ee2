#include <cstring>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {

// Each op file defines its op_def_<name>; a missing one is a link error.
#define NIMBLE_OP_DECLARE(name) extern const OpDef op_def_##name;
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
  return *kOpTable[int(op)];
}

const char* op_name(OpKind op) { return op_def(op).name; }

OpKind op_from_name(const std::string& name) {
  for (int i = 0; i < kOpCount; ++i)
    if (name == kOpTable[i]->name) return OpKind(i);
  throw Error("unknown op '" + name + "'");
}

const OpTraits* fused_activation(const std::string& name) {
  if (name == "none") return nullptr;
  const OpTraits& t = op_traits(op_from_name(name));
  NIMBLE_CHECK(t.elementwise(), "'" + name + "' is not an element-wise op, so it cannot be a fused activation");
  return &t;
}

float apply_activation(const std::string& name, float x) {
  const OpTraits* f = fused_activation(name);
  return f ? f->scalar(x) : x;
}

}  // namespace nimble
