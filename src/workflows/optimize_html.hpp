#pragma once
// The HTML page of `nimble optimize`: DIR/report.json (schema: the optimize report contract) rendered as one
// self-contained file — inline CSS and SVG charts, no script, nothing fetched — so it opens offline, prints, and
// can be mailed as is. Internal: callers pass the JSON text, so nlohmann/json stays out of every header.
#include <string>

namespace nimble {

// The page for `report_json`. Throws nimble::Error (one line) when the text is not JSON or a field the page
// needs is missing or of the wrong type; optional fields that are null or absent render as "—".
std::string optimize_report_html(const std::string& report_json);

}  // namespace nimble
