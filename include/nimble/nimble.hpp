#pragma once
// The public API in one include: models and their files, inference on raw images, the workflows
// (train, evaluate, benchmark, quantize, prune, search; distillation through their teacher options), the
// model zoo, data sets, the graph and the trainer for models built by hand.
#include "nimble/core/error.hpp"
#include "nimble/core/tensor.hpp"
#include "nimble/data/dataset.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/model.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/trainer.hpp"
#include "nimble/workflows/benchmark.hpp"
#include "nimble/workflows/describe_data.hpp"
#include "nimble/workflows/evaluate.hpp"
#include "nimble/workflows/optimize.hpp"
#include "nimble/workflows/prune.hpp"
#include "nimble/workflows/quantize.hpp"
#include "nimble/workflows/search.hpp"
#include "nimble/workflows/train.hpp"
#include "nimble/zoo/zoo.hpp"
