#pragma once
// The architecture search space: MobileNetV2/V3-style stages of inverted-residual blocks whose
// depth, width, expansion ratio and depthwise kernel size are chosen per stage. A point of the
// space (an Arch) builds an ordinary Graph; every Arch's graph is a sub-network of the largest
// one (nas/supernet.hpp), so one set of weights serves them all.
#include <cstdint>
#include <string>
#include <vector>

#include "nimble/core/rng.hpp"
#include "nimble/graph/graph.hpp"

namespace nimble::nas {

struct NetBuilder;  // src/nas/space.cpp

struct SpaceOptions {
  Shape input{1, 28, 28};  // per sample, (C, H, W)
  int64_t classes = 10;
  bool squeeze_excite = false;  // MobileNetV3's squeeze-excitation in stages 2, 4 and 5
  bool hard_swish = false;      // MobileNetV3's hard-swish in stages 3 to 5 and the head (else ReLU6)
  std::vector<int64_t> depths{1, 2, 3};
  std::vector<double> width_multipliers{0.5, 0.75, 1.0};  // of each stage's base width, rounded to 8
  std::vector<int64_t> expand_ratios{3, 4, 6};
  std::vector<int64_t> kernels{3, 5, 7};
  double dropout = 0.1;  // before the classifier
  void validate() const;
};

// One stage's choices, as values (not indices).
struct StageChoice {
  int64_t depth = 0, width = 0, expand = 0, kernel = 0;
  bool operator==(const StageChoice&) const = default;
};

struct Arch {
  std::vector<StageChoice> stages;
  bool operator==(const Arch&) const = default;
};

struct StageSpace {
  int64_t stride = 1;
  int64_t in_height = 0, in_width = 0;                    // the map entering the stage
  std::vector<int64_t> depths, widths, expands, kernels;  // the choices, ascending
  bool squeeze_excite = false;
  OpKind activation = OpKind::relu6;
};

// A piece of an architecture that the latency table times on its own: the stem (with the first
// block), one inverted-residual block of a stage, or the head (with the classifier).
struct Block {
  enum Kind { stem, inverted_residual, head } kind = stem;
  int stage = 0;            // inverted_residual: 0-based stage
  bool first = false;       // inverted_residual: the stage's first block (strided, changes width)
  int64_t in = 0;           // input channels (inverted_residual, head)
  StageChoice choice;       // inverted_residual: width, expand, kernel (depth unused)
  std::string key() const;  // e.g. "s2.first:24>40:e6:k5"; one per distinct configuration
};

class SearchSpace {
 public:
  explicit SearchSpace(SpaceOptions options);
  const SpaceOptions& options() const { return options_; }
  const std::vector<StageSpace>& stages() const { return stages_; }
  int64_t stem_width() const { return 16; }
  int64_t stem_stride() const { return stem_stride_; }
  int64_t head_width() const { return head_width_; }

  Arch largest() const;
  Arch smallest() const;
  Arch random(Rng& rng) const;
  // Genes: per stage the index of its depth, width, expansion and kernel choice.
  std::vector<int> cardinalities() const;
  std::vector<int> genes(const Arch& arch) const;
  Arch from_genes(const std::vector<int>& genes) const;
  // The accuracy predictor's features: one-hot of every gene, then each stage's choices as fractions
  // of the stage's largest.
  std::vector<double> encode(const Arch& arch) const;
  // Throws Error naming the stage and the choice when `arch` is not in this space.
  void check(const Arch& arch) const;
  double size() const;  // the number of distinct architectures

  // A freshly initialised graph of `arch` (torchvision-style initialisation from `seed`). Node
  // names are structural ("s2.b1.dw"), the same in every architecture that has that layer.
  Graph build(const Arch& arch, uint64_t seed = 0) const;

  // The blocks of `arch`, in order, and every distinct block of the space.
  std::vector<Block> blocks(const Arch& arch) const;
  std::vector<Block> all_blocks() const;
  // A graph of one block alone, its input the map that enters it (for timing).
  Graph build_block(const Block& block) const;

  // The options as JSON and back: what a supernet checkpoint records to rebuild its space.
  std::string options_json() const;
  static SearchSpace from_options_json(const std::string& json);

 private:
  int add_stem(NetBuilder& b, int x) const;
  int add_head(NetBuilder& b, int x) const;
  Graph finish(NetBuilder& b, int out) const;

  SpaceOptions options_;
  std::vector<StageSpace> stages_;
  int64_t stem_stride_ = 1, head_width_ = 0, head_in_height_ = 0, head_in_width_ = 0;
};

// What a searched model's recipe records and `nimble train --model` builds afresh:
// "searched:ARCH", with the space's options when set: "searched[se,hswish]:ARCH".
std::string searched_model_name(const SearchSpace& space, const Arch& arch);
bool is_searched_model_name(const std::string& name);
// A freshly initialised graph of such a name for this input and class count (the space's other
// options at their defaults). Throws Error for a malformed name or an architecture outside the space.
Graph build_searched_model(const std::string& name, const Shape& input, int64_t classes, uint64_t seed);

// "d2-w24-e4-k5_d3-w40-e6-k3_...": one stage per '_'-separated group.
std::string arch_to_string(const Arch& arch);
// Throws Error on malformed text (it is not checked against a space: SearchSpace::check does).
Arch arch_from_string(const std::string& text);

}  // namespace nimble::nas
