#pragma once
// Model files: a Graph's structure as JSON, and the `.nimble` checkpoint (structure + parameters +
// a free-form JSON object of extras). A model file is untrusted input: every load either returns a
// consistent Graph or throws nimble::Error with a one-line message; saves are atomic.
//
// `.nimble` layout (all integers little-endian, version 1):
//   [0, 8)    magic "\x89NIMBLE\n"  (high bit and newline catch text-mode / 7-bit mangling)
//   [8, 12)   u32 format version (1)
//   [12, 20)  u64 header length H (at most 64 MiB)
//   [20, 24)  u32 CRC32 (zlib) of the header bytes
//   [24, 24+H)          header: UTF-8 JSON object
//                         {"graph": <graph_to_json>, "extra": {...}, "data_bytes": D,
//                          "tensors": [{"name": "node.key", "dtype": "f32", "shape": [...],
//                                       "offset": o, "nbytes": n, "crc32": c}, ...]}
//                       the graph's parameters first, then any training-state tensors (optimizer
//                       moments, for resuming), which carry "state": true. An f32 parameter that
//                       is mostly zeros (pruned) is stored with "encoding": "bitmask", "nnz": k:
//                       ceil(numel / 8) mask bytes then its k non-zero values (io/sparse_encoding.hpp);
//                       nbytes and crc32 then describe those stored bytes
//   zero padding up to data_offset = the next multiple of 64
//   [data_offset, data_offset+D)  data section: tensors back to back in table order, each at the
//                         next multiple of 64 (offsets are relative to data_offset), zero padding
//                         between them, stored in their own dtype, row-major. The file ends at
//                         data_offset + D. Every byte of the file is covered by a check.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nimble/graph/graph.hpp"

namespace nimble::io {

inline constexpr char kCheckpointMagic[8] = {'\x89', 'N', 'I', 'M', 'B', 'L', 'E', '\n'};
inline constexpr uint32_t kCheckpointVersion = 1;
inline constexpr uint64_t kCheckpointMaxHeaderBytes = uint64_t(64) << 20;

// Structure only (no parameter values): input name and per-sample shape, nodes in topological
// order (op name, attributes with their types, input value ids, parameter names / shapes / dtypes /
// trainable flags), output value id, meta. Value 0 is the graph input, value i + 1 the output of
// node i. Throws Error for a graph that could not be read back (invalid structure, bad names,
// integer attributes outside 32 bits, strings that are not UTF-8).
std::string graph_to_json(const Graph& g);

// Rebuilds a graph node by node through Graph::add_node, validating everything (op names,
// attribute types, value ids, shapes, parameter shapes against the op's init_params).
// Parameters are created with the declared shapes and dtypes, zero-filled.
Graph graph_from_json(const std::string& json);

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `g`, `extra_json` (a JSON object: hyper-parameters, metrics, normalisation, ...) to
// `path` atomically: a temp file in the same directory, fsync, rename. Throws Error (and leaves
// any existing file untouched) on failure. `state`: training-state tensors, stored after the
// parameters, for `nimble train --resume`.
void save_checkpoint(const Graph& g, const std::string& path, const std::string& extra_json = "{}",
                     const NamedTensors& state = {});

struct Checkpoint {
  Graph graph;
  std::string extra_json;  // the extra object, compact JSON
  NamedTensors state;      // training-state tensors, in file order
  int64_t file_size = 0;
};

// Reads and fully validates a checkpoint (bounds, sizes, CRCs, shapes against the graph).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace nimble::io
