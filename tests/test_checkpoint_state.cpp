// Training-state tensors (optimizer moments) stored after a checkpoint's parameters, for resuming.
#include "test_checkpoint_util.hpp"

namespace nimble::testing_io {
namespace {

io::NamedTensors some_state() {
  io::NamedTensors s;
  Rng rng(3);
  for (const char* name : {"optimizer.stem.conv.weights.momentum", "stem.conv.weights"}) {  // may reuse a param's name
    Tensor t({4, 5});
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = rng.normal();
    s.emplace_back(name, t);
  }
  return s;
}

TEST(CheckpointState, RoundTripsBitExactAfterTheParameters) {
  TempDir dir;
  const Graph g = small_graph();
  const io::NamedTensors state = some_state();
  const std::string path = dir.file("run.nimble");
  io::save_checkpoint(g, path, "{}", state);
  const io::Checkpoint ck = io::load_checkpoint(path);
  expect_same_graph(g, ck.graph);
  ASSERT_EQ(ck.state.size(), state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(ck.state[i].first, state[i].first);
    ASSERT_EQ(ck.state[i].second.shape(), state[i].second.shape());
    EXPECT_EQ(std::memcmp(ck.state[i].second.raw(), state[i].second.raw(), size_t(state[i].second.nbytes())), 0);
  }
  const json h = json::parse(split(read_bytes(path)).header);
  const size_t params = g.named_params().size();
  ASSERT_EQ(h["tensors"].size(), params + state.size());
  for (size_t i = 0; i < h["tensors"].size(); ++i) EXPECT_EQ(h["tensors"][i].contains("state"), i >= params);
  // Without state the file is what it always was.
  io::save_checkpoint(g, dir.file("plain.nimble"), "{}");
  EXPECT_TRUE(io::load_checkpoint(dir.file("plain.nimble")).state.empty());
}

TEST(CheckpointState, RejectsDuplicateNamesAndBadFlags) {
  TempDir dir;
  const Graph g = small_graph();
  io::NamedTensors twice = some_state();
  twice.push_back(twice[0]);
  EXPECT_THROW(io::save_checkpoint(g, dir.file("x.nimble"), "{}", twice), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.nimble")));

  const std::string path = dir.file("run.nimble");
  io::save_checkpoint(g, path, "{}", some_state());
  const Bytes file = read_bytes(path);
  auto expect_rejected = [&](const std::function<void(json&, Bytes&)>& edit, const std::string& message) {
    write_bytes(dir.file("bad.nimble"), resign(file, edit));
    try {
      io::load_checkpoint(dir.file("bad.nimble"));
      ADD_FAILURE() << "accepted: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_rejected([](json& h, Bytes&) { h["tensors"].back()["state"] = false; }, "state must be true");
  expect_rejected([](json& h, Bytes&) { h["tensors"].back()["state"] = "yes"; }, "state must be true");
  // Marking a parameter as state leaves the graph without it.
  expect_rejected([](json& h, Bytes&) { h["tensors"][0]["state"] = true; }, "has no tensor in the file");
  // A state tensor whose data is corrupted fails its CRC like any other.
  expect_rejected([](json&, Bytes& data) { data[data.size() - 4] ^= 1; }, "CRC mismatch");
}

}  // namespace
}  // namespace nimble::testing_io
