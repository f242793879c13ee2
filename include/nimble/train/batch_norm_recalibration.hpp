#pragma once
// Batch-norm statistics measured anew for a model whose weights changed shape or meaning: a
// sub-network taken from a supernet (whose statistics mix every architecture's) or a model pruned
// in one shot (whose statistics are the unpruned model's).
#include <cstdint>

#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"

namespace nimble::train {

// Replaces the running statistics of every batch-norm of `graph` by the mean and variance of its
// input over the first `images` training images. Runs train-mode forward passes; weights are
// unchanged.
void recalibrate_batch_norm(Graph& graph, const data::ImageSet& train, const data::Normalization& norm,
                            int64_t images = 2000, int64_t batch = 200);

}  // namespace nimble::train
