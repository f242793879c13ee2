#include "workflows/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace nimble::html {

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {
bool starts_code_point(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }
}  // namespace

size_t code_points(std::string_view s) { return std::count_if(s.begin(), s.end(), starts_code_point); }

std::string truncate(std::string_view s, size_t n) {
  if (code_points(s) <= n) return std::string(s);
  size_t end = 0;  // the byte where code point n (0-based) starts
  for (size_t seen = 0; end < s.size(); ++end)
    if (starts_code_point(s[end]) && seen++ == n) break;
  return std::string(s.substr(0, end)) + "…";
}

std::vector<std::string> wrap(std::string_view s, size_t width, size_t max_lines) {
  std::vector<std::string> lines;
  std::string line;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string word = truncate(s.substr(start, end - start), width);
    start = end + 1;
    if (word.empty()) continue;
    if (!line.empty() && code_points(line) + 1 + code_points(word) > width) {
      lines.push_back(line);
      line.clear();
    }
    line += line.empty() ? word : " " + word;
  }
  if (!line.empty()) lines.push_back(line);
  if (lines.size() > max_lines && max_lines > 0) {
    lines.resize(max_lines);
    std::string& last = lines.back();
    last = code_points(last) < width ? last + "…" : truncate(last, width - 1);
  }
  return lines;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string fixed(double v, int decimals) {
  if (std::abs(v) < 0.5 * std::pow(10.0, -decimals)) v = 0;  // rounds to zero: print "0.00", not "-0.00"
  return fmt::format("{:.{}f}", v, decimals);
}

std::string sig3(double v) {
  if (v == 0) return "0";
  const int magnitude = static_cast<int>(std::floor(std::log10(std::abs(v))));
  return fixed(v, std::clamp(2 - magnitude, 0, 3));
}

std::string trim_zeros(std::string number) {
  if (number.find('.') == std::string::npos) return number;
  while (number.back() == '0') number.pop_back();
  if (number.back() == '.') number.pop_back();
  return number;
}

std::string integer(double v) {
  // Built digit by digit from the right (GCC 12 warns, wrongly, about string::insert here).
  const std::string digits = fmt::format("{:.0f}", std::abs(v));
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return (v < 0 && digits != "0" ? "-" : "") + s;
}

std::string count(double v) {
  const double a = std::abs(v);
  if (a >= 1e9) return trim_zeros(sig3(v / 1e9)) + " G";
  if (a >= 1e6) return trim_zeros(sig3(v / 1e6)) + " M";
  if (a >= 1e3) return trim_zeros(sig3(v / 1e3)) + " k";
  return trim_zeros(sig3(v));
}

std::string bytes(double v) {
  if (v >= 1e9) return trim_zeros(sig3(v / 1e9)) + " GB";
  if (v >= 1e6) return trim_zeros(sig3(v / 1e6)) + " MB";
  if (v >= 1e3) return trim_zeros(sig3(v / 1e3)) + " kB";
  return integer(v) + " B";
}

std::string signed_fixed(double v, int decimals) {
  std::string s = fixed(std::abs(v), decimals);
  if (s == fixed(0, decimals)) return s;
  return (v < 0 ? "−" : "+") + s;
}

std::string duration(double seconds) {
  if (seconds < 60) return fixed(seconds, 1) + " s";
  const auto total = static_cast<long long>(std::llround(seconds));
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} min", total / 3600, total / 60 % 60);
}

double Scale::operator()(double v) const {
  const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
  return from + t * (to - from);
}

std::string Scale::label(double tick) const {
  // A log axis mixes 0.02 and 20: each tick gets the decimals it needs.
  const int d = log ? std::max(0, static_cast<int>(std::ceil(-std::log10(tick) - 1e-9))) : decimals;
  return fixed(tick, d);
}

namespace {
// 1, 2 or 5 times a power of ten, giving about `target` steps over `span`.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
}
}  // namespace

Scale linear_scale(double lo, double hi, double from, double to, int target_ticks) {
  if (hi - lo < 1e-9) {  // one value: give it some room
    const double pad = std::max(std::abs(hi) * 0.05, 1e-3);
    lo -= pad;
    hi += pad;
  }
  Scale s;
  const double step = nice_step(hi - lo, target_ticks);
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  s.lo = first * step;
  s.hi = last * step;
  s.from = from;
  s.to = to;
  for (double k = first; k <= last + 1e-9; ++k) s.ticks.push_back(k * step);  // k * step: no accumulated error
  s.decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  return s;
}

Scale log_scale(double lo, double hi, double from, double to) {
  Scale s;
  s.log = true;
  s.lo = lo / 1.35;
  s.hi = hi * 1.35;
  s.from = from;
  s.to = to;
  const double decades = std::log10(s.hi / s.lo);
  const int e0 = static_cast<int>(std::floor(std::log10(s.lo))), e1 = static_cast<int>(std::ceil(std::log10(s.hi)));
  for (int e = e0; e <= e1; ++e)
    for (const double m : {1.0, 2.0, 3.0, 5.0}) {
      const double t = m * std::pow(10.0, e);
      const bool shown = m == 1.0 || (m != 3.0 && decades <= 3) || decades <= 2;
      if (shown && t >= s.lo && t <= s.hi) s.ticks.push_back(t);
    }
  return s;
}

// Sans-serif fonts (DejaVu Sans, the widest common one, included) average under 0.6 em per character.
double text_width(std::string_view s, double size) { return 0.6 * size * static_cast<double>(code_points(s)); }

Box text_box(std::string_view s, double x, double y, double size, std::string_view anchor) {
  const double w = text_width(s, size);
  const double x0 = anchor == "start" ? x : anchor == "end" ? x - w : x - w / 2;
  return {x0, y - 0.8 * size, x0 + w, y + 0.25 * size};  // ascent above the baseline, descent below
}

}  // namespace nimble::html
