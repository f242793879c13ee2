#include "nimble/nas/space.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nimble/core/error.hpp"
#include "zoo/builder.hpp"

namespace nimble::nas {

namespace {

// MobileNetV3-Large's stages (Howard et al. 2019), as Once-for-All searches them: base widths,
// strides at 224 px, and where V3 puts squeeze-excitation and hard-swish.
struct BaseStage {
  int64_t width, stride;
  bool se, hswish;
};
constexpr BaseStage kBaseStages[] = {
    {24, 2, false, false}, {40, 2, true, false}, {80, 2, false, true}, {112, 1, true, true}, {160, 2, true, true}};
constexpr int64_t kHeadExpand = 6;  // the head's 1x1 convolution: 6 x the widest last stage

std::vector<int64_t> sorted_unique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

// Graph construction with structural names, so that a layer has one name in every architecture.
struct NetBuilder {
  Graph g;
  Rng rng;
  explicit NetBuilder(uint64_t seed) : rng(seed) {}

  int conv(int x, const std::string& name, int64_t out, int64_t k, int64_t stride, int64_t groups = 1,
           bool bias = false) {
    return g.add_node(OpKind::conv2d, name, {x},
                      {{"out_channels", out},
                       {"kernel", std::vector<int64_t>{k, k}},
                       {"stride", std::vector<int64_t>{stride, stride}},
                       {"padding", std::vector<int64_t>{(k - 1) / 2, (k - 1) / 2}},
                       {"groups", groups},
                       {"bias", int64_t(bias)}},
                      &rng);
  }
  int bn(int x, const std::string& name) { return g.add_node(OpKind::batch_norm2d, name, {x}, {}, &rng); }
  int op(int x, const std::string& name, OpKind kind) { return g.add_node(kind, name, {x}, {}, &rng); }
  int conv_bn_act(int x, const std::string& name, int64_t out, int64_t k, int64_t stride, OpKind act,
                  int64_t groups = 1) {
    return op(bn(conv(x, name, out, k, stride, groups), name + "_bn"), name + "_act", act);
  }
  int64_t channels(int x) const { return g.values()[size_t(x)].shape[1]; }

  // Squeeze-excitation as MobileNetV3 has it: global pool, 1x1 reduce to a quarter, ReLU, 1x1
  // expand, hard-sigmoid gate.
  int squeeze_excite(int x, const std::string& name) {
    const int64_t c = channels(x);
    int s = op(x, name + ".se_pool", OpKind::global_avg_pool);
    s = op(conv(s, name + ".se_reduce", zoo::make_divisible(double(c) / 4), 1, 1, 1, true), name + ".se_relu",
           OpKind::relu);
    s = op(conv(s, name + ".se_expand", c, 1, 1, 1, true), name + ".se_gate", OpKind::hardsigmoid);
    return g.add_node(OpKind::mul, name + ".se_mul", {x, s}, {}, &rng);
  }

  int inverted_residual(int x, const std::string& name, const StageSpace& st, const StageChoice& c, int64_t stride) {
    const int64_t in = channels(x), hidden = in * c.expand;
    int y = conv_bn_act(x, name + ".expand", hidden, 1, 1, st.activation);
    y = conv_bn_act(y, name + ".dw", hidden, c.kernel, stride, st.activation, hidden);
    if (st.squeeze_excite) y = squeeze_excite(y, name);
    y = bn(conv(y, name + ".project", c.width, 1, 1), name + ".project_bn");
    return (stride == 1 && in == c.width) ? g.add_node(OpKind::add, name + ".add", {y, x}, {}, &rng) : y;
  }
};

namespace {

std::string block_name(int stage, int64_t index) {
  return "s" + std::to_string(stage + 1) + ".b" + std::to_string(index + 1);
}

template <class T> std::string join(const std::vector<T>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  return s.str();
}

void check_choice(int64_t value, const std::vector<int64_t>& choices, size_t stage, const char* what) {
  NIMBLE_CHECK(std::find(choices.begin(), choices.end(), value) != choices.end(),
               "stage " + std::to_string(stage + 1) + ": " + what + " " + std::to_string(value) +
                   " is not in the search space (choices: " + join(choices) + ")");
}

int index_of(int64_t value, const std::vector<int64_t>& choices) {
  return int(std::find(choices.begin(), choices.end(), value) - choices.begin());
}

}  // namespace

void SpaceOptions::validate() const {
  NIMBLE_CHECK(input.rank() == 3 && input[0] >= 1 && input[0] <= 64 && input[1] >= 8 && input[2] >= 8 &&
                   input[1] <= 1024 && input[2] <= 1024,
               "the search space needs a CxHxW input of 8 to 1024 pixels a side, got " + input.str());
  NIMBLE_CHECK(classes >= 2, "the search space needs at least 2 classes");
  NIMBLE_CHECK(!depths.empty() && !width_multipliers.empty() && !expand_ratios.empty() && !kernels.empty(),
               "every dimension of the search space needs at least one choice");
  for (int64_t d : depths) NIMBLE_CHECK(d >= 1 && d <= 8, "stage depths must be in [1, 8]");
  for (double w : width_multipliers) NIMBLE_CHECK(w > 0 && w <= 2, "width multipliers must be in (0, 2]");
  for (int64_t e : expand_ratios) NIMBLE_CHECK(e >= 1 && e <= 8, "expansion ratios must be in [1, 8]");
  for (int64_t k : kernels) NIMBLE_CHECK(k >= 1 && k <= 9 && k % 2 == 1, "kernel sizes must be odd, 1 to 9");
  NIMBLE_CHECK(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
}

SearchSpace::SearchSpace(SpaceOptions options) : options_(std::move(options)) {
  options_.validate();
  // The stride layout follows the input: a stride-2 stage halves the map only while it is at least
  // 4 pixels, so small inputs (28 px) keep a 2x2 map before the head as 224 px inputs keep 7x7.
  auto halve = [](int64_t v, int64_t stride) { return (v + stride - 1) / stride; };
  int64_t side = std::min(options_.input[1], options_.input[2]);
  stem_stride_ = side >= 64 ? 2 : 1;
  side = halve(side, stem_stride_);
  int64_t h = halve(options_.input[1], stem_stride_), w = halve(options_.input[2], stem_stride_);
  for (const BaseStage& b : kBaseStages) {
    StageSpace s;
    s.stride = (b.stride == 2 && side >= 4) ? 2 : 1;
    s.in_height = h;
    s.in_width = w;
    side = halve(side, s.stride);
    h = halve(h, s.stride);
    w = halve(w, s.stride);
    s.depths = sorted_unique(options_.depths);
    for (double m : options_.width_multipliers) s.widths.push_back(zoo::make_divisible(double(b.width) * m));
    s.widths = sorted_unique(s.widths);
    s.expands = sorted_unique(options_.expand_ratios);
    // A kernel wider than 2 x map - 1 only adds taps that never reach the map (7x7 on a 2x2 map is
    // its centre 3x3 and runs on oneDNN's slow generic kernel): such choices are dropped.
    for (int64_t k : sorted_unique(options_.kernels))
      if (k <= 2 * side - 1 || s.kernels.empty()) s.kernels.push_back(k);
    s.squeeze_excite = options_.squeeze_excite && b.se;
    s.activation = (options_.hard_swish && b.hswish) ? OpKind::hardswish : OpKind::relu6;
    stages_.push_back(s);
  }
  head_width_ = kHeadExpand * stages_.back().widths.back();
  head_in_height_ = h;
  head_in_width_ = w;
}

Arch SearchSpace::largest() const {
  Arch a;
  for (const StageSpace& s : stages_)
    a.stages.push_back({s.depths.back(), s.widths.back(), s.expands.back(), s.kernels.back()});
  return a;
}

Arch SearchSpace::smallest() const {
  Arch a;
  for (const StageSpace& s : stages_)
    a.stages.push_back({s.depths.front(), s.widths.front(), s.expands.front(), s.kernels.front()});
  return a;
}

Arch SearchSpace::random(Rng& rng) const {
  std::vector<int> g;
  for (int c : cardinalities()) g.push_back(int(rng.below(uint64_t(c))));
  return from_genes(g);
}

std::vector<int> SearchSpace::cardinalities() const {
  std::vector<int> c;
  for (const StageSpace& s : stages_)
    for (const auto* v : {&s.depths, &s.widths, &s.expands, &s.kernels}) c.push_back(int(v->size()));
  return c;
}

std::vector<int> SearchSpace::genes(const Arch& arch) const {
  check(arch);
  std::vector<int> g;
  for (size_t i = 0; i < stages_.size(); ++i) {
    const StageSpace& s = stages_[i];
    const StageChoice& c = arch.stages[i];
    g.insert(g.end(), {index_of(c.depth, s.depths), index_of(c.width, s.widths), index_of(c.expand, s.expands),
                       index_of(c.kernel, s.kernels)});
  }
  return g;
}

Arch SearchSpace::from_genes(const std::vector<int>& genes) const {
  const std::vector<int> card = cardinalities();
  NIMBLE_CHECK(genes.size() == card.size(), "an architecture of this space has " + std::to_string(card.size()) +
                                                " genes, got " + std::to_string(genes.size()));
  for (size_t i = 0; i < genes.size(); ++i)
    NIMBLE_CHECK(genes[i] >= 0 && genes[i] < card[i], "gene " + std::to_string(i) + " is out of range");
  Arch a;
  for (size_t i = 0; i < stages_.size(); ++i) {
    const StageSpace& s = stages_[i];
    const int* g = &genes[i * 4];
    a.stages.push_back(
        {s.depths[size_t(g[0])], s.widths[size_t(g[1])], s.expands[size_t(g[2])], s.kernels[size_t(g[3])]});
  }
  return a;
}

std::vector<double> SearchSpace::encode(const Arch& arch) const {
  const std::vector<int> g = genes(arch), card = cardinalities();
  std::vector<double> x;
  for (size_t i = 0; i < g.size(); ++i)
    for (int v = 0; v < card[i]; ++v) x.push_back(v == g[i] ? 1.0 : 0.0);
  // The choices as numbers too, relative to the stage's largest: a trend (wider is better) is one
  // weight to learn instead of one per choice.
  for (size_t s = 0; s < stages_.size(); ++s) {
    const StageSpace& st = stages_[s];
    const StageChoice& c = arch.stages[s];
    x.insert(x.end(), {double(c.depth) / double(st.depths.back()), double(c.width) / double(st.widths.back()),
                       double(c.expand) / double(st.expands.back()), double(c.kernel) / double(st.kernels.back())});
  }
  return x;
}

void SearchSpace::check(const Arch& arch) const {
  NIMBLE_CHECK(arch.stages.size() == stages_.size(), "an architecture of this space has " +
                                                         std::to_string(stages_.size()) + " stages, got " +
                                                         std::to_string(arch.stages.size()));
  for (size_t i = 0; i < stages_.size(); ++i) {
    check_choice(arch.stages[i].depth, stages_[i].depths, i, "depth");
    check_choice(arch.stages[i].width, stages_[i].widths, i, "width");
    check_choice(arch.stages[i].expand, stages_[i].expands, i, "expansion ratio");
    check_choice(arch.stages[i].kernel, stages_[i].kernels, i, "kernel size");
  }
}

double SearchSpace::size() const {
  double n = 1;
  for (int c : cardinalities()) n *= c;
  return n;
}

// The pieces every graph of the space is made of; build() and build_block() share them so that a
// block timed alone is the block of the whole model.
int SearchSpace::add_stem(NetBuilder& b, int x) const {
  const OpKind act = stages_.front().activation;
  x = b.conv_bn_act(x, "stem", stem_width(), 3, stem_stride_, act);
  // The first block: a depthwise-separable residual at the stem's width, as in MobileNetV3.
  int y = b.conv_bn_act(x, "first.dw", stem_width(), 3, 1, act, stem_width());
  y = b.bn(b.conv(y, "first.pw", stem_width(), 1, 1), "first.pw_bn");
  return b.g.add_node(OpKind::add, "first.add", {y, x}, {}, &b.rng);
}

int SearchSpace::add_head(NetBuilder& b, int x) const {
  x = b.conv_bn_act(x, "head", head_width_, 1, 1, stages_.back().activation);
  x = b.op(b.op(x, "head.pool", OpKind::global_avg_pool), "head.flatten", OpKind::flatten);
  if (options_.dropout > 0) x = b.g.add_node(OpKind::dropout, "head.dropout", {x}, {{"p", options_.dropout}}, &b.rng);
  return b.g.add_node(OpKind::linear, "classifier", {x}, {{"out_features", options_.classes}, {"bias", int64_t(1)}},
                      &b.rng);
}

Graph SearchSpace::build(const Arch& arch, uint64_t seed) const {
  check(arch);
  NetBuilder b(seed);
  int x = add_stem(b, b.g.add_input("input", options_.input));
  for (size_t s = 0; s < stages_.size(); ++s)
    for (int64_t i = 0; i < arch.stages[s].depth; ++i)
      x = b.inverted_residual(x, block_name(int(s), i), stages_[s], arch.stages[s], i == 0 ? stages_[s].stride : 1);
  x = add_head(b, x);
  b.g.meta["arch"] = arch_to_string(arch);
  return finish(b, x);
}

Graph SearchSpace::build_block(const Block& block) const {
  NetBuilder b(0);
  int x = -1;
  if (block.kind == Block::stem) {
    x = add_stem(b, b.g.add_input("input", options_.input));
  } else if (block.kind == Block::head) {
    x = add_head(b, b.g.add_input("input", Shape{block.in, head_in_height_, head_in_width_}));
  } else {
    const StageSpace& st = stages_.at(size_t(block.stage));
    const int64_t stride = block.first ? st.stride : 1;
    const Shape in = block.first ? Shape{block.in, st.in_height, st.in_width}
                                 : Shape{block.in, (st.in_height + st.stride - 1) / st.stride,
                                         (st.in_width + st.stride - 1) / st.stride};
    x = b.inverted_residual(b.g.add_input("input", in), block_name(block.stage, block.first ? 0 : 1), st, block.choice,
                            stride);
  }
  b.g.meta["block"] = block.key();
  return finish(b, x);
}

Graph SearchSpace::finish(NetBuilder& b, int out) const {
  zoo::torchvision_init(b.g, b.rng);
  b.g.set_output(out);
  b.g.meta["model"] = "searched";
  b.g.validate();
  return std::move(b.g);
}

std::vector<Block> SearchSpace::blocks(const Arch& arch) const {
  check(arch);
  std::vector<Block> out{Block{}};
  int64_t in = stem_width();
  for (size_t s = 0; s < stages_.size(); ++s)
    for (int64_t i = 0; i < arch.stages[s].depth; ++i) {
      out.push_back({Block::inverted_residual, int(s), i == 0, in, arch.stages[s]});
      in = arch.stages[s].width;
    }
  Block head;
  head.kind = Block::head;
  head.in = in;
  out.push_back(head);
  return out;
}

std::vector<Block> SearchSpace::all_blocks() const {
  std::vector<Block> out{Block{}};
  std::vector<int64_t> ins{stem_width()};
  for (size_t s = 0; s < stages_.size(); ++s) {
    const StageSpace& st = stages_[s];
    for (int64_t w : st.widths)
      for (int64_t e : st.expands)
        for (int64_t k : st.kernels) {
          for (int64_t in : ins) out.push_back({Block::inverted_residual, int(s), true, in, {0, w, e, k}});
          if (st.depths.back() > 1) out.push_back({Block::inverted_residual, int(s), false, w, {0, w, e, k}});
        }
    ins = st.widths;
  }
  for (int64_t in : ins) {
    Block head;
    head.kind = Block::head;
    head.in = in;
    out.push_back(head);
  }
  return out;
}

std::string Block::key() const {
  if (kind == stem) return "stem";
  if (kind == head) return "head:" + std::to_string(in);
  return "s" + std::to_string(stage + 1) + (first ? ".first:" : ".rest:") + std::to_string(in) + ">" +
         std::to_string(choice.width) + ":e" + std::to_string(choice.expand) + ":k" + std::to_string(choice.kernel);
}

std::string SearchSpace::options_json() const {
  const SpaceOptions& o = options_;
  nlohmann::json j = {
      {"input", o.input.dims()},          {"classes", o.classes}, {"squeeze_excite", o.squeeze_excite},
      {"hard_swish", o.hard_swish},       {"depths", o.depths},   {"width_multipliers", o.width_multipliers},
      {"expand_ratios", o.expand_ratios}, {"kernels", o.kernels}, {"dropout", o.dropout}};
  return j.dump();
}

SearchSpace SearchSpace::from_options_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    SpaceOptions o;
    o.input = Shape(j.at("input").get<std::vector<int64_t>>());
    o.classes = j.at("classes").get<int64_t>();
    o.squeeze_excite = j.at("squeeze_excite").get<bool>();
    o.hard_swish = j.at("hard_swish").get<bool>();
    o.depths = j.at("depths").get<std::vector<int64_t>>();
    o.width_multipliers = j.at("width_multipliers").get<std::vector<double>>();
    o.expand_ratios = j.at("expand_ratios").get<std::vector<int64_t>>();
    o.kernels = j.at("kernels").get<std::vector<int64_t>>();
    o.dropout = j.at("dropout").get<double>();
    return SearchSpace(o);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("search space options: ") + e.what());
  }
}

std::string searched_model_name(const SearchSpace& space, const Arch& arch) {
  const SpaceOptions& o = space.options();
  std::string flags = o.squeeze_excite ? "se" : "";
  if (o.hard_swish) flags += flags.empty() ? "hswish" : ",hswish";
  return "searched" + (flags.empty() ? "" : "[" + flags + "]") + ":" + arch_to_string(arch);
}

bool is_searched_model_name(const std::string& name) { return name.rfind("searched", 0) == 0; }

Graph build_searched_model(const std::string& name, const Shape& input, int64_t classes, uint64_t seed) {
  const size_t colon = name.find(':');
  NIMBLE_CHECK(is_searched_model_name(name) && colon != std::string::npos,
               "a searched model is named searched:ARCH or searched[se,hswish]:ARCH, got '" + name + "'");
  const std::string flags = name.substr(8, colon - 8);
  SpaceOptions o;
  o.input = input;
  o.classes = classes;
  o.squeeze_excite = flags.find("se") != std::string::npos;
  o.hard_swish = flags.find("hswish") != std::string::npos;
  NIMBLE_CHECK(flags.empty() || flags == "[se]" || flags == "[hswish]" || flags == "[se,hswish]",
               "unknown options '" + flags + "' in '" + name + "' (choices: [se], [hswish], [se,hswish])");
  return SearchSpace(o).build(arch_from_string(name.substr(colon + 1)), seed);
}

std::string arch_to_string(const Arch& arch) {
  std::string s;
  for (size_t i = 0; i < arch.stages.size(); ++i) {
    const StageChoice& c = arch.stages[i];
    s += (i ? "_" : "") + std::string("d") + std::to_string(c.depth) + "-w" + std::to_string(c.width) + "-e" +
         std::to_string(c.expand) + "-k" + std::to_string(c.kernel);
  }
  return s;
}

Arch arch_from_string(const std::string& text) {
  Arch a;
  std::istringstream in(text);
  std::string stage;
  while (std::getline(in, stage, '_')) {
    StageChoice c;
    char tail = 0;
    const int n = std::sscanf(stage.c_str(), "d%ld-w%ld-e%ld-k%ld%c", &c.depth, &c.width, &c.expand, &c.kernel, &tail);
    NIMBLE_CHECK(n == 4 && c.depth > 0 && c.width > 0 && c.expand > 0 && c.kernel > 0,
                 "architecture '" + text + "': stage " + std::to_string(a.stages.size() + 1) +
                     " must read dD-wW-eE-kK (e.g. d2-w24-e4-k5), got '" + stage + "'");
    a.stages.push_back(c);
  }
  NIMBLE_CHECK(!a.stages.empty(), "architecture '" + text + "' has no stages");
  return a;
}

}  // namespace nimble::nas
