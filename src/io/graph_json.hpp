#pragma once
// Internal: the nlohmann-level graph (de)serialisation shared by graph_to_json/graph_from_json and
// the checkpoint reader/writer. Errors are nimble::Error without a file prefix; callers add one.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nimble/graph/graph.hpp"

namespace nimble::io::detail {

using json = nlohmann::json;

// Nesting deeper than this is refused while parsing, so dump() and destruction never recurse
// deeply on a hostile document.
constexpr int kMaxJsonDepth = 64;
// Parameters a standalone graph JSON may declare: they are allocated zero-filled, with an f32 gradient each
// (4x an s8 parameter), from a text that backs none of it. 128 MiB holds ResNet-50's 100 MB; a few bytes of
// JSON declaring 64 GiB (the earlier limit) were a denial of service the fuzzer found.
constexpr uint64_t kMaxStandaloneParamBytes = uint64_t(1) << 27;

// Parses `text`; any syntax error or excessive nesting becomes an Error "<what> is not valid JSON: ...".
json parse_json(std::string_view text, const std::string& what);
// Dumps `j` compactly (indent < 0) or pretty; invalid UTF-8 becomes an Error.
std::string dump_json(const json& j, int indent = -1);

json graph_to_json_value(const Graph& g);
// `max_param_bytes` bounds the sum of declared parameter sizes before anything is allocated.
Graph graph_from_json_value(const json& j, uint64_t max_param_bytes);

// Names of nodes, inputs, parameter keys and attributes: 1..256 bytes, no control characters
// (they appear in one-line error messages); parameter keys also have no '.' so "node.key" splits
// unambiguously. Returns an empty string when fine, else the problem.
std::string name_problem(const std::string& name, bool is_param_key);

// Error messages must stay on one line whatever an op or the OS put in them.
std::string one_line(std::string_view s);

// Checked access to untrusted JSON; each failure is an Error "<where>: <problem>".
[[noreturn]] void fail(const std::string& msg);
std::string quote_text(const std::string& s);  // 'text', one line, at most 64 bytes shown
const char* type_name(const json& v);
const json& member(const json& obj, const char* key, const std::string& where);
void expect_object(const json& v, const std::string& where);
void expect_array(const json& v, const std::string& where);
void expect_keys(const json& obj, std::initializer_list<const char*> allowed, const std::string& where);
int64_t as_int(const json& v, const std::string& what, int64_t lo, int64_t hi);
std::string as_string(const json& v, const std::string& what);
std::string as_name(const json& v, const std::string& what, bool is_param_key);
// Overflow-checked element count of non-negative `dims`.
bool checked_numel(const std::vector<int64_t>& dims, uint64_t& out);
// A list of at most `max_rank` integers in [min_dim, 2^31).
Shape as_shape(const json& v, const std::string& what, int max_rank, int64_t min_dim);

}  // namespace nimble::io::detail
