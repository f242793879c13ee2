#include <vector>

#include "nimble/graph/passes.hpp"

namespace nimble::passes {

Graph remove_unused_nodes(const Graph& g) {
  const auto& nodes = g.nodes();
  const auto& values = g.values();
  std::vector<bool> live(nodes.size(), false);
  std::vector<bool> needed(values.size(), false);
  needed[size_t(g.output())] = true;
  for (size_t n = nodes.size(); n-- > 0;) {
    if (!needed[size_t(nodes[n].output)]) continue;
    live[n] = true;
    for (int v : nodes[n].inputs) needed[size_t(v)] = true;
  }
  Graph out;
  out.meta = g.meta;
  std::vector<int> new_id(values.size(), -1);
  new_id[size_t(g.input())] = out.add_input(values[size_t(g.input())].name, g.input_shape());
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!live[n]) continue;
    const Node& node = nodes[n];
    std::vector<int> inputs;
    for (int v : node.inputs) inputs.push_back(new_id[size_t(v)]);
    new_id[size_t(node.output)] = out.add_node(node.op, node.name, inputs, node.attrs, node.params);
  }
  out.set_output(new_id[size_t(g.output())]);
  return out;
}

}  // namespace nimble::passes
