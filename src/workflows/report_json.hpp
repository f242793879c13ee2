#pragma once
// JSON pieces several reports share. Internal: keeps nlohmann/json out of the public headers.
#include <nlohmann/json.hpp>
#include <optional>

#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/teacher.hpp"

namespace nimble::workflow {

using json = nlohmann::json;

// {"precision", "precision_emulated", "precision_reason"}
json precision_json(const PrecisionChoice& c);
json distill_json(const DistillReport& r);
template <class T> json optional_json(const std::optional<T>& v) { return v ? json(*v) : json(); }

}  // namespace nimble::workflow
