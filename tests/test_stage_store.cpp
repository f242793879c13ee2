// Resumable stages keyed by content (src/workflows/stage_store.hpp) and the fingerprints under them
// (src/io/content_hash.hpp): a record comes back only for the same inputs and unchanged files, a
// stage without a record (killed half-way) is computed again, and forcing recomputes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/content_hash.hpp"
#include "nimble/core/error.hpp"
#include "workflows/stage_store.hpp"

namespace nimble::workflow {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / (name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(StageStore, TakesBackOnlyWhatTheSameInputsProduced) {
  const fs::path root = fresh_dir("nimble_stage_store");
  const StageStore store(root.string());
  int computed = 0;
  const auto compute = [&](const std::string& folder) {
    ++computed;
    write(fs::path(folder) / "out.txt", "result " + std::to_string(computed));
    return json{{"files", {"out.txt"}}, {"value", computed}};
  };
  auto a = store.run(1, "step", "inputs A", false, compute);
  EXPECT_FALSE(a.reused);
  EXPECT_EQ(a.record["value"], 1);
  auto b = store.run(1, "step", "inputs A", false, compute);
  EXPECT_TRUE(b.reused);
  EXPECT_EQ(b.record["value"], 1);
  EXPECT_EQ(computed, 1);

  // Other inputs, a forced rerun, a changed output file, a lost record: computed again.
  EXPECT_FALSE(store.run(1, "step", "inputs B", false, compute).reused);
  EXPECT_EQ(computed, 2);
  EXPECT_FALSE(store.run(1, "step", "inputs B", true, compute).reused);
  EXPECT_EQ(computed, 3);
  write(root / "1-step" / "out.txt", "edited by hand");
  EXPECT_FALSE(store.run(1, "step", "inputs B", false, compute).reused);
  EXPECT_EQ(computed, 4);
  fs::remove(root / "1-step" / "stage.json");
  write(root / "1-step" / "leftover.tmp", "half-written");
  EXPECT_FALSE(store.run(1, "step", "inputs B", false, compute).reused);
  EXPECT_EQ(computed, 5);
  EXPECT_FALSE(fs::exists(root / "1-step" / "leftover.tmp"));  // the folder is cleared first
  EXPECT_TRUE(store.run(1, "step", "inputs B", false, compute).reused);

  // A damaged record counts as none; a failing stage leaves no record.
  write(root / "1-step" / "stage.json", "{not json");
  EXPECT_FALSE(store.run(1, "step", "inputs B", false, compute).reused);
  EXPECT_THROW(store.run(2, "broken", "x", false, [](const std::string&) -> json { throw Error("boom"); }), Error);
  EXPECT_FALSE(fs::exists(root / "2-broken" / "stage.json"));
  fs::remove_all(root);
}

TEST(ContentHash, FilesByContentFoldersByListing) {
  const fs::path root = fresh_dir("nimble_content_hash");
  fs::create_directories(root / "data" / "cat");
  write(root / "a.bin", "abc");
  write(root / "b.bin", "abc");
  EXPECT_EQ(io::hash_file((root / "a.bin").string()), io::hash_file((root / "b.bin").string()));
  write(root / "b.bin", "abd");
  EXPECT_NE(io::hash_file((root / "a.bin").string()), io::hash_file((root / "b.bin").string()));
  EXPECT_EQ(io::hash_file((root / "a.bin").string()), io::fnv1a("abc"));
  EXPECT_EQ(io::hex(0x1234), "0000000000001234");
  EXPECT_THROW(io::hash_file((root / "missing").string()), Error);

  write(root / "data" / "cat" / "1.png", "pixels");
  const uint64_t before = io::hash_data_source((root / "data").string());
  EXPECT_EQ(io::hash_data_source((root / "data").string()), before);
  write(root / "data" / "cat" / "2.png", "more");
  EXPECT_NE(io::hash_data_source((root / "data").string()), before);
  EXPECT_EQ(io::hash_data_source((root / "a.bin").string()), io::hash_file((root / "a.bin").string()));
  EXPECT_THROW(io::hash_data_source((root / "nothing").string()), Error);
  EXPECT_NE(io::library_identity().find("libnimble"), std::string::npos);
  fs::remove_all(root);
}

}  // namespace
}  // namespace nimble::workflow
