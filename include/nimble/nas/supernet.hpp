#pragma once
// The weight-sharing supernet: the largest architecture of a search space, whose layers are
// elastic. A sub-network takes the leading slice of every layer's channels and the centre of every
// kernel (a 3x3 depthwise kernel is the middle of the 7x7 one), and the first `depth` blocks of
// each stage (Once-for-All, Cai et al. 2020). Extraction copies those slices into a standalone,
// physically smaller graph; training adds the sub-network's gradients back onto the slices.
#include <map>
#include <string>

#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/nas/space.hpp"
#include "nimble/runtime/precision.hpp"

namespace nimble::nas {

class Supernet {
 public:
  explicit Supernet(const SearchSpace& space, uint64_t seed = 0);
  // A supernet whose weights are `graph` (the largest architecture of `space`, e.g. loaded from a
  // checkpoint); throws Error if it is not.
  Supernet(SearchSpace space, Graph graph);

  const SearchSpace& space() const { return space_; }
  Graph& graph() { return graph_; }
  const Graph& graph() const { return graph_; }

  // A standalone graph of `arch` holding the supernet's slices (batch-norm running statistics
  // included: recalibrate them, see train::recalibrate_batch_norm).
  Graph extract(const Arch& arch) const;
  // Copies the supernet's slices into `subnet` (a graph of extract()), touching its parameters.
  void copy_weights_to(Graph& subnet) const;
  // Adds `subnet`'s parameter gradients onto the supernet's gradients at their slices.
  void add_gradients_from(const Graph& subnet);

 private:
  SearchSpace space_;
  Graph graph_;
  std::map<std::string, size_t> node_index_;  // supernet node name -> index
};

// The accuracy of `arch` with the supernet's weights: extracted, batch-norm recalibrated on
// `recalibration_images` of `train`, evaluated on `val` in `precision`.
double inherited_accuracy(const Supernet& net, const Arch& arch, const data::ImageSet& train, const data::ImageSet& val,
                          const data::Normalization& norm, int64_t recalibration_images = 2000,
                          Precision precision = Precision::fp32);

}  // namespace nimble::nas
