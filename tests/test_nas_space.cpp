// The search space (nas/space.hpp): points, genes and strings round-trip, every architecture builds
// a graph whose blocks add up to it, and the stride layout and kernel choices follow the input.
#include <gtest/gtest.h>

#include <set>

#include "nimble/core/error.hpp"
#include "nimble/nas/space.hpp"

namespace nimble::nas {
namespace {

TEST(NasSpace, LayoutFollowsTheInput) {
  const SearchSpace small({});  // 1x28x28
  EXPECT_EQ(small.stem_stride(), 1);
  ASSERT_EQ(small.stages().size(), 5u);
  const int64_t strides[] = {2, 2, 2, 1, 2};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(small.stages()[i].stride, strides[i]) << i;
  const Graph g = small.build(small.largest());
  // 28 -> 14 -> 7 -> 4 -> 4 -> 2: the head sees a 2x2 map, as mobilenet_v2 does at 28 px.
  EXPECT_EQ(g.values()[size_t(g.nodes()[g.nodes().size() - 5].inputs[0])].shape, (Shape{1, 960, 2, 2}));
  // A 7x7 kernel on the last stage's 2x2 map is its centre: only 3 remains there.
  EXPECT_EQ(small.stages()[4].kernels, (std::vector<int64_t>{3}));
  EXPECT_EQ(small.stages()[0].kernels, (std::vector<int64_t>{3, 5, 7}));

  SpaceOptions big;
  big.input = Shape{3, 224, 224};
  big.classes = 1000;
  const SearchSpace imagenet(big);
  EXPECT_EQ(imagenet.stem_stride(), 2);  // 112 -> 56 -> 28 -> 14 -> 14 -> 7, as in MobileNetV3
  EXPECT_EQ(imagenet.stages()[4].in_height, 14);
  EXPECT_EQ(imagenet.stages()[4].kernels, (std::vector<int64_t>{3, 5, 7}));
  EXPECT_EQ(imagenet.build(imagenet.smallest()).output_shape(), (Shape{1000}));
}

TEST(NasSpace, GenesAndStringsRoundTrip) {
  const SearchSpace space({});
  Rng rng(3);
  for (int i = 0; i < 50; ++i) {
    const Arch a = space.random(rng);
    EXPECT_EQ(space.from_genes(space.genes(a)), a);
    EXPECT_EQ(arch_from_string(arch_to_string(a)), a);
    const std::vector<double> x = space.encode(a);
    const std::vector<int> card = space.cardinalities();
    size_t one_hot = 0;
    for (int c : card) one_hot += size_t(c);
    ASSERT_EQ(x.size(), one_hot + 4 * space.stages().size());
    double ones = 0;
    for (size_t i = 0; i < one_hot; ++i) ones += x[i];
    EXPECT_EQ(ones, double(card.size()));  // one per gene
    EXPECT_DOUBLE_EQ(x[one_hot + 1], double(a.stages[0].width) / double(space.stages()[0].widths.back()));
  }
  EXPECT_EQ(arch_to_string(space.smallest()), "d1-w16-e3-k3_d1-w24-e3-k3_d1-w40-e3-k3_d1-w56-e3-k3_d1-w80-e3-k3");
  double size = 1;
  for (int c : space.cardinalities()) size *= c;
  EXPECT_EQ(space.size(), size);
}

TEST(NasSpace, ArchitecturesOutsideTheSpaceAreRefused) {
  const SearchSpace space({});
  Arch a = space.largest();
  a.stages[1].kernel = 9;
  try {
    space.check(a);
    FAIL() << "a 9x9 kernel was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stage 2: kernel size 9 is not in the search space (choices: 3, 5, 7)"),
              std::string::npos)
        << e.what();
  }
  a = space.largest();
  a.stages.pop_back();
  EXPECT_THROW(space.build(a), Error);
  EXPECT_THROW(arch_from_string("d2-w24-e4"), Error);
  EXPECT_THROW(arch_from_string("d2-w24-e4-k5x"), Error);
  EXPECT_THROW(arch_from_string(""), Error);
  EXPECT_THROW(space.from_genes({0, 1}), Error);
  SpaceOptions bad;
  bad.kernels = {4};
  EXPECT_THROW(SearchSpace{bad}, Error);
  bad = {};
  bad.input = Shape{1, 4, 4};
  EXPECT_THROW(SearchSpace{bad}, Error);
}

TEST(NasSpace, BlocksAddUpToTheWholeModel) {
  SpaceOptions o;
  o.squeeze_excite = true;
  o.hard_swish = true;
  const SearchSpace space(o);
  Rng rng(11);
  for (const Arch& a : {space.smallest(), space.largest(), space.random(rng), space.random(rng)}) {
    const Graph whole = space.build(a);
    int64_t macs = 0, params = 0;
    for (const Block& b : space.blocks(a)) {
      const Graph part = space.build_block(b);
      macs += part.macs();
      params += part.param_count();
    }
    EXPECT_EQ(macs, whole.macs()) << arch_to_string(a);
    EXPECT_EQ(params, whole.param_count()) << arch_to_string(a);
  }
  // Every block of every architecture is one the latency table times.
  std::set<std::string> keys;
  for (const Block& b : space.all_blocks()) EXPECT_TRUE(keys.insert(b.key()).second) << b.key();
  for (int i = 0; i < 20; ++i)
    for (const Block& b : space.blocks(space.random(rng))) EXPECT_TRUE(keys.count(b.key())) << b.key();
}

TEST(NasSpace, SubnetsShareLayerNamesWithTheLargest) {
  const SearchSpace space({});
  const Graph big = space.build(space.largest());
  std::set<std::string> names;
  for (const Node& n : big.nodes()) names.insert(n.name);
  Rng rng(5);
  const Arch a = space.random(rng);
  const Graph sub = space.build(a);
  for (const Node& n : sub.nodes()) EXPECT_TRUE(names.count(n.name)) << n.name;
  EXPECT_LT(sub.param_count(), big.param_count());
  EXPECT_EQ(sub.meta.at("arch"), arch_to_string(a));
}

}  // namespace
}  // namespace nimble::nas
