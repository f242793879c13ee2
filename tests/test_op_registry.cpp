#include <gtest/gtest.h>

#include <set>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {
namespace {

TEST(OpRegistry, EveryOpKindIsBuiltWithAllHooks) {
  std::set<std::string> names;
  for (int i = 0; i < kOpCount; ++i) {
    const OpDef& def = op_def(OpKind(i));  // throws if an op file is missing
    ASSERT_NE(def.name, nullptr);
    EXPECT_TRUE(names.insert(def.name).second) << "duplicate op name " << def.name;
    EXPECT_NE(def.infer, nullptr) << def.name;
    EXPECT_NE(def.reference, nullptr) << def.name;
    EXPECT_EQ(op_from_name(def.name), OpKind(i));
  }
  EXPECT_THROW(op_from_name("no_such_op"), Error);
}

}  // namespace
}  // namespace nimble
