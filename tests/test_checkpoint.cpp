// Graph JSON and `.nimble` checkpoints: round trips, every validation a reader does, atomic writes.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <limits>

#include "importer_ops_graph.hpp"
#include "nimble/graph/op.hpp"
#include "test_checkpoint_util.hpp"

namespace nimble::testing_io {
namespace {

using V = std::vector<int64_t>;

// Expects `f` to throw nimble::Error whose one-line message contains `needle`; returns the message.
template <class F> std::string expect_error(F&& f, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected to contain: " << needle;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-nimble exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw; expected an error containing: " << needle;
  return "";
}

// ---- GraphJson ----

TEST(GraphJson, RoundTripsStructureAttrsAndMeta) {
  const Graph g = small_graph();
  const std::string text = io::graph_to_json(g);
  const Graph back = io::graph_from_json(text);
  expect_same_graph(g, back, /*with_data=*/false);
  EXPECT_EQ(back.param_count(), g.param_count());
  EXPECT_EQ(back.macs(), g.macs());
  EXPECT_EQ(io::graph_to_json(back), text);  // a fixed point
  // Structure only: parameters come back zero-filled with their declared shapes.
  for (auto& [name, p] : back.named_params())
    for (int64_t i = 0; i < p->data.numel(); ++i) ASSERT_EQ(p->data.data<float>()[i], 0.0f) << name;
  // Buffers stay buffers.
  EXPECT_FALSE(back.nodes()[1].param("running_mean").trainable);
  EXPECT_TRUE(back.nodes()[1].param("scale").trainable);
}

TEST(GraphJson, PreservesAttributeTypes) {
  Graph g;
  Rng rng(1);
  int x = g.add_input("x", {2, 5, 5});
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // conv2d ignores attributes it does not know, so they carry every type through a real op.
  Attrs attrs = {{"out_channels", int64_t(3)},
                 {"kernel", V{1, 1}},
                 {"i_neg", int64_t(-2147483648LL)},
                 {"i_max", int64_t(2147483647LL)},
                 {"f_integral", 1.0},
                 {"f_small", 1e-300},
                 {"f_third", 1.0 / 3.0},
                 {"f_neg_zero", -0.0},
                 {"f_nan", nan},
                 {"f_inf", inf},
                 {"f_ninf", -inf},
                 {"s_empty", std::string()},
                 {"s_tricky", std::string("quote \" backslash \\ newline \n tab \t unicode \xc3\xa9")},
                 {"l_empty", V{}},
                 {"l_mixed", V{-5, 0, 7}}};
  x = g.add_node(OpKind::conv2d, "c", {x}, attrs, &rng);
  g.meta["empty"] = "";
  g.meta["multi\nline"] = "value\nwith newline";
  const Graph back = io::graph_from_json(io::graph_to_json(g));
  expect_same_graph(g, back, false);
  const Attrs& b = back.nodes()[0].attrs;
  EXPECT_TRUE(std::holds_alternative<double>(b.at("f_integral")));
  EXPECT_TRUE(std::holds_alternative<int64_t>(b.at("out_channels")));
  EXPECT_TRUE(std::signbit(std::get<double>(b.at("f_neg_zero"))));
  EXPECT_TRUE(std::holds_alternative<V>(b.at("l_empty")));
}

TEST(GraphJson, RenumbersValuesCanonically) {
  // A graph whose value ids are not in node order still serialises with value k+1 = node k.
  Graph g = small_graph();
  Graph shuffled = g;
  auto& values = shuffled.values();
  std::swap(values[1], values[2]);  // outputs of node 0 and node 1 trade ids
  for (Node& n : shuffled.nodes()) {
    for (int& v : n.inputs) v = v == 1 ? 2 : v == 2 ? 1 : v;
    n.output = n.output == 1 ? 2 : n.output == 2 ? 1 : n.output;
  }
  shuffled.validate();
  EXPECT_EQ(io::graph_to_json(shuffled), io::graph_to_json(g));
}

TEST(GraphJson, RejectsInvalidDocuments) {
  const json good = json::parse(io::graph_to_json(small_graph()));
  auto with = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    return j.dump();
  };
  struct Case {
    std::string text, needle;
  };
  std::string deep = "{\"meta\":";
  for (int i = 0; i < 100000; ++i) deep += "[";
  const std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"{\"input\": ", "not valid JSON"},
      {"[]", "graph: expected an object, got array"},
      {deep, "nested deeper than 64 levels"},
      {with([](json& j) { j["nodes"][0]["op"] = "conv3d"; }), "node 0 ('stem.conv'): unknown op 'conv3d'"},
      {with([](json& j) { j["nodes"][0]["op"] = 7; }), "op: expected a string, got number"},
      {with([](json& j) { j["nodes"][0]["attrs"]["kernel"] = true; }), "attribute 'kernel': expected an integer"},
      {with([](json& j) {
         j["nodes"][0]["attrs"]["kernel"] = {3, "3"};
       }),
       "attribute 'kernel': expected an integer"},
      {with([](json& j) {
         j["nodes"][0]["attrs"]["kernel"] = {3, 1099511627776LL};
       }),
       "attribute 'kernel': 1099511627776 is above 2147483647"},
      {with([](json& j) {
         j["nodes"][0]["attrs"]["x"] = {{"float", "big"}};
       }),
       "attribute 'x'"},
      {with([](json& j) { j["nodes"][0]["attrs"]["x"] = nullptr; }), "attribute 'x'"},
      {with([](json& j) { j["nodes"][0]["inputs"] = {1}; }), "input value 1 is not produced before this node"},
      {with([](json& j) { j["nodes"][0]["inputs"] = {-1}; }), "input value id: -1 is outside"},
      {with([](json& j) {
         j["nodes"][2]["inputs"] = {2, 1};
       }),
       "wrong number of inputs"},
      {with([](json& j) { j["nodes"][0]["inputs"] = json::array(); }), "wrong number of inputs"},
      {with([](json& j) { j["output"] = 99; }), "output value id: 99 is above 8"},
      {with([](json& j) { j["output"] = "head"; }), "output value id: expected an integer"},
      {with([](json& j) {
         j["nodes"][0]["params"]["weights"]["shape"] = {8, 3, 3, 2};
       }),
       "conv2d 'stem.conv': weights 8x3x3x2 do not match 8x3x3x3"},
      {with([](json& j) { j["nodes"][0]["params"].erase("bias"); }), "missing parameter 'bias' (conv2d needs 8)"},
      {with([](json& j) { j["nodes"][0]["params"]["bias"]["dtype"] = "f64"; }), "unknown dtype 'f64'"},
      {with([](json& j) { j["nodes"][0]["params"]["bias"]["trainable"] = 1; }), "trainable: expected true or false"},
      {with([](json& j) { j["nodes"][0]["params"]["bias"]["shape"] = {8, 1, 1, 1, 1, 1}; }), "rank 6 exceeds 5"},
      {with([](json& j) {
         j["nodes"][0]["params"]["huge"] = {
             {"dtype", "f32"}, {"shape", {2147483647, 2147483647, 2147483647}}, {"trainable", true}};
       }),
       "parameters declare more than"},
      {with([](json& j) { j["nodes"][0]["params"]["a.b"] = j["nodes"][0]["params"]["bias"]; }), "contains '.'"},
      {with([](json& j) { j["nodes"][1]["name"] = "stem.conv"; }), "duplicate node name 'stem.conv'"},
      {with([](json& j) { j["nodes"][1]["name"] = "bad\nname"; }), "control characters"},
      {with([](json& j) { j["nodes"][1]["name"] = ""; }), "names must be 1 to 256 bytes"},
      {with([](json& j) { j["nodes"][0]["colour"] = "red"; }), "node 0: unknown key 'colour'"},
      {with([](json& j) { j.erase("nodes"); }), "graph: missing \"nodes\""},
      {with([](json& j) {
         j["input"]["shape"] = {65536, 65536, 2};
       }),
       "larger than 2^32 elements"},
      {with([](json& j) {
         j["input"]["shape"] = {3, 0, 11};
       }),
       "input shape: 0 is outside"},
      {with([](json& j) {
         j["input"]["shape"] = {1, 3, 9, 11, 1};
       }),
       "rank 5 exceeds 4"},
      {with([](json& j) { j["meta"]["name"] = 3; }), "meta 'name': expected a string"},
      // The op's own shape inference speaks: a conv whose output channels changed.
      {with([](json& j) { j["nodes"][0]["attrs"]["out_channels"] = 4; }),
       "node 0 ('stem.conv'): conv2d 'stem.conv': weights 8x3x3x3 do not match 4x3x3x3"},
      {with([](json& j) {
         j["nodes"][0]["attrs"]["out_channels"] = 4;
         j["nodes"][0]["params"]["weights"]["shape"] = {4, 3, 3, 3};
         j["nodes"][0]["params"]["bias"]["shape"] = {4};
       }),
       "node 1 ('stem.bn')"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    const std::string msg = expect_error([&] { io::graph_from_json(c.text); }, c.needle);
    EXPECT_EQ(msg.rfind("graph JSON: ", 0), 0u) << msg;
  }
}

TEST(GraphJson, RefusesToWriteWhatCannotBeRead) {
  Graph g = small_graph();
  g.nodes()[0].attrs["big"] = int64_t(1) << 40;
  expect_error([&] { io::graph_to_json(g); }, "does not fit 32 bits");
  Graph h = small_graph();
  h.nodes()[0].params["a.b"] = h.nodes()[0].params["bias"];
  expect_error([&] { io::graph_to_json(h); }, "contains '.'");
  Graph u = small_graph();
  u.meta["bad"] = std::string("\xff\xfe");
  expect_error([&] { io::graph_to_json(u); }, "not valid UTF-8");
}

// ---- Checkpoint ----

TEST(Checkpoint, RoundTripIsBitExact) {
  TempDir dir;
  const Graph g = small_graph();
  const std::string path = dir.file("model.nimble");
  const std::string extra =
      R"({"hyper":{"lr":0.05,"epochs":3},"metrics":{"acc":0.875},"norm":{"mean":[0.5],"std":[0.25]}})";
  io::save_checkpoint(g, path, extra);
  const io::Checkpoint ck = io::load_checkpoint(path);
  expect_same_graph(g, ck.graph);
  EXPECT_EQ(json::parse(ck.extra_json), json::parse(extra));
  EXPECT_EQ(ck.file_size, int64_t(std::filesystem::file_size(path)));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.nimble"});  // no temp file left behind

  // The layout the header documents.
  const Bytes file = read_bytes(path);
  ASSERT_GE(file.size(), 24u);
  EXPECT_EQ(std::memcmp(file.data(), io::kCheckpointMagic, 8), 0);
  EXPECT_EQ(get_le(file.data() + 8, 4), io::kCheckpointVersion);
  const Parts parts = split(file);
  const json h = json::parse(parts.header);
  EXPECT_EQ(h["data_bytes"].get<uint64_t>(), parts.data.size());
  EXPECT_EQ(h["tensors"].size(), g.named_params().size());
  for (const json& t : h["tensors"]) EXPECT_EQ(t["offset"].get<uint64_t>() % 64, 0u) << t.dump();
  EXPECT_EQ((file.size() - parts.data.size()) % 64, 0u);
  // Saving the same graph again gives the same bytes (no timestamps, sorted keys).
  io::save_checkpoint(g, dir.file("again.nimble"), extra);
  EXPECT_EQ(read_bytes(dir.file("again.nimble")), file);
}

// The ops the ONNX importer adds and their attributes (slice's axis/start/end, channel_shuffle's
// groups, four-value pooling padding) survive a save and load, bit-exactly.
TEST(Checkpoint, RoundTripsTheImporterOps) {
  TempDir dir;
  const Graph g = nimble::testing::importer_ops_graph();
  const std::string path = dir.file("importer_ops.nimble");
  io::save_checkpoint(g, path);
  const io::Checkpoint ck = io::load_checkpoint(path);
  expect_same_graph(g, ck.graph);
  EXPECT_EQ(io::graph_to_json(ck.graph), io::graph_to_json(g));
  for (const Node& n : ck.graph.nodes()) {
    if (n.name == "pool") {
      EXPECT_EQ(n.attr_ints("padding", {}), (V{1, 1, 2, 2}));
    } else if (n.name == "right") {
      EXPECT_EQ(n.attr_int("end", 0), 16);
    } else if (n.name == "shuffle") {
      EXPECT_EQ(n.attr_int("groups", 0), 2);
    }
  }
}

TEST(Checkpoint, StoresEveryDTypeAsIs) {
  TempDir dir;
  Graph g = small_graph();
  // Training-state tensors take any dtype and come back bit-exact.
  io::NamedTensors state;
  Rng rng(3);
  for (DType dt : {DType::f32, DType::bf16, DType::f16, DType::s8, DType::u8, DType::s32}) {
    Tensor t({3, 5}, dt);
    for (size_t i = 0; i < t.nbytes(); ++i) static_cast<uint8_t*>(t.raw())[i] = uint8_t(rng.next_u64());
    state.emplace_back(std::string("t_") + dtype_name(dt), t);
  }
  const std::string path = dir.file("mixed.nimble");
  io::save_checkpoint(g, path, "{}", state);
  const io::Checkpoint ck = io::load_checkpoint(path);
  expect_same_graph(g, ck.graph);
  ASSERT_EQ(ck.state.size(), state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(ck.state[i].first, state[i].first);
    EXPECT_EQ(ck.state[i].second.dtype(), state[i].second.dtype());
    EXPECT_EQ(0, std::memcmp(ck.state[i].second.raw(), state[i].second.raw(), state[i].second.nbytes()));
  }
  // A graph parameter must have the dtype its op computes with (an s8 conv2d weight would be
  // read as floats by the kernel).
  for (auto& [n, p] : g.named_params())
    if (n == "stem.conv.weights") p->data = p->data.to(DType::s8);
  io::save_checkpoint(g, dir.file("wrong.nimble"));
  try {
    io::load_checkpoint(dir.file("wrong.nimble"));
    FAIL() << "an s8 conv2d weight was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is s8 but conv2d needs f32"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, GraphWithoutParameters) {
  TempDir dir;
  Graph g;
  int x = g.add_input("x", {4, 3, 3});
  x = g.add_node(OpKind::relu, "r", {x});
  g.set_output(x);
  io::save_checkpoint(g, dir.file("p.nimble"));
  const io::Checkpoint ck = io::load_checkpoint(dir.file("p.nimble"));
  expect_same_graph(g, ck.graph);
  EXPECT_EQ(ck.file_size % 64, 0);
}

TEST(Checkpoint, OverwritesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("m.nimble");
  io::save_checkpoint(small_graph(1), path, R"({"v":1})");
  const Graph second = small_graph(2);
  io::save_checkpoint(second, path, R"({"v":2})");
  const io::Checkpoint ck = io::load_checkpoint(path);
  expect_same_graph(second, ck.graph);
  EXPECT_EQ(ck.extra_json, R"({"v":2})");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.nimble"});
}

TEST(Checkpoint, LongFileNameStillGetsATempFile) {
  TempDir dir;
  const std::string path = dir.file(std::string(240, 'm') + ".nimble");  // 247 bytes: near NAME_MAX
  io::save_checkpoint(small_graph(), path);
  expect_same_graph(small_graph(), io::load_checkpoint(path).graph);
  EXPECT_EQ(dir.entries().size(), 1u);
}

TEST(Checkpoint, SaveRejectsBadArguments) {
  TempDir dir;
  const Graph g = small_graph();
  const std::string path = dir.file("m.nimble");
  expect_error([&] { io::save_checkpoint(g, path, "[1, 2]"); }, "extra_json must be a JSON object, got array");
  expect_error([&] { io::save_checkpoint(g, path, "{\"a\": "); }, "extra_json is not valid JSON");
  expect_error([&] { io::save_checkpoint(g, dir.file("no/such/dir/m.nimble")); },
               "cannot save checkpoint " + dir.file("no/such/dir/m.nimble") + ": directory '");
  expect_error([&] { io::save_checkpoint(g, dir.path() + "/"); }, "names a directory");
  Graph broken = small_graph();
  broken.nodes()[0].params["weights"]->data = Tensor();
  expect_error([&] { io::save_checkpoint(broken, path); }, "parameter 'stem.conv.weights' has no data");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Checkpoint, SaveOntoADirectoryFails) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("model.nimble"));
  expect_error([&] { io::save_checkpoint(small_graph(), dir.file("model.nimble")); }, "the path is a directory");
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("model.nimble")));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.nimble"});
}

// A write that fails half-way (the file-size limit stands in for a full disk) leaves the old file
// byte for byte and no temp file.
TEST(Checkpoint, FailedWriteKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir.file("model.nimble");
  io::save_checkpoint(small_graph(), path, R"({"old":true})");
  const Bytes before = read_bytes(path);

  Graph big = small_graph();
  Rng rng(3);
  big.add_node(OpKind::linear, "wide", {big.output()}, {{"out_features", int64_t(20000)}}, &rng);  // ~400 KB
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 64 * 1024;
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg;
  try {
    io::save_checkpoint(big, path);
  } catch (const Error& e) {
    msg = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("cannot save checkpoint " + path + ": write failed"), std::string::npos) << msg;
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.nimble"});
  EXPECT_EQ(io::load_checkpoint(path).extra_json, R"({"old":true})");
}

class CheckpointLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("model.nimble");
    io::save_checkpoint(small_graph(), path_, R"({"k":1})");
    good_ = read_bytes(path_);
  }
  // Writes `bytes` to the checkpoint path, loads it, and checks the error names file and problem.
  std::string load_error(const Bytes& bytes, const std::string& needle) {
    write_bytes(path_, bytes);
    return load_error_at(path_, needle);
  }
  std::string load_error_at(const std::string& path, const std::string& needle) {
    std::string msg = expect_error([&] { io::load_checkpoint(path); }, needle);
    EXPECT_TRUE(is_checkpoint_error(msg, path));
    return msg;
  }
  TempDir dir_;
  std::string path_;
  Bytes good_;
};

TEST_F(CheckpointLoad, ReportsFileLevelProblems) {
  load_error_at(dir_.file("missing.nimble"), "cannot open: No such file or directory");
  load_error_at(dir_.path(), "is a directory");
  ASSERT_EQ(::mkfifo(dir_.file("fifo").c_str(), 0600), 0);
  load_error_at(dir_.file("fifo"), "not a regular file");  // and no hang waiting for a writer

  const std::string png = "\x89PNG\r\n\x1a\n0000000000000000000000000000";
  load_error(Bytes(png.begin(), png.end()), "not a nimble checkpoint (bad magic)");
  load_error(Bytes{'{', '}'}, "not a nimble checkpoint (bad magic)");
  load_error(Bytes{}, "not a nimble checkpoint (empty file)");
  load_error(Bytes(good_.begin(), good_.begin() + 10),
             "truncated: the file has 10 bytes, less than the 24-byte prefix");

  Bytes b = good_;
  put_le(b.data() + 8, 2, 4);
  load_error(b, "unsupported format version 2 (this build reads version 1)");
  b = good_;
  put_le(b.data() + 12, uint64_t(1) << 40, 8);
  load_error(b, "header length 1099511627776 exceeds the 64 MiB limit");
  b = good_;
  put_le(b.data() + 12, 0, 8);
  load_error(b, "the header is empty");
  b = good_;
  put_le(b.data() + 12, good_.size(), 8);
  load_error(b, "truncated: the header ends at byte " + std::to_string(good_.size() + 24) + " but the file has " +
                    std::to_string(good_.size()) + " bytes");
  b = good_;
  b[30] ^= 0x01;
  load_error(b, "header CRC mismatch");
  b = good_;
  b.push_back(0);
  load_error(b, "1 unexpected bytes after the data section");
}

TEST_F(CheckpointLoad, ReportsDataProblems) {
  const Parts parts = split(good_);
  const json h = json::parse(parts.header);
  const size_t data_offset = good_.size() - parts.data.size();
  // Truncated inside the first tensor: the message says which tensor and where.
  const json& t0 = h["tensors"][0];
  const std::string name0 = t0["name"];
  const uint64_t end0 = data_offset + t0["offset"].get<uint64_t>() + t0["nbytes"].get<uint64_t>();
  const size_t cut = data_offset + 10;
  load_error(Bytes(good_.begin(), good_.begin() + std::ptrdiff_t(cut)),
             "truncated: tensor '" + name0 + "' ends at byte " + std::to_string(end0) + " but the file has " +
                 std::to_string(cut) + " bytes");
  // A flipped bit in a tensor's data.
  Bytes b = good_;
  b[data_offset + t0["offset"].get<size_t>() + 5] ^= 0x10;
  load_error(b, "tensor '" + name0 + "': CRC mismatch");
  // Padding between tensors (after the 8-float bias, say) is checked too.
  const json& t1 = h["tensors"][1];
  const size_t gap = data_offset + t1["offset"].get<size_t>() + t1["nbytes"].get<size_t>();
  ASSERT_LT(gap, data_offset + h["tensors"][2]["offset"].get<size_t>());
  b = good_;
  b[gap] = 1;
  load_error(b, "nonzero byte at " + std::to_string(gap));
  // Padding after the header.
  const size_t header_end = 24 + parts.header.size();
  ASSERT_LT(header_end, data_offset);
  b = good_;
  b[header_end] = ' ';
  load_error(b, "in the padding after the header");
}

// Header edits behind a valid CRC reach the table and graph validators.
TEST_F(CheckpointLoad, ValidatesTheTableBehindTheCrc) {
  auto edit = [&](const std::function<void(json&, Bytes&)>& f) { return resign(good_, f); };
  // Sanity: re-signing without changes loads.
  write_bytes(path_, edit([](json&, Bytes&) {}));
  EXPECT_NO_THROW(io::load_checkpoint(path_));

  load_error(edit([](json& h, Bytes&) { h["tensors"][0]["nbytes"] = 12; }),
             "tensor 'stem.conv.bias': nbytes 12 does not match shape 8 of f32");
  load_error(edit([](json& h, Bytes&) { h["tensors"][1]["offset"] = 128; }), "offset 128, expected 64");
  load_error(edit([](json& h, Bytes&) { h["tensors"][0]["offset"] = -64; }), "offset: -64 is outside");
  load_error(edit([](json& h, Bytes&) { h["tensors"][0]["dtype"] = "s32"; }),
             "tensor 'stem.conv.bias' is s32 8 but the graph declares f32 8");
  load_error(edit([](json& h, Bytes&) { h["tensors"][0]["dtype"] = "q4"; }), "unknown dtype 'q4'");
  load_error(edit([](json& h, Bytes&) { h["tensors"][0]["crc32"] = 1; }), "CRC mismatch (stored 0x00000001");
  load_error(edit([](json& h, Bytes&) { h["tensors"][0]["crc32"] = 1LL << 32; }), "crc32: 4294967296 is above");
  load_error(edit([](json& h, Bytes&) {
               h["tensors"][0]["shape"] = {2, 4};
             }),
             "tensor 'stem.conv.bias' is f32 2x4 but the graph declares f32 8");
  load_error(edit([](json& h, Bytes&) { h["data_bytes"] = h["data_bytes"].get<uint64_t>() + 64; }),
             "declares " + std::to_string(split(good_).data.size() + 64) + " bytes but its tensors end at");
  load_error(edit([](json& h, Bytes&) { h["data_bytes"] = 1ull << 62; }), "declares 4611686018427387904 bytes");
  load_error(edit([](json& h, Bytes&) { h["data_bytes"] = 64; }), "past its declared 64 bytes");
  load_error(edit([](json& h, Bytes& d) {
               h["data_bytes"] = d.size() + 64;
               d.resize(d.size() + 64, 0);
             }),
             "declares " + std::to_string(split(good_).data.size() + 64) + " bytes but its tensors end at");
  // A tensor the graph does not have, and a parameter without a tensor.
  load_error(edit([](json& h, Bytes& d) {
               json extra = h["tensors"].back();
               const uint64_t off = (d.size() + 63) / 64 * 64;
               extra["name"] = "ghost.weights";
               extra["offset"] = off;
               d.resize(off, 0);
               d.insert(d.end(), d.begin(), d.begin() + extra["nbytes"].get<std::ptrdiff_t>());
               h["data_bytes"] = d.size();
               h["tensors"].push_back(extra);
             }),
             "tensor 'ghost.weights' matches no parameter of the graph");
  load_error(edit([](json& h, Bytes& d) {
               json dup = h["tensors"].back();
               const uint64_t off = (d.size() + 63) / 64 * 64;
               dup["offset"] = off;
               d.resize(off, 0);
               d.insert(d.end(), d.begin(), d.begin() + dup["nbytes"].get<std::ptrdiff_t>());
               h["data_bytes"] = d.size();
               h["tensors"].push_back(dup);
             }),
             "appears twice");
  load_error(edit([](json& h, Bytes& d) {
               h["tensors"].erase(h["tensors"].size() - 1);
               d.resize(h["tensors"].back()["offset"].get<size_t>() + h["tensors"].back()["nbytes"].get<size_t>());
               h["data_bytes"] = d.size();
             }),
             "has no tensor in the file");
  // Graph problems are reported as such.
  load_error(edit([](json& h, Bytes&) { h["graph"]["nodes"][0]["op"] = "conv9d"; }),
             "graph: node 0 ('stem.conv'): unknown op 'conv9d'");
  load_error(edit([](json& h, Bytes&) {
               h["graph"]["nodes"][0]["params"]["weights"]["shape"] = {8, 3, 1, 9};
             }),
             "graph: node 0 ('stem.conv'): conv2d 'stem.conv': weights 8x3x1x9 do not match 8x3x3x3");
  load_error(
      edit([](json& h, Bytes&) {
        h["graph"]["nodes"][7]["params"]["extra"] = {{"dtype", "f32"}, {"shape", {1000000}}, {"trainable", false}};
      }),
      "parameters declare more than");
  load_error(edit([](json& h, Bytes&) { h["extra"] = "x"; }), "extra: expected an object, got string");
  load_error(edit([](json& h, Bytes&) { h["comment"] = "x"; }), "header: unknown key 'comment'");
  load_error(edit([](json& h, Bytes&) { h.erase("tensors"); }), "header: missing \"tensors\"");
  // A header that is not JSON at all, correctly signed.
  load_error(assemble("not json", split(good_).data), "the header is not valid JSON");
}

}  // namespace
}  // namespace nimble::testing_io
