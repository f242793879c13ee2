#pragma once
// `auto` decided by measurement. A CPU with native bf16 does not make every model faster in bf16:
// layers on small feature maps, and layout changes between kernels that want different layouts,
// can cost more than the halved arithmetic saves (mobilenet_v2 trains slower in bf16 than in fp32
// on AMX). So `auto` times a few steps of the actual model in each native candidate and keeps the
// low precision only where it is measurably faster.
#include <string>

#include "nimble/graph/graph.hpp"
#include "nimble/runtime/precision.hpp"
#include "nimble/runtime/session.hpp"

namespace nimble {

// Milliseconds per step (forward, plus backward in train mode) of `graph` at `batch` in `p`, best
// of a few after a warm-up, on a copy of the graph (the caller's parameters and batch-norm
// statistics are untouched).
double time_step_ms(const Graph& graph, int64_t batch, Mode mode, Precision p);

// choose_precision(requested), except that automatic with a native low precision keeps it only if a
// step of this model at this batch and mode is at least 5 % faster than fp32; the reason says
// what was measured.
PrecisionChoice choose_precision_for(Precision requested, const Graph& graph, int64_t batch, Mode mode);

}  // namespace nimble
