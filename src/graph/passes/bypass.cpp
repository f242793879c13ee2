#include <algorithm>

#include "nimble/core/error.hpp"
#include "nimble/graph/passes.hpp"

namespace nimble::passes {

// Removes node `node_id` (which must have exactly one input): its consumers read its input instead.
// Values are renumbered so the graph stays compact and topologically ordered.
Graph bypass_node(const Graph& g, int node_id) {
  const Node& gone = g.nodes().at(node_id);
  NIMBLE_ASSERT(gone.inputs.size() == 1, "bypass_node needs a single-input node");
  const int from = gone.output, to = gone.inputs[0];
  NIMBLE_ASSERT(g.input() < from, "the graph input comes before every node output");
  Graph out = g;
  auto& nodes = out.nodes();
  auto& values = out.values();
  for (Node& n : nodes)
    for (int& v : n.inputs)
      if (v == from) v = to;
  if (out.output() == from) out.set_output(to);
  nodes.erase(nodes.begin() + node_id);
  // Drop value `from` and renumber everything after it.
  values.erase(values.begin() + from);
  auto renum = [from](int v) { return v > from ? v - 1 : v; };
  for (Node& n : nodes) {
    for (int& v : n.inputs) v = renum(v);
    n.output = renum(n.output);
  }
  for (Value& v : values)
    if (v.producer > node_id) --v.producer;
  out.set_output(renum(out.output()));
  return out;
}

}  // namespace nimble::passes
