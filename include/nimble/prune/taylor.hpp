#pragma once
// First-order Taylor importance of channels (Molchanov et al., "Importance Estimation for Neural
// Network Pruning", CVPR 2019). Pruning a class of a ChannelGraph zeroes its producers' parameters
// P (conv / linear rows and biases, batch-norm scales and shifts), which changes the loss by about
// -sum over p in P of p * dL/dp. A class's score is that estimate squared, averaged over batches:
// the loss it would cost, measured on data, where L1 / L2 / bn read the weights alone. Behind a
// batch-norm a convolution's rows are scale-invariant (their term is zero), so the batch-norm's
// gamma * dL/dgamma + beta * dL/dbeta carries the score, as in the paper's Taylor-FO-BN.
#include <cstdint>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/prune/channel.hpp"

namespace nimble::prune {

// Accumulates scores from the gradients a training step left in a graph's parameters.
class TaylorScores {
 public:
  // `g`'s channel structure; add_batch takes graphs of the same structure (its masked copy).
  explicit TaylorScores(const Graph& g);
  // One batch: reads the data and gradients of the producers' parameters of `g`.
  void add_batch(const Graph& g);
  int64_t batches() const { return batches_; }
  // Per class of ChannelGraph(g): the mean over the batches added (empty when none was).
  std::vector<double> class_scores() const;
  void reset();
  // The running sums, for a training checkpoint, and back.
  const std::vector<double>& sums() const { return sums_; }
  void restore(std::vector<double> sums, int64_t batches);

 private:
  struct Producer {
    int node;
    int64_t channel;
    int cls;
  };
  std::vector<Producer> producers_;
  std::vector<double> sums_, batch_;
  int64_t batches_ = 0;
};

// Scores of every class of ChannelGraph(g) over the first `images` of `train` (cross-entropy on
// the labels, batch-norm in training mode, fp32). `g` itself is not changed.
std::vector<double> taylor_scores(const Graph& g, const data::ImageSet& train, const data::Normalization& norm,
                                  int64_t images = 4096, int64_t batch = 128);

}  // namespace nimble::prune
