// Progress lines: a scope names the work a line belongs to (a stage of `nimble optimize`), scopes
// nest and end; without a terminal each finished unit is one plain line.
#include <gtest/gtest.h>

#include "nimble/train/progress.hpp"

namespace nimble::train {
namespace {

std::string finished_line(const std::string& label) {
  ::testing::internal::CaptureStderr();
  Progress p(label, 4, true);
  for (int i = 1; i <= 4; ++i) p.update(i, 32 * i, "loss 0.1");
  p.finish("done");
  return ::testing::internal::GetCapturedStderr();
}

TEST(Progress, ScopesNameTheWorkAndNest) {
  EXPECT_EQ(finished_line("epoch 1/2"), "epoch 1/2 done\n");  // stderr is not a terminal here
  {
    const ProgressScope stage("optimize [4/7] distill");
    EXPECT_EQ(finished_line("epoch 1/2"), "optimize [4/7] distill epoch 1/2 done\n");
    {
      const ProgressScope inner("teacher");
      EXPECT_EQ(finished_line("epoch 2/2"), "optimize [4/7] distill teacher epoch 2/2 done\n");
    }
    EXPECT_EQ(finished_line("epoch 2/2"), "optimize [4/7] distill epoch 2/2 done\n");
  }
  EXPECT_EQ(finished_line("epoch 2/2"), "epoch 2/2 done\n");
}

}  // namespace
}  // namespace nimble::train
