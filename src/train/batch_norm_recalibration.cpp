#include "nimble/train/batch_norm_recalibration.hpp"

#include <algorithm>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/data/dataset.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble::train {

void recalibrate_batch_norm(Graph& graph, const data::ImageSet& train, const data::Normalization& norm, int64_t images,
                            int64_t batch) {
  NIMBLE_CHECK(images >= 1 && batch >= 1, "batch-norm recalibration needs at least one image");
  batch = std::min({batch, images, train.size()});
  NIMBLE_CHECK(batch >= 2, "batch-norm recalibration needs at least 2 training images");
  // With momentum 1 a train-mode forward leaves each batch's own statistics in the running ones;
  // those of equal batches combine exactly into the statistics of all their values: the mean of the
  // means, and the mean (biased) variance plus the variance of the means.
  struct Stats {
    Node* node;
    AttrValue momentum;
    double unbias;  // n / (n - 1) for the n values per channel of a batch: the running variance has it
    std::vector<double> mean, mean_sq, var;
  };
  std::vector<Stats> bns;
  for (Node& n : graph.nodes())
    if (n.op == OpKind::batch_norm2d) {
      const size_t c = size_t(n.param("running_mean").data.numel());
      const Shape in = graph.values()[size_t(n.inputs[0])].shape;  // (1, C, H, W)
      const double count = double(batch * in[2] * in[3]);
      bns.push_back({&n, n.attrs.count("momentum") ? n.attrs["momentum"] : AttrValue(0.1), count / (count - 1),
                     std::vector<double>(c), std::vector<double>(c), std::vector<double>(c)});
      n.attrs["momentum"] = 1.0;
    }
  if (bns.empty()) return;
  int64_t batches = 0;
  try {
    Session session(graph, {batch, Mode::train, true, Precision::fp32});
    data::BatchLoader loader(train, norm, batch, /*shuffle=*/true, /*drop_last=*/true, {}, /*seed=*/0);
    loader.start_epoch(0);
    data::Batch b;
    for (int64_t seen = 0; seen < images && loader.next(b); seen += b.count, ++batches) {
      session.forward(b.images);
      for (Stats& s : bns) {
        const float* m = s.node->param("running_mean").data.data<float>();
        const float* v = s.node->param("running_var").data.data<float>();
        for (size_t ch = 0; ch < s.mean.size(); ++ch) {
          s.mean[ch] += m[ch];
          s.mean_sq[ch] += double(m[ch]) * m[ch];
          s.var[ch] += v[ch];
        }
      }
    }
  } catch (...) {
    for (Stats& s : bns) s.node->attrs["momentum"] = s.momentum;
    throw;
  }
  for (Stats& s : bns) {
    s.node->attrs["momentum"] = s.momentum;
    float* mean = s.node->params.at("running_mean")->data.data<float>();
    float* var = s.node->params.at("running_var")->data.data<float>();
    for (size_t ch = 0; ch < s.mean.size(); ++ch) {
      const double m = s.mean[ch] / double(batches);
      mean[ch] = float(m);
      var[ch] = float(s.var[ch] / s.unbias / double(batches) + std::max(0.0, s.mean_sq[ch] / double(batches) - m * m));
    }
    s.node->params.at("running_mean")->touch();
    s.node->params.at("running_var")->touch();
  }
}

}  // namespace nimble::train
