#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "workflows/html_report.hpp"

namespace nimble::html {
namespace {

TEST(HtmlReport, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(escape("<a href=\"x\">Tom & Jerry's</a>"), "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(escape("plain — ünïcode"), "plain — ünïcode");
}

TEST(HtmlReport, TruncatesAndWrapsByCharacterNotByte) {
  EXPECT_EQ(code_points("√2 ≈ 1.41"), 9u);
  EXPECT_EQ(truncate("ééééé", 3), "ééé…");
  EXPECT_EQ(truncate("abc", 3), "abc");
  EXPECT_EQ(truncate("abcd", 0), "…");
  EXPECT_EQ(wrap("search skipped: --preset quick", 16, 4),
            (std::vector<std::string>{"search skipped:", "--preset quick"}));
  EXPECT_EQ(wrap("one two three four five", 9, 2), (std::vector<std::string>{"one two", "three…"}));
  EXPECT_EQ(wrap("", 10, 3), std::vector<std::string>{});
}

TEST(HtmlReport, NumberFormats) {
  EXPECT_EQ(sig3(0.03), "0.030");
  EXPECT_EQ(sig3(0.4123), "0.412");
  EXPECT_EQ(sig3(12.34), "12.3");
  EXPECT_EQ(sig3(1234.6), "1235");
  EXPECT_EQ(count(1.2e6), "1.2 M");
  EXPECT_EQ(count(95000), "95 k");
  EXPECT_EQ(count(490), "490");
  EXPECT_EQ(bytes(4.8e6), "4.8 MB");
  EXPECT_EQ(bytes(60000), "60 kB");
  EXPECT_EQ(bytes(512), "512 B");
  EXPECT_EQ(integer(55000), "55,000");
  EXPECT_EQ(integer(1234567), "1,234,567");
  EXPECT_EQ(integer(-1000), "-1,000");
  EXPECT_EQ(fixed(-0.0004, 2), "0.00");
  EXPECT_EQ(signed_fixed(-1.1, 2), "−1.10");
  EXPECT_EQ(signed_fixed(0.1, 2), "+0.10");
  EXPECT_EQ(signed_fixed(-0.001, 2), "0.00");
  EXPECT_EQ(duration(35.14), "35.1 s");
  EXPECT_EQ(duration(413), "6 min 53 s");
  EXPECT_EQ(duration(7500), "2 h 05 min");
}

TEST(HtmlReport, LinearScaleEndsOnLabelledTicks) {
  const Scale s = linear_scale(91.7, 93.8, 400, 0, 6);
  EXPECT_EQ(s.ticks.front(), s.lo);
  EXPECT_EQ(s.ticks.back(), s.hi);
  EXPECT_LE(s.lo, 91.7);
  EXPECT_GE(s.hi, 93.8);
  EXPECT_EQ(s.label(s.ticks[1]), "92.0");  // steps of 0.5
  EXPECT_DOUBLE_EQ(s(s.lo), 400);
  EXPECT_DOUBLE_EQ(s(s.hi), 0);
  EXPECT_GE(linear_scale(5, 5, 0, 1, 5).ticks.size(), 2u);  // a single value still gets an axis
}

TEST(HtmlReport, LogScaleTicksPerDecade) {
  const Scale s = log_scale(0.03, 0.9, 0, 1000);
  std::vector<std::string> labels;
  for (const double t : s.ticks) labels.push_back(s.label(t));
  EXPECT_EQ(labels, (std::vector<std::string>{"0.03", "0.05", "0.1", "0.2", "0.3", "0.5", "1"}));
  EXPECT_NEAR(s(1) - s(0.1), s(0.1) - s(0.01), 1e-9);  // equal decades, equal widths
  const Scale wide = log_scale(0.01, 100, 0, 1000);    // four decades: powers of ten only
  for (const double t : wide.ticks) EXPECT_NEAR(std::log10(t), std::round(std::log10(t)), 1e-9) << t;
}

}  // namespace
}  // namespace nimble::html
