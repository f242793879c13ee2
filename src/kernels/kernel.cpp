#include "kernels/kernel.hpp"

#include "nimble/graph/op.hpp"

namespace nimble::kernels {

void no_backward(const Node& node) {
  throw Error("op " + std::string(op_name(node.op)) + " (node '" + node.name + "') has no backward here");
}

}  // namespace nimble::kernels
