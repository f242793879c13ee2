// Feeds graph JSON text (a graph's structure, include/nimble/io/checkpoint.hpp) to io::graph_from_json;
// a graph it accepts must validate and write back out with graph_to_json.
#include <string>

#include "fuzz_util.hpp"
#include "nimble/core/error.hpp"
#include "nimble/io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nimble::Graph graph;
  try {
    graph = nimble::io::graph_from_json(text);
  } catch (const nimble::Error&) {
    return 0;
  }
  graph.validate();
  FUZZ_CHECK(!nimble::io::graph_to_json(graph).empty());
  return 0;
}
