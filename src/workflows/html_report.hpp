#pragma once
// What an HTML report page is built from: escaping, number formats a reader scans easily, axis scales with readable
// ticks for hand-written SVG charts, and the boxes that keep chart labels from overlapping. Internal.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nimble::html {

// For element text and attribute values alike: & < > " ' become entities.
std::string escape(std::string_view s);

// Unicode code points in UTF-8 `s`: the characters a reader sees.
size_t code_points(std::string_view s);
// The first `n` code points of `s`, ending in "…" when it was longer.
std::string truncate(std::string_view s, size_t n);
// The words of `s` in lines of at most `width` code points; at most `max_lines` of them, the last ending in "…"
// when text was left out.
std::vector<std::string> wrap(std::string_view s, size_t width, size_t max_lines);
std::string join(const std::vector<std::string>& parts, std::string_view separator);

std::string fixed(double v, int decimals);         // never "-0.00"
std::string sig3(double v);                        // 3 significant digits, at most 3 decimals: 0.030, 0.412, 12.3
std::string trim_zeros(std::string number);        // 1.50 -> 1.5, 2.00 -> 2
std::string integer(double v);                     // 55,000
std::string count(double v);                       // 95 k, 1.2 M, 4.5 G
std::string bytes(double v);                       // decimal units: 60 kB, 4.8 MB
std::string signed_fixed(double v, int decimals);  // +0.40, −0.40 (a real minus sign), 0.00
std::string duration(double seconds);              // 35.1 s, 6 min 53 s, 2 h 05 min

// Data to pixels along one axis, with the ticks to label it.
struct Scale {
  double lo = 0, hi = 1;    // data
  double from = 0, to = 1;  // pixels (from > to on a y axis)
  bool log = false;
  std::vector<double> ticks;
  int decimals = 0;  // of a linear axis's tick labels

  double operator()(double v) const;
  std::string label(double tick) const;
};

// [lo, hi] rounded out to whole steps of 1, 2 or 5 times a power of ten, about `target_ticks` of them.
Scale linear_scale(double lo, double hi, double from, double to, int target_ticks);
// [lo, hi] with some margin, ticks at 1-2-3-5 per decade (1-2-5 beyond two decades, powers of ten beyond three).
Scale log_scale(double lo, double hi, double from, double to);

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  bool inside(const Box& o) const { return x0 >= o.x0 && x1 <= o.x1 && y0 >= o.y0 && y1 <= o.y1; }
};

// Estimated width of `s` at `size` px, generous so that estimated boxes that miss each other really do.
double text_width(std::string_view s, double size);
// The box of a text drawn with its baseline at (x, y) and text-anchor `anchor` ("start", "middle" or "end").
Box text_box(std::string_view s, double x, double y, double size, std::string_view anchor);

}  // namespace nimble::html
