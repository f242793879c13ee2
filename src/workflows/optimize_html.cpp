#include "workflows/optimize_html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nimble/core/error.hpp"
#include "workflows/html_report.hpp"

namespace nimble {
namespace {

using json = nlohmann::json;
using namespace html;

[[noreturn]] void fail(const std::string& msg) { throw Error("optimize report: " + msg); }
// A value from the report inside an error message: quoted, with any newline escaped, so the message stays one line.
std::string in_quotes(const std::string& v) { return json(v).dump(); }

// ---------------------------------------------------------------------------------------------------------------
// The report, read and checked once: the rendering below never meets a missing or mistyped field.

struct Candidate {
  std::string id, label, kind;
  std::optional<std::string> stage, precision, path;
  double test_accuracy = 0;  // fraction
  std::optional<double> val_accuracy;
  double p50 = 0;  // ms, batch 1
  std::optional<double> p90, throughput, throughput_batch, params, macs, size_bytes;
  bool pareto = false;
};

struct Stage {
  std::string name, status;
  std::optional<std::string> reason;
  const Candidate* result = nullptr;
  std::optional<double> seconds, accuracy_change, latency_change;
  bool ran() const { return status == "done" || status == "reused"; }
};

struct Layer {
  std::string name;
  std::optional<std::string> op, precision, note;
  std::optional<double> ms, sensitivity, channels_before, channels_after, params, macs;
};

struct Report {
  std::optional<std::string> version, command, created;
  std::optional<std::string> cpu, isa;
  std::optional<double> cores, threads, memory_gib;
  std::optional<std::string> method;
  std::optional<double> iters, noise;
  std::optional<std::string> data_path, data_format, data_input;
  std::optional<double> classes, n_train, n_val, n_test;
  std::optional<double> max_drop, max_latency, max_size_mb, goal_batch;
  std::optional<bool> goals_met;
  // The recommended model against the fp32 teacher timed in alternation (more exact than the ratio
  // of two separate measurements).
  std::optional<double> speedup_side_by_side, teacher_ms_side_by_side;
  std::vector<std::string> unmet;
  std::vector<Candidate> candidates;  // never resized after parsing: the pointers below point into it
  std::vector<Stage> stages;
  std::optional<std::vector<Layer>> layers;
  const Candidate* recommended = nullptr;
  const Candidate* teacher = nullptr;  // the fp32 teacher, else the first teacher: the speed-up's reference

  Report() = default;
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;
  // The accuracy (in %) the max-drop goal allows, when both the goal and a teacher exist.
  std::optional<double> accuracy_floor() const {
    if (!max_drop || !teacher) return std::nullopt;
    return 100 * teacher->test_accuracy - *max_drop;
  }
};

// One JSON object, naming each field by its path ("candidates[2].latency_ms_p50") in errors. Absent and null are
// the same: "not given"; a value of the wrong type is an error, never silently "—".
class Fields {
 public:
  Fields(const json& obj, std::string where) : obj_(&obj), where_(std::move(where)) {
    if (!obj.is_object()) fail((where_.empty() ? "the report" : where_) + " must be a JSON object");
  }

  const json* get(const char* key) const {
    const auto it = obj_->find(key);
    return it == obj_->end() || it->is_null() ? nullptr : &*it;
  }
  std::string path(const char* key) const { return where_.empty() ? key : where_ + "." + key; }

  std::optional<double> number(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(path(key) + " must be a number");
    return v->get<double>();
  }
  std::optional<std::string> string(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail(path(key) + " must be a string");
    return v->get<std::string>();
  }
  std::optional<bool> boolean(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail(path(key) + " must be true or false");
    return v->get<bool>();
  }
  double need_number(const char* key) const {
    if (auto v = number(key)) return *v;
    fail(path(key) + " is missing (a number is required)");
  }
  std::string need_string(const char* key) const {
    if (auto v = string(key)) return *v;
    fail(path(key) + " is missing (a string is required)");
  }
  const json& need_array(const char* key) const {
    const json* v = get(key);
    if (!v) fail(path(key) + " is missing (an array is required)");
    if (!v->is_array()) fail(path(key) + " must be an array");
    return *v;
  }
  // A nested object; absent or null reads as an empty one (all its fields optional).
  Fields object(const char* key) const {
    static const json empty = json::object();
    const json* v = get(key);
    return {v ? *v : empty, path(key)};
  }

 private:
  const json* obj_;
  std::string where_;
};

std::string one_of(const Fields& f, const char* key, std::initializer_list<const char*> allowed) {
  std::string v = f.need_string(key);
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += list.empty() ? a : std::string(", ") + a;
  }
  fail(f.path(key) + " is " + in_quotes(v) + "; expected one of " + list);
}

Candidate read_candidate(const Fields& f) {
  Candidate c;
  c.id = f.need_string("id");
  if (c.id.empty()) fail(f.path("id") + " is empty");
  c.label = f.string("label").value_or(c.id);
  c.kind = one_of(f, "kind", {"teacher", "baseline", "candidate"});
  c.stage = f.string("stage");
  c.precision = f.string("precision");
  c.path = f.string("path");
  c.test_accuracy = f.need_number("test_accuracy");
  if (c.test_accuracy < 0 || c.test_accuracy > 1) fail(f.path("test_accuracy") + " must be a fraction in [0, 1]");
  c.val_accuracy = f.number("val_accuracy");
  c.p50 = f.need_number("latency_ms_p50");
  if (c.p50 <= 0) fail(f.path("latency_ms_p50") + " must be positive");
  c.p90 = f.number("latency_ms_p90");
  c.throughput = f.number("throughput_samples_per_s");
  c.throughput_batch = f.number("throughput_batch");
  c.params = f.number("params");
  c.macs = f.number("macs");
  c.size_bytes = f.number("size_bytes");
  c.pareto = f.boolean("pareto").value_or(false);
  return c;
}

const Candidate* find_candidate(const Report& r, const std::string& id) {
  for (const Candidate& c : r.candidates)
    if (c.id == id) return &c;
  return nullptr;
}

Stage read_stage(const Fields& f, const Report& r) {
  Stage s;
  s.name = f.need_string("name");
  s.status = one_of(f, "status", {"done", "reused", "skipped", "failed"});
  s.reason = f.string("reason");
  if (auto id = f.string("result")) {
    s.result = find_candidate(r, *id);
    if (!s.result) fail(f.path("result") + " " + in_quotes(*id) + " is not the id of a candidate");
  }
  s.seconds = f.number("seconds");
  s.accuracy_change = f.number("accuracy_change_points");
  s.latency_change = f.number("latency_change_ms");
  return s;
}

Layer read_layer(const Fields& f) {
  Layer l;
  l.name = f.need_string("name");
  l.op = f.string("op");
  l.precision = f.string("precision");
  l.note = f.string("note");
  l.ms = f.number("ms");
  l.sensitivity = f.number("sensitivity_points");
  l.channels_before = f.number("channels_before");
  l.channels_after = f.number("channels_after");
  l.params = f.number("params");
  l.macs = f.number("macs");
  return l;
}

void read_report(const std::string& text, Report& r) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string why = e.what();  // "[json.exception.parse_error.101] parse error at ...": keep the readable part
    if (const size_t p = why.find("] "); p != std::string::npos) why = why.substr(p + 2);
    fail("not valid JSON: " + why);
  }
  const Fields top(doc, "");
  r.version = top.string("nimble_version");
  r.command = top.string("command");
  r.created = top.string("created");
  const Fields machine = top.object("machine");
  r.cpu = machine.string("cpu");
  r.isa = machine.string("isa");
  r.cores = machine.number("cores");
  r.threads = machine.number("threads");
  r.memory_gib = machine.number("memory_gib");
  const Fields measurement = top.object("measurement");
  r.method = measurement.string("method");
  r.iters = measurement.number("iters");
  r.noise = measurement.number("median_noise");
  const Fields data = top.object("data");
  r.data_path = data.string("path");
  r.data_format = data.string("format");
  r.data_input = data.string("input");
  r.classes = data.number("classes");
  r.n_train = data.number("train");
  r.n_val = data.number("val");
  r.n_test = data.number("test");
  const Fields goals = top.object("goals");
  r.max_drop = goals.number("max_drop_points");
  r.max_latency = goals.number("max_latency_ms");
  r.max_size_mb = goals.number("max_size_mb");
  r.goal_batch = goals.number("batch");
  r.goals_met = top.boolean("goals_met");
  r.speedup_side_by_side = top.number("speedup_vs_teacher");
  r.teacher_ms_side_by_side = top.number("teacher_latency_ms_side_by_side");
  if (const json* unmet = top.get("unmet")) {
    if (!unmet->is_array()) fail("unmet must be an array of sentences");
    for (const json& s : *unmet) {
      if (!s.is_string()) fail("unmet must be an array of sentences");
      r.unmet.push_back(s.get<std::string>());
    }
  }

  const json& candidates = top.need_array("candidates");
  std::set<std::string> ids;
  for (size_t i = 0; i < candidates.size(); ++i) {
    r.candidates.push_back(read_candidate(Fields(candidates[i], fmt::format("candidates[{}]", i))));
    if (!ids.insert(r.candidates.back().id).second)
      fail(fmt::format("candidates[{}].id {} is not unique", i, in_quotes(r.candidates.back().id)));
  }
  if (auto id = top.string("recommended")) {
    r.recommended = find_candidate(r, *id);
    if (!r.recommended) fail("recommended " + in_quotes(*id) + " is not the id of a candidate");
  }
  for (const Candidate& c : r.candidates)
    if (c.kind == "teacher" && (!r.teacher || (c.precision == "fp32" && r.teacher->precision != "fp32")))
      r.teacher = &c;

  const json& stages = top.need_array("stages");
  for (size_t i = 0; i < stages.size(); ++i)
    r.stages.push_back(read_stage(Fields(stages[i], fmt::format("stages[{}]", i)), r));

  if (top.get("final_layers")) {
    const json& layers = top.need_array("final_layers");
    r.layers.emplace();
    for (size_t i = 0; i < layers.size(); ++i)
      r.layers->push_back(read_layer(Fields(layers[i], fmt::format("final_layers[{}]", i))));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text.

constexpr std::string_view kDash = "—";

template <class... Args> void put(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
  fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
}

std::string ms(double v) { return sig3(v) + " ms"; }
std::string percent(double fraction) { return fixed(100 * fraction, 2) + " %"; }

template <class T, class F> std::string or_dash(const std::optional<T>& v, F&& f) {
  return v ? f(*v) : std::string(kDash);
}
std::string or_dash(const std::optional<std::string>& v) { return v ? escape(*v) : std::string(kDash); }

// "2026-12-04T13:05:00Z" -> "2026-12-04 13:05 UTC"; anything else as written.
std::string when(const std::string& iso) {
  if (iso.size() >= 17 && iso[10] == 'T' && iso.back() == 'Z')
    return iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC";
  return iso;
}

// ---------------------------------------------------------------------------------------------------------------
// Chart pieces.

constexpr double kWidth = 1072;  // viewBox width of both charts: the page's content column at 1200 px
constexpr const char* kGrid = "#e5e7eb";
constexpr const char* kAxis = "#9ca3af";
constexpr const char* kMuted = "#6b7280";
constexpr const char* kGoal = "#c2410c";
constexpr const char* kRecommended = "#d55e00";
constexpr const char* kAccuracy = "#7c3aed";

// Okabe-Ito colours (distinct in colour-blind vision and in greyscale print) plus a shape per kind.
const char* kind_color(const std::string& kind) {
  if (kind == "teacher") return "#0072b2";
  if (kind == "baseline") return "#e69f00";
  return "#009e73";
}

// A marker: a square for a teacher, a diamond for a baseline, a circle for a candidate. `attrs` and `title` go on
// the shape itself so each point is one element.
void put_marker(std::string& out, const std::string& kind, double x, double y, double r, const std::string& attrs,
                const std::string& title) {
  const char* fill = kind_color(kind);
  std::string tag;
  if (kind == "teacher") {
    tag = "rect";
    const double h = 0.9 * r;
    put(out, "<rect {} x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"", attrs, x - h, y - h, 2 * h,
        2 * h);
  } else if (kind == "baseline") {
    tag = "path";
    const double d = 1.25 * r;
    put(out, "<path {} d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}Z\"", attrs, x, y - d, x + d, y, x,
        y + d, x - d, y);
  } else {
    tag = "circle";
    put(out, "<circle {} cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\"", attrs, x, y, r);
  }
  put(out, " fill=\"{}\" stroke=\"#fff\" stroke-width=\"1.5\"", fill);
  if (title.empty()) {
    out += "/>";
  } else {
    put(out, "><title>{}</title></{}>", title, tag);
  }
}

void put_text(std::string& out, double x, double y, std::string_view anchor, const std::string& attrs,
              const std::string& text) {
  put(out, "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\" {}>{}</text>", x, y, anchor, attrs, text);
}

// A legend row: each item's swatch, then its name, left to right.
struct LegendItem {
  std::string name;
  std::string swatch;  // SVG drawn around (0, 0), translated into place
};

void put_legend(std::string& out, const std::vector<LegendItem>& items, double x, double y) {
  for (const LegendItem& item : items) {
    put(out, "<g transform=\"translate({:.1f} {:.1f})\">{}</g>", x + 8, y - 4, item.swatch);
    put_text(out, x + 22, y, "start", "font-size=\"12\" fill=\"#374151\"", escape(item.name));
    x += 22 + text_width(item.name, 12) + 20;
  }
}

std::string marker_swatch(const std::string& kind) {
  std::string s;
  put_marker(s, kind, 0, 0, 5.5, "", "");
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Chart 1: accuracy against batch-1 latency, one point per candidate.

std::string point_title(const Candidate& c) {
  std::string t = c.label;
  t += "\naccuracy " + percent(c.test_accuracy);
  t += "\nlatency " + ms(c.p50) + " (batch 1, median)";
  t += "\nparams " + (c.params ? count(*c.params) : std::string(kDash));
  t += "\nsize " + (c.size_bytes ? bytes(*c.size_bytes) : std::string(kDash));
  return escape(t);
}

void put_scatter(std::string& out, const Report& r) {
  if (r.candidates.empty()) {
    out += "<p class=\"empty\">No model was measured, so there is nothing to plot.</p>\n";
    return;
  }
  constexpr double kHeight = 480, left = 76, right = kWidth - 28, top = 52, bottom = kHeight - 62;

  double lat_lo = r.candidates[0].p50, lat_hi = lat_lo;
  double acc_lo = 100 * r.candidates[0].test_accuracy, acc_hi = acc_lo;
  for (const Candidate& c : r.candidates) {
    lat_lo = std::min(lat_lo, c.p50);
    lat_hi = std::max(lat_hi, c.p50);
    acc_lo = std::min(acc_lo, 100 * c.test_accuracy);
    acc_hi = std::max(acc_hi, 100 * c.test_accuracy);
  }
  const std::optional<double> floor = r.accuracy_floor();
  if (floor) acc_lo = std::min(acc_lo, *floor), acc_hi = std::max(acc_hi, *floor);
  const double budget = r.max_latency && *r.max_latency > 0 ? *r.max_latency : 0.0;  // 0: no budget
  if (budget > 0) lat_lo = std::min(lat_lo, budget), lat_hi = std::max(lat_hi, budget);

  // Latencies from a big teacher to an int8 student span decades: a linear axis would crush the fast models
  // into one corner, so past 10x the axis is logarithmic.
  const bool log_x = lat_hi / lat_lo > 10;
  const Scale x = log_x ? log_scale(lat_lo, lat_hi, left, right) : linear_scale(0, lat_hi * 1.08, left, right, 8);
  const double pad = std::max(0.12 * (acc_hi - acc_lo), 0.25);
  Scale y = linear_scale(acc_lo - pad, std::min(acc_hi + pad, 100.0), bottom, top, 6);
  if (y.hi > 100 && acc_hi <= 100) {  // no "100.5 %" tick
    y.hi = 100;
    std::erase_if(y.ticks, [](double t) { return t > 100 + 1e-9; });
  }

  put(out,
      "<svg class=\"chart\" viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\" data-x-scale=\"{}\" aria-label=\"Test accuracy "
      "against batch-1 latency, one point per measured model\">\n",
      kWidth, kHeight, log_x ? "log" : "linear");

  // Where every goal holds: faintly shaded, so the eye finds the acceptable corner first.
  if (floor || budget > 0) {
    const double x1 = budget > 0 ? x(budget) : right, y1 = floor ? y(*floor) : bottom;
    put(out, "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#009e73\" opacity=\"0.07\"/>\n",
        left, top, x1 - left, y1 - top);
  }

  for (const double t : x.ticks) {
    put(out, "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>", x(t), top, bottom,
        kGrid);
    put_text(out, x(t), bottom + 18, "middle", "font-size=\"12\" fill=\"#4b5563\"", x.label(t));
  }
  for (const double t : y.ticks) {
    put(out, "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>", left, right, y(t),
        kGrid);
    put_text(out, left - 8, y(t) + 4, "end", "font-size=\"12\" fill=\"#4b5563\"", y.label(t));
  }
  put(out, "\n<path d=\"M{0:.1f} {1:.1f}V{2:.1f}H{3:.1f}\" fill=\"none\" stroke=\"{4}\"/>\n", left, top, bottom, right,
      kAxis);
  put_text(out, (left + right) / 2, bottom + 44, "middle", "font-size=\"13\" fill=\"#374151\"",
           log_x ? "Batch-1 latency, ms (median, log scale) — left is faster"
                 : "Batch-1 latency, ms (median) — left is faster");
  put(out,
      "<text transform=\"translate({:.1f} {:.1f}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" "
      "fill=\"#374151\">Test accuracy, %</text>\n",
      left - 54, (top + bottom) / 2);

  std::vector<Box> taken;  // labels and points placed so far: a new label must miss them all
  const Box plot{left + 2, top + 2, right - 2, bottom - 2};
  if (floor) {
    const double yy = y(*floor);
    put(out,
        "<line data-goal=\"accuracy\" x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
        left, right, yy, kGoal);
    taken.push_back({left, yy - 2, right, yy + 2});
    const std::string text =
        fmt::format("max drop: {} % (teacher − {} pt)", fixed(*floor, 2), trim_zeros(sig3(*r.max_drop)));
    const double ty = yy + 15 < bottom - 4 ? yy + 15 : yy - 6;  // under the line unless that leaves the plot
    put_text(out, right - 6, ty, "end", fmt::format("font-size=\"12\" fill=\"{}\"", kGoal), escape(text));
    taken.push_back(text_box(text, right - 6, ty, 12, "end"));
  }
  if (budget > 0) {
    const double xx = x(budget);
    put(out,
        "<line data-goal=\"latency\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
        xx, top, bottom, kGoal);
    taken.push_back({xx - 2, top, xx + 2, bottom});
    const std::string text = "latency budget " + ms(budget);
    const bool room_left = xx - 6 - text_width(text, 12) > left + 4;  // else right of the line
    const double tx = room_left ? xx - 6 : xx + 6;
    put_text(out, tx, top + 14, room_left ? "end" : "start", fmt::format("font-size=\"12\" fill=\"{}\"", kGoal),
             escape(text));
    taken.push_back(text_box(text, tx, top + 14, 12, room_left ? "end" : "start"));
  }

  // The Pareto front as a staircase: at any latency, the best accuracy reachable without exceeding it.
  std::vector<const Candidate*> front;
  for (const Candidate& c : r.candidates)
    if (c.pareto) front.push_back(&c);
  std::sort(front.begin(), front.end(), [](const Candidate* a, const Candidate* b) { return a->p50 < b->p50; });
  if (front.size() > 1) {
    std::string d = fmt::format("M{:.1f} {:.1f}", x(front[0]->p50), y(100 * front[0]->test_accuracy));
    for (size_t i = 1; i < front.size(); ++i) {
      const double x0 = x(front[i - 1]->p50), y0 = y(100 * front[i - 1]->test_accuracy);
      const double x1 = x(front[i]->p50), y1 = y(100 * front[i]->test_accuracy);
      d += fmt::format("H{:.1f}V{:.1f}", x1, y1);
      taken.push_back({x0, y0 - 2, x1, y0 + 2});
      taken.push_back({x1 - 2, std::min(y0, y1), x1 + 2, std::max(y0, y1)});
    }
    put(out,
        "<path class=\"pareto\" d=\"{}\" fill=\"none\" stroke=\"#374151\" stroke-width=\"1.5\" opacity=\"0.7\"/>\n", d);
  }

  constexpr double kR = 6.5;
  for (const Candidate& c : r.candidates)
    taken.push_back(
        {x(c.p50) - kR - 2, y(100 * c.test_accuracy) - kR - 2, x(c.p50) + kR + 2, y(100 * c.test_accuracy) + kR + 2});
  // The recommended point last, so nothing covers it.
  std::vector<const Candidate*> order;
  for (const Candidate& c : r.candidates)
    if (&c != r.recommended) order.push_back(&c);
  if (r.recommended) order.push_back(r.recommended);
  for (const Candidate* c : order) {
    const double px = x(c->p50), py = y(100 * c->test_accuracy);
    if (c == r.recommended)
      put(out, "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"12\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"/>", px,
          py, kRecommended);
    put_marker(out, c->kind, px, py, kR,
               fmt::format("class=\"point\" data-id=\"{}\" data-kind=\"{}\"", escape(c->id), escape(c->kind)),
               point_title(*c));
    out += "\n";
  }

  // Labels: the recommended one first (it must show), then the others where they fit; a label that fits nowhere
  // is left to the tooltip and the table rather than drawn over another.
  std::vector<const Candidate*> label_order(order.rbegin(), order.rend());
  for (const Candidate* c : label_order) {
    const bool rec = c == r.recommended;
    const std::string text = rec ? "★ " + truncate(c->label, 34) + " — recommended" : truncate(c->label, 30);
    const double px = x(c->p50), py = y(100 * c->test_accuracy), size = rec ? 13 : 12;
    const double gap = rec ? 17 : 10;
    struct Spot {
      double x, y;
      const char* anchor;
    };
    const Spot spots[] = {{px + gap, py + 4, "start"},       {px - gap, py + 4, "end"},
                          {px, py - gap - 2, "middle"},      {px, py + gap + 12, "middle"},
                          {px + gap, py - gap, "start"},     {px - gap, py - gap, "end"},
                          {px + gap, py + gap + 8, "start"}, {px - gap, py + gap + 8, "end"}};
    for (const Spot& s : spots) {
      const Box b = text_box(text, s.x, s.y, size, s.anchor);
      if (!b.inside(plot) || std::any_of(taken.begin(), taken.end(), [&](const Box& t) { return t.overlaps(b); }))
        continue;
      put_text(out, s.x, s.y, s.anchor,
               rec ? fmt::format("font-size=\"13\" font-weight=\"700\" fill=\"{}\"", kRecommended)
                   : std::string("font-size=\"12\" fill=\"#374151\""),
               escape(text));
      taken.push_back(b);
      break;
    }
  }

  std::vector<LegendItem> legend = {{"teacher", marker_swatch("teacher")},
                                    {"baseline", marker_swatch("baseline")},
                                    {"candidate", marker_swatch("candidate")},
                                    {"Pareto front",
                                     "<path d=\"M-10 4H0V-4H10\" fill=\"none\" stroke=\"#374151\" "
                                     "stroke-width=\"1.5\"/>"}};
  if (r.recommended)
    legend.insert(legend.begin() + 3, {"recommended", fmt::format("<circle r=\"8\" fill=\"none\" stroke=\"{}\" "
                                                                  "stroke-width=\"2.5\"/>",
                                                                  kRecommended)});
  if (floor || budget > 0) {
    legend.push_back({"goal limit", fmt::format("<line x1=\"-10\" x2=\"10\" stroke=\"{}\" stroke-width=\"1.5\" "
                                                "stroke-dasharray=\"6 4\"/>",
                                                kGoal)});
    legend.push_back({"meets the goals",
                      "<rect x=\"-7\" y=\"-7\" width=\"14\" height=\"14\" fill=\"#009e73\" "
                      "opacity=\"0.15\"/>"});
  }
  put_legend(out, legend, left, 24);
  out += "</svg>\n";
}

// ---------------------------------------------------------------------------------------------------------------
// Chart 2: stage by stage, the batch-1 latency of what each stage hands on (bars) and its accuracy (markers above).

// Green for faster, red for slower, grey for no change at the shown precision.
const char* change_color(double latency_change, int decimals) {
  if (signed_fixed(latency_change, decimals) == fixed(0, decimals)) return kMuted;
  return latency_change < 0 ? "#047857" : "#b91c1c";
}

std::string stage_title(const Stage& s) {
  std::string t = s.name + " — " + s.status;
  if (s.seconds) t += ", " + duration(*s.seconds);
  if (s.result) {
    t += "\nresult: " + s.result->label;
    t += "\nlatency " + ms(s.result->p50);
    if (s.latency_change) t += " (" + signed_fixed(*s.latency_change, 3) + " ms)";
    t += "\naccuracy " + percent(s.result->test_accuracy);
    if (s.accuracy_change) t += " (" + signed_fixed(*s.accuracy_change, 2) + " pt)";
  }
  if (s.reason) t += "\n" + *s.reason;
  return escape(t);
}

void put_waterfall(std::string& out, const Report& r) {
  if (r.stages.empty()) {
    out += "<p class=\"empty\">No stage ran.</p>\n";
    return;
  }
  constexpr double kHeight = 480, left = 76, right = kWidth - 28;
  constexpr double acc_top = 58, acc_bottom = 158, bar_top = 196, bar_bottom = 418;
  const double col = (right - left) / static_cast<double>(r.stages.size());
  const double bar_w = std::min(col * 0.55, 96.0);

  double lat_hi = 0, acc_lo = 100, acc_hi = 0;
  bool any_result = false;
  for (const Stage& s : r.stages)
    if (s.ran() && s.result) {
      any_result = true;
      lat_hi = std::max(lat_hi, s.result->p50);
      acc_lo = std::min(acc_lo, 100 * s.result->test_accuracy);
      acc_hi = std::max(acc_hi, 100 * s.result->test_accuracy);
    }
  if (!any_result) lat_hi = 1, acc_lo = 0, acc_hi = 100;
  const std::optional<double> floor = r.accuracy_floor();
  if (floor && any_result) acc_lo = std::min(acc_lo, *floor), acc_hi = std::max(acc_hi, *floor);
  const double budget = r.max_latency && *r.max_latency > 0 ? *r.max_latency : 0.0;  // 0: no budget
  if (budget > 0 && any_result) lat_hi = std::max(lat_hi, budget);
  const Scale lat = linear_scale(0, lat_hi * 1.2, bar_bottom, bar_top, 5);
  const double pad = std::max(0.15 * (acc_hi - acc_lo), 0.2);
  Scale acc = linear_scale(acc_lo - pad, std::min(acc_hi + 2 * pad, 100.0), acc_bottom, acc_top, 3);
  if (acc.hi > 100) {
    acc.hi = 100;
    std::erase_if(acc.ticks, [](double t) { return t > 100 + 1e-9; });
  }

  put(out,
      "<svg class=\"chart\" viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\" aria-label=\"Batch-1 latency and test accuracy "
      "of each stage's result\">\n",
      kWidth, kHeight);
  for (const double t : acc.ticks) {
    put(out, "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>", left, right, acc(t),
        kGrid);
    put_text(out, left - 8, acc(t) + 4, "end", "font-size=\"12\" fill=\"#4b5563\"", acc.label(t));
  }
  for (const double t : lat.ticks) {
    put(out, "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>", left, right, lat(t),
        kGrid);
    put_text(out, left - 8, lat(t) + 4, "end", "font-size=\"12\" fill=\"#4b5563\"", lat.label(t));
  }
  put(out, "\n<path d=\"M{0:.1f} {1:.1f}V{2:.1f}M{0:.1f} {3:.1f}V{4:.1f}H{5:.1f}\" fill=\"none\" stroke=\"{6}\"/>\n",
      left, acc_top, acc_bottom, bar_top, bar_bottom, right, kAxis);
  put(out,
      "<text transform=\"translate({:.1f} {:.1f}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" "
      "fill=\"#374151\">Accuracy, %</text>\n",
      left - 54, (acc_top + acc_bottom) / 2);
  put(out,
      "<text transform=\"translate({:.1f} {:.1f}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" "
      "fill=\"#374151\">Batch-1 latency, ms</text>\n",
      left - 54, (bar_top + bar_bottom) / 2);
  if (floor && any_result && *floor >= acc.lo) {
    put(out,
        "<line data-goal=\"accuracy\" x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>",
        left, right, acc(*floor), kGoal);
  }
  if (budget > 0 && any_result) {
    put(out,
        "<line data-goal=\"latency\" x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>",
        left, right, lat(budget), kGoal);
  }

  // Bars, with a dashed step from each bar's top to the next: the waterfall.
  std::optional<double> prev_top, prev_right;  // the last bar drawn: skipped stages leave a gap
  std::string markers;                         // accuracy markers and their line, drawn after the bars
  std::string acc_path;
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const Stage& s = r.stages[i];
    const double cx = left + col * (static_cast<double>(i) + 0.5);
    const std::string attrs =
        fmt::format("class=\"bar\" data-stage=\"{}\" data-status=\"{}\"", escape(s.name), s.status);
    if (s.ran() && s.result) {
      const double top = lat(s.result->p50);
      const bool rec = s.result == r.recommended;
      if (prev_top)
        put(out,
            "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" stroke-dasharray=\"3 "
            "3\"/>",
            *prev_right, cx - bar_w / 2, *prev_top, kAxis);
      prev_top = top;
      prev_right = cx + bar_w / 2;
      put(out,
          "<rect {} x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"2\" fill=\"{}\" "
          "fill-opacity=\"{}\"><title>{}</title></rect>\n",
          attrs, cx - bar_w / 2, top, bar_w, std::max(bar_bottom - top, 1.0), rec ? "#009e73" : "#0072b2",
          s.status == "reused" ? "0.55" : "0.9", stage_title(s));
      put_text(out, cx, top - 6, "middle", "font-size=\"12\" font-weight=\"600\" fill=\"#1f2937\"", ms(s.result->p50));
      if (s.latency_change)
        put_text(out, cx, top - 21, "middle",
                 fmt::format("font-size=\"11\" fill=\"{}\"", change_color(*s.latency_change, 3)),
                 signed_fixed(*s.latency_change, 3) + " ms");
      const double ay = acc(100 * s.result->test_accuracy);
      acc_path += fmt::format("{}{:.1f} {:.1f}", acc_path.empty() ? "M" : "L", cx, ay);
      put(markers, "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"1.5\"/>", cx,
          ay, kAccuracy);
      put_text(markers, cx, ay - 10, "middle", fmt::format("font-size=\"12\" fill=\"{}\"", kAccuracy),
               fixed(100 * s.result->test_accuracy, 2));
    } else {
      // Skipped, failed, or ran without handing a model on: a grey column that says why.
      const double x0 = cx - col / 2 + 6, w = col - 12;
      put(out,
          "<rect {} x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"4\" fill=\"#f3f4f6\" "
          "stroke=\"#d1d5db\" stroke-dasharray=\"4 3\"><title>{}</title></rect>\n",
          attrs, x0, acc_top, w, bar_bottom - acc_top, stage_title(s));
      const std::string head = s.ran() ? "no result" : s.status;
      put_text(
          out, cx, bar_top + 4, "middle",
          fmt::format("font-size=\"12\" font-weight=\"700\" fill=\"{}\"", s.status == "failed" ? "#b91c1c" : kMuted),
          escape(head));
      const auto width = static_cast<size_t>(std::max(6.0, (w - 12) / (0.6 * 11)));
      const std::vector<std::string> lines = wrap(s.reason.value_or(""), width, 8);
      for (size_t k = 0; k < lines.size(); ++k)
        put_text(out, cx, bar_top + 22 + 14 * static_cast<double>(k), "middle",
                 fmt::format("font-size=\"11\" fill=\"{}\"", kMuted), escape(lines[k]));
    }
    put_text(out, cx, bar_bottom + 20, "middle", "font-size=\"13\" font-weight=\"700\" fill=\"#1f2937\"",
             escape(truncate(s.name, static_cast<size_t>(col / 8))));
    const std::string muted = fmt::format("font-size=\"11\" fill=\"{}\"", kMuted);
    put_text(out, cx, bar_bottom + 36, "middle", muted, s.status);
    if (s.seconds) put_text(out, cx, bar_bottom + 50, "middle", muted, duration(*s.seconds));
  }
  if (!acc_path.empty())
    put(out, "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" opacity=\"0.6\"/>\n", acc_path,
        kAccuracy);
  out += markers;
  if (budget > 0 && any_result)  // on top of the bars, with a white halo
    put_text(
        out, right - 4, lat(budget) - 5, "end",
        fmt::format("font-size=\"11\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\"", kGoal),
        "budget " + ms(budget));

  std::vector<LegendItem> legend = {
      {"result latency", "<rect x=\"-7\" y=\"-7\" width=\"14\" height=\"14\" rx=\"2\" fill=\"#0072b2\"/>"},
      {"recommended model", "<rect x=\"-7\" y=\"-7\" width=\"14\" height=\"14\" rx=\"2\" fill=\"#009e73\"/>"},
      {"skipped / failed",
       "<rect x=\"-7\" y=\"-7\" width=\"14\" height=\"14\" rx=\"2\" fill=\"#f3f4f6\" "
       "stroke=\"#d1d5db\" stroke-dasharray=\"3 2\"/>"},
      {"test accuracy, %", fmt::format("<circle r=\"5\" fill=\"{}\"/>", kAccuracy)}};
  if (floor || budget > 0)
    legend.push_back({"goal limit", fmt::format("<line x1=\"-10\" x2=\"10\" stroke=\"{}\" "
                                                "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
                                                kGoal)});
  put_legend(out, legend, left, 24);
  out += "</svg>\n";
}

// ---------------------------------------------------------------------------------------------------------------
// The page's sections.

constexpr std::string_view kStyle = R"(
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --good: #047857; --bad: #b91c1c; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 28px 24px 40px; }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px; margin: 0 0 18px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 0 0 4px; }
.caption { color: var(--muted); font-size: 13px; margin: 0 0 12px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em;
       background: #f1f5f9; padding: 1px 5px; border-radius: 4px; overflow-wrap: anywhere; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 12px 0 0; font-size: 14px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.badge { display: inline-block; padding: 2px 12px; border-radius: 999px; font-weight: 700; font-size: 14px; }
.badge.ok { background: #d1fae5; color: #065f46; }
.badge.no { background: #fee2e2; color: #991b1b; }
.badge.unknown { background: #f3f4f6; color: var(--muted); }
.goals { margin: 10px 0 0; padding-left: 20px; font-size: 14px; }
.unmet { border-left: 4px solid var(--bad); background: #fef2f2; color: #7f1d1d; font-weight: 600;
         padding: 10px 14px; margin: 12px 0 0; border-radius: 0 6px 6px 0; }
.unmet ul { margin: 4px 0 0; padding-left: 20px; }
.none { border-left: 4px solid var(--bad); background: #fef2f2; color: #7f1d1d; padding: 12px 16px;
        font-size: 16px; font-weight: 700; border-radius: 0 6px 6px 0; }
.cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin-top: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.card .v { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .s { font-size: 12px; color: var(--muted); }
.card.model .v { font-size: 17px; }
svg.chart { display: block; width: 100%; height: auto; }
svg text { font-family: inherit; }
.empty { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; border-bottom: 2px solid #d1d5db; white-space: nowrap;
     vertical-align: bottom; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .id { display: block; color: var(--muted); font-size: 11px; overflow-wrap: anywhere; }
tr.rec td { background: #ecfdf5; }
table.models td:first-child { min-width: 200px; }
table.models th { white-space: normal; }
table.models td, table.models th { padding: 5px 6px; }
.scroll { overflow-x: auto; }
.st { font-weight: 600; white-space: nowrap; }
.st-done { color: var(--good); } .st-reused { color: #0369a1; } .st-skipped { color: var(--muted); } .st-failed { color: var(--bad); }
.up { color: var(--good); } .down { color: var(--bad); }
.share { display: inline-block; width: 90px; height: 9px; background: #eef2f7; border-radius: 2px; vertical-align: middle;
         margin-right: 6px; }
.share i { display: block; height: 100%; background: var(--accent); border-radius: 2px; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
@media (max-width: 900px) { .cards { grid-template-columns: repeat(3, 1fr); } }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  section, header { border: none; padding: 0; margin: 0 0 16px; }
  section.chart-section, .cards { break-inside: avoid; }
  tr { break-inside: avoid; }
  .scroll { overflow: visible; }
  @page { margin: 12mm; }
}
)";

void put_header(std::string& out, const Report& r) {
  out += "<header>\n<h1>nimble optimize — report</h1>\n";
  if (r.command) put(out, "<div><code>{}</code></div>\n", escape(*r.command));
  out += "<dl class=\"meta\">\n";
  put(out, "<dt>Date</dt><dd>{}</dd>\n", r.created ? escape(when(*r.created)) : std::string(kDash));

  std::vector<std::string> machine;
  if (r.cpu) machine.push_back(escape(*r.cpu));
  if (r.cores || r.threads)
    machine.push_back(fmt::format("{} cores, {} threads", or_dash(r.cores, integer), or_dash(r.threads, integer)));
  if (r.isa) machine.push_back(escape(*r.isa));
  if (r.memory_gib) machine.push_back(trim_zeros(sig3(*r.memory_gib)) + " GiB memory");
  put(out, "<dt>Machine</dt><dd>{}</dd>\n", machine.empty() ? std::string(kDash) : join(machine, " · "));

  std::vector<std::string> data;
  if (r.data_path)
    data.push_back(fmt::format("<code>{}</code>", escape(*r.data_path)) +
                   (r.data_format ? " (" + escape(*r.data_format) + ")" : ""));
  if (r.classes) data.push_back(integer(*r.classes) + " classes");
  if (r.n_train || r.n_val || r.n_test)
    data.push_back(fmt::format("{} train / {} validation / {} test images", or_dash(r.n_train, integer),
                               or_dash(r.n_val, integer), or_dash(r.n_test, integer)));
  if (r.data_input) data.push_back("input " + escape(*r.data_input));
  put(out, "<dt>Data</dt><dd>{}</dd>\n", data.empty() ? std::string(kDash) : join(data, " · "));

  std::string measurement = r.method  ? escape(*r.method)
                            : r.iters ? integer(*r.iters) + " timed runs"
                                      : std::string(kDash);
  if (r.noise) measurement += " · noise " + fixed(100 * *r.noise, 1) + " % (IQR / median of the latency runs)";
  put(out, "<dt>Measurement</dt><dd>{}</dd>\n", measurement);
  if (r.version) put(out, "<dt>nimble</dt><dd>{}</dd>\n", escape(*r.version));
  out += "</dl>\n</header>\n";
}

void put_goals(std::string& out, const Report& r) {
  out += "<section id=\"goals\">\n<h2>Goals ";
  if (!r.goals_met)
    out += "<span class=\"badge unknown\">not reported</span>";
  else
    out += *r.goals_met ? "<span class=\"badge ok\">met</span>" : "<span class=\"badge no\">not met</span>";
  out += "</h2>\n<ul class=\"goals\">\n";
  const Candidate* rec = r.recommended;
  const std::string batch = r.goal_batch ? integer(*r.goal_batch) : "1";
  if (r.max_drop) {
    const std::string drop = trim_zeros(sig3(*r.max_drop));
    std::string line = fmt::format("Accuracy: at most {} point{} below the teacher", drop, drop == "1" ? "" : "s");
    if (auto f = r.accuracy_floor()) line += fmt::format(" (at least {} %)", fixed(*f, 2));
    if (rec && r.teacher)
      line += fmt::format(" — recommended: {}, {} pt vs the teacher", percent(rec->test_accuracy),
                          signed_fixed(100 * (rec->test_accuracy - r.teacher->test_accuracy), 2));
    put(out, "<li>{}</li>\n", line);
  } else {
    out += "<li>Accuracy: no limit</li>\n";
  }
  put(out, "<li>Latency at batch {}: {}{}</li>\n", batch, r.max_latency ? "at most " + ms(*r.max_latency) : "no limit",
      rec ? " — recommended: " + ms(rec->p50) : "");
  put(out, "<li>Size: {}{}</li>\n", r.max_size_mb ? "at most " + trim_zeros(sig3(*r.max_size_mb)) + " MB" : "no limit",
      rec && rec->size_bytes ? " — recommended: " + bytes(*rec->size_bytes) : "");
  out += "</ul>\n";
  if (!r.unmet.empty()) {
    out += "<div class=\"unmet\">Not met:<ul>\n";
    for (const std::string& s : r.unmet) put(out, "<li>{}</li>\n", escape(s));
    out += "</ul></div>\n";
  }
  out += "</section>\n";
}

void put_card(std::string& out, std::string_view cls, std::string_view key, const std::string& value,
              const std::string& sub) {
  put(out, "<div class=\"card {}\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"s\">{}</div></div>\n",
      cls, key, value, sub);
}

void put_summary(std::string& out, const Report& r) {
  out += "<section id=\"recommended\">\n<h2>Recommended model</h2>\n";
  const Candidate* c = r.recommended;
  if (!c) {
    out += "<div class=\"none\">No model met the goals: nothing is recommended.";
    out += r.candidates.empty() ? " No model was measured." : " Every measured model is listed below.";
    out += "</div>\n</section>\n";
    return;
  }
  const Candidate* t = r.teacher;
  out += "<div class=\"cards\">\n";
  put_card(
      out, "model", "Model", escape(c->label),
      escape(c->id) + (c->precision ? " · " + escape(*c->precision) : "") + (c->path ? "<br>" + escape(*c->path) : ""));
  put_card(out, "", "Test accuracy", percent(c->test_accuracy),
           t ? signed_fixed(100 * (c->test_accuracy - t->test_accuracy), 2) + " pt vs the teacher"
             : std::string("no teacher measured"));
  put_card(out, "", "Latency, batch 1", ms(c->p50), c->p90 ? "p90 " + ms(*c->p90) : "median");
  if (r.speedup_side_by_side && *r.speedup_side_by_side > 0) {
    const double x = *r.speedup_side_by_side;
    put_card(out, "", "Speed-up", fixed(x, x < 100 ? 1 : 0) + "×",
             "vs the fp32 teacher" + (r.teacher_ms_side_by_side ? ", " + ms(*r.teacher_ms_side_by_side) : "") +
                 ", timed side by side");
  } else {
    put_card(out, "", "Speed-up", t ? fixed(t->p50 / c->p50, t->p50 / c->p50 < 100 ? 1 : 0) + "×" : std::string(kDash),
             t ? "vs " + escape(t->label) + ", " + ms(t->p50) : std::string("no teacher measured"));
  }
  put_card(out, "", "Parameters", or_dash(c->params, count),
           c->macs ? count(*c->macs) + " MACs" : std::string("MACs —"));
  put_card(out, "", "Size", or_dash(c->size_bytes, bytes),
           t && t->size_bytes && c->size_bytes && *c->size_bytes > 0
               ? trim_zeros(fixed(*t->size_bytes / *c->size_bytes, 1)) + "× smaller than the teacher"
               : std::string());
  out += "</div>\n</section>\n";
}

std::string change_cell(const std::optional<double>& v, int decimals, std::string_view unit, bool higher_is_better) {
  if (!v) return "<td class=\"n\">—</td>";
  const bool good = higher_is_better ? *v > 0 : *v < 0;
  const bool zero = signed_fixed(*v, decimals) == fixed(0, decimals);
  return fmt::format("<td class=\"n{}\">{} {}</td>",
                     zero   ? ""
                     : good ? " up"
                            : " down",
                     signed_fixed(*v, decimals), unit);
}

void put_stages_table(std::string& out, const Report& r) {
  out += "<section id=\"stages\">\n<h2>Stages</h2>\n";
  if (r.stages.empty()) {
    out += "<p class=\"empty\">No stage ran.</p>\n</section>\n";
    return;
  }
  out +=
      "<table>\n<thead><tr><th class=\"n\">#</th><th>Stage</th><th>Status</th><th>Result</th><th class=\"n\">Time</th>"
      "<th class=\"n\">Δ accuracy</th><th class=\"n\">Δ latency</th><th>Reason</th></tr></thead>\n<tbody>\n";
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const Stage& s = r.stages[i];
    put(out, "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"st st-{}\">{}</td><td>{}</td><td class=\"n\">{}</td>",
        i + 1, escape(s.name), s.status, s.status, s.result ? escape(s.result->label) : std::string(kDash),
        or_dash(s.seconds, duration));
    out += change_cell(s.accuracy_change, 2, "pt", true);
    out += change_cell(s.latency_change, 3, "ms", false);
    put(out, "<td>{}</td></tr>\n", or_dash(s.reason));
  }
  out += "</tbody>\n</table>\n</section>\n";
}

void put_layers_table(std::string& out, const Report& r) {
  out += "<section id=\"layers\">\n<h2>Final model, layer by layer</h2>\n";
  if (!r.layers || r.layers->empty()) {
    out += "<p class=\"empty\">No per-layer profile in this report.</p>\n</section>\n";
    return;
  }
  double total = 0;
  for (const Layer& l : *r.layers) total += l.ms.value_or(0);
  put(out,
      "<p class=\"caption\">Time of each layer at batch 1 (per-layer profile{}); sensitivity: accuracy lost when "
      "this layer alone is quantized.</p>\n",
      total > 0 ? ", total " + ms(total) : "");
  out +=
      "<table>\n<thead><tr><th>Layer</th><th>Op</th><th>Precision</th><th class=\"n\">Time</th><th>Share of time</th>"
      "<th class=\"n\">Sensitivity</th><th class=\"n\">Channels</th><th class=\"n\">Params</th><th "
      "class=\"n\">MACs</th>"
      "<th>Note</th></tr></thead>\n<tbody>\n";
  for (const Layer& l : *r.layers) {
    std::string share(kDash);
    if (l.ms && total > 0) {
      const double p = 100 * *l.ms / total;
      share = fmt::format("<span class=\"share\"><i style=\"width:{:.1f}%\"></i></span>{} %", std::clamp(p, 0.0, 100.0),
                          fixed(p, 1));
    }
    std::string channels(kDash);
    if (l.channels_before && l.channels_after && *l.channels_before != *l.channels_after)
      channels = integer(*l.channels_before) + " → " + integer(*l.channels_after);
    else if (l.channels_after || l.channels_before)
      channels = integer(l.channels_after ? *l.channels_after : *l.channels_before);
    put(out,
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
        escape(l.name), or_dash(l.op), or_dash(l.precision), or_dash(l.ms, ms), share,
        or_dash(l.sensitivity, [](double v) { return fixed(v, 2) + " pt"; }), channels, or_dash(l.params, count),
        or_dash(l.macs, count), or_dash(l.note));
  }
  out += "</tbody>\n</table>\n</section>\n";
}

void put_candidates_table(std::string& out, const Report& r) {
  out += "<section id=\"candidates\">\n<h2>Every measured model</h2>\n";
  if (r.candidates.empty()) {
    out += "<p class=\"empty\">No model was measured.</p>\n</section>\n";
    return;
  }
  // Units in the headers, not in every cell, so the table fits the page; the throughput batch too when shared.
  const std::optional<double> first = r.candidates[0].throughput_batch;
  bool shared = first.has_value();
  for (const Candidate& c : r.candidates) shared = shared && c.throughput_batch == first;
  const double batch = shared ? first.value_or(0) : 0;  // 0: not shared
  put(out,
      "<div class=\"scroll\"><table class=\"models\">\n<thead><tr><th>Model</th><th>Kind</th><th>Stage</th>"
      "<th>Precision</th><th class=\"n\">Test acc., %</th><th class=\"n\">Val. acc., %</th><th class=\"n\">p50, ms</th>"
      "<th class=\"n\">p90, ms</th><th class=\"n\">Samples/s{}</th><th class=\"n\">Params</th><th class=\"n\">MACs</th>"
      "<th class=\"n\">Size</th><th>Pareto</th></tr></thead>\n<tbody>\n",
      batch > 0 ? ", batch " + integer(batch) : "");
  const auto acc = [](double v) { return fixed(100 * v, 2); };
  for (const Candidate& c : r.candidates) {
    const bool rec = &c == r.recommended;
    std::string throughput(kDash);
    if (c.throughput)
      throughput = count(*c.throughput) + (!batch && c.throughput_batch ? " @ " + integer(*c.throughput_batch) : "");
    put(out,
        "<tr{}><td>{}{}<span class=\"id\">{}{}</span></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
        rec ? " class=\"rec\"" : "", rec ? "★ " : "", escape(c.label), escape(c.id),
        c.path ? " · " + escape(*c.path) : "", escape(c.kind), or_dash(c.stage), or_dash(c.precision),
        acc(c.test_accuracy), or_dash(c.val_accuracy, acc), sig3(c.p50), or_dash(c.p90, sig3), throughput,
        or_dash(c.params, count), or_dash(c.macs, count), or_dash(c.size_bytes, bytes), c.pareto ? "✓" : "");
  }
  out += "</tbody>\n</table></div>\n</section>\n";
}

}  // namespace

std::string optimize_report_html(const std::string& report_json) {
  Report r;
  read_report(report_json, r);

  std::string out;
  out.reserve(64 * 1024);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  put(out, "<title>nimble optimize report{}</title>\n", r.created ? " — " + escape(when(*r.created)) : "");
  out += "<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<main>\n";
  put_header(out, r);
  put_goals(out, r);
  put_summary(out, r);

  out +=
      "<section class=\"chart-section\" id=\"tradeoff\">\n<h2>Accuracy against latency</h2>\n<p "
      "class=\"caption\">Every measured "
      "model; up and to the left is better. The staircase is the Pareto front: no model beats a point on it in both "
      "accuracy and latency. Hover a point for its figures.</p>\n";
  put_scatter(out, r);
  out += "</section>\n";

  out +=
      "<section class=\"chart-section\" id=\"stages-chart\">\n<h2>Stage by stage</h2>\n<p class=\"caption\">The model "
      "each stage hands "
      "on: its batch-1 latency (bars, with the change from the stage before) and its test accuracy (markers). "
      "Hover a bar for the stage's reason.</p>\n";
  put_waterfall(out, r);
  out += "</section>\n";

  put_stages_table(out, r);
  put_layers_table(out, r);
  put_candidates_table(out, r);
  put(out, "<footer>Written by nimble{} from report.json. A self-contained page: nothing is fetched.</footer>\n",
      r.version ? " " + escape(*r.version) : "");
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace nimble
