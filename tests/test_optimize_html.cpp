#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "nimble/core/error.hpp"
#include "workflows/optimize_html.hpp"

namespace nimble {
namespace {

using json = nlohmann::json;

json candidate(const std::string& id, const std::string& label, const std::string& kind, const std::string& stage,
               const std::string& precision, double acc, double ms, double params, double size, bool pareto) {
  return {{"id", id},
          {"label", label},
          {"kind", kind},
          {"stage", stage},
          {"precision", precision},
          {"path", "stages/" + stage + "/" + id + ".nimble"},
          {"test_accuracy", acc},
          {"val_accuracy", acc + 0.002},
          {"latency_ms_p50", ms},
          {"latency_ms_p90", ms * 1.1},
          {"throughput_samples_per_s", 1000 / ms},
          {"throughput_batch", 256},
          {"params", params},
          {"macs", params * 30},
          {"size_bytes", size},
          {"pareto", pareto},
          {"recommended", id == "final-int8"}};
}

json stage(const std::string& name, const std::string& status, const std::string& reason, double seconds,
           const json& result, const json& acc_change, const json& lat_change) {
  return {{"name", name},
          {"status", status},
          {"reason", reason},
          {"seconds", seconds},
          {"result", result},
          {"accuracy_change_points", acc_change},
          {"latency_change_ms", lat_change}};
}

json layer(const std::string& name, const std::string& op, const std::string& precision, const json& ms,
           const json& sensitivity, const json& before, const json& after, double params, const std::string& note) {
  return {{"name", name},
          {"op", op},
          {"precision", precision},
          {"ms", ms},
          {"sensitivity_points", sensitivity},
          {"channels_before", before},
          {"channels_after", after},
          {"params", params},
          {"macs", params * 40},
          {"note", note}};
}

// A run on Fashion-MNIST: a resnet teacher, two zoo baselines, a distilled, pruned and quantized student.
json sample_report() {
  return {
      {"nimble_version", "0.1.0"},
      {"command", "nimble optimize --out runs/opt --preset quick"},
      {"created", "2026-12-04T13:05:00Z"},
      {"machine",
       {{"cpu", "AMD EPYC (family 26, model 2)"},
        {"cores", 2},
        {"threads", 2},
        {"isa", "AVX-512 BF16/VNNI, no AMX"},
        {"memory_gib", 24}}},
      {"measurement",
       {{"method", "median of 100 timed runs, models timed in alternation"}, {"iters", 100}, {"median_noise", 0.031}}},
      {"data",
       {{"path", "/usr/share/datasets/fashion-mnist"},
        {"format", "idx"},
        {"classes", 10},
        {"train", 55000},
        {"val", 5000},
        {"test", 10000},
        {"input", "1x28x28"}}},
      {"goals", {{"max_drop_points", 1.5}, {"max_latency_ms", nullptr}, {"max_size_mb", nullptr}, {"batch", 1}}},
      {"goals_met", true},
      {"unmet", json::array()},
      {"candidates",
       {candidate("teacher-fp32", "teacher resnet, fp32", "teacher", "teacher", "fp32", 0.935, 0.90, 1.2e6, 4.8e6,
                  true),
        candidate("teacher-int8", "teacher resnet, int8", "teacher", "teacher", "int8", 0.934, 0.35, 1.2e6, 1.3e6,
                  true),
        candidate("mobilenet-v2-035", "mobilenet_v2 0.35", "baseline", "baseline", "fp32", 0.919, 0.30, 4.0e5, 1.6e6,
                  false),
        candidate("cnn", "cnn", "baseline", "baseline", "fp32", 0.927, 0.12, 3.9e5, 1.56e6, false),
        candidate("student-distilled", "student, distilled", "candidate", "distill", "fp32", 0.928, 0.09, 9.5e4, 3.8e5,
                  true),
        candidate("student-pruned", "student, pruned 50 %", "candidate", "prune", "fp32", 0.925, 0.06, 5.2e4, 2.1e5,
                  true),
        candidate("final-int8", "final, int8", "candidate", "final", "int8", 0.924, 0.03, 5.2e4, 6.0e4, true)}},
      {"recommended", "final-int8"},
      {"stages",
       {stage("teacher", "done", "Trained resnet8 for 30 epochs; its fp32 form is the reference.", 412.5,
              "teacher-fp32", nullptr, nullptr),
        stage("baseline", "done", "Measured the zoo's mobilenet_v2 0.35 and cnn; cnn is the student's start.", 95.2,
              "cnn", -0.8, -0.78),
        stage("student", "skipped", "search skipped: --preset quick", 0, nullptr, nullptr, nullptr),
        stage("distill", "done", "Distilled cnn from the teacher: 0.1 points better than training alone.", 640,
              "student-distilled", 0.1, -0.03),
        stage("prune", "done", "Pruned half the channels; two epochs of fine-tuning.", 230.4, "student-pruned", -0.3,
              -0.03),
        stage("quantize", "done", "int8 with per-channel weights; 512 calibration images.", 35.1, "final-int8", -0.1,
              -0.03),
        stage("final", "reused", "Re-measured against the teacher in alternation.", 12.7, "final-int8", 0.0, 0.0)}},
      {"final_layers",
       {layer("stem.conv", "conv2d", "int8", 0.004, 0.02, 16, 16, 160, ""),
        layer("s1.b0.dw", "conv2d", "int8", 0.006, 0.05, 96, 48, 480, ""),
        layer("s1.b0.pw", "conv2d", "fp32", 0.011, 0.41, 96, 48, 4608, "kept in float: int8 slower"),
        layer("pool", "avg_pool2d", "fp32", nullptr, nullptr, nullptr, nullptr, 0, ""),
        layer("fc", "linear", "int8", 0.002, nullptr, nullptr, nullptr, 490, "")}}};
}

size_t occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + needle.size())) ++n;
  return n;
}

std::string render(const json& report) { return optimize_report_html(report.dump()); }

TEST(OptimizeHtml, OnePointPerCandidateWithItsId) {
  const json report = sample_report();
  const std::string html = render(report);
  EXPECT_EQ(occurrences(html, "class=\"point\""), report["candidates"].size());
  for (const json& c : report["candidates"]) {
    const std::string id = c["id"];
    EXPECT_EQ(occurrences(html, "class=\"point\" data-id=\"" + id + "\""), 1u) << id;
  }
  // Each point carries its figures as a tooltip.
  EXPECT_NE(html.find("<title>teacher resnet, fp32\naccuracy 93.50 %\nlatency 0.900 ms"), std::string::npos);
}

TEST(OptimizeHtml, OneBarPerStage) {
  const json report = sample_report();
  const std::string html = render(report);
  EXPECT_EQ(occurrences(html, "class=\"bar\""), report["stages"].size());
  for (const json& s : report["stages"]) {
    const std::string name = s["name"];
    EXPECT_EQ(occurrences(html, "class=\"bar\" data-stage=\"" + name + "\""), 1u) << name;
  }
  // The skipped stage is drawn with its reason.
  EXPECT_NE(html.find("data-stage=\"student\" data-status=\"skipped\""), std::string::npos);
  EXPECT_NE(html.find("search skipped: --preset quick"), std::string::npos);
}

TEST(OptimizeHtml, RecommendedModelSummarisedAndLabelled) {
  const std::string html = render(sample_report());
  EXPECT_NE(html.find("★ final, int8 — recommended"), std::string::npos);  // the chart's label
  EXPECT_NE(html.find("30.0×"), std::string::npos);                        // 0.90 ms / 0.03 ms, vs the fp32 teacher
  EXPECT_NE(html.find("−1.10 pt vs the teacher"), std::string::npos);      // 92.4 % vs 93.5 %
  EXPECT_NE(html.find("<span class=\"badge ok\">met</span>"), std::string::npos);
  EXPECT_NE(html.find("data-goal=\"accuracy\""), std::string::npos);  // teacher 93.5 % - 1.5 points
  EXPECT_NE(html.find("92.00 %"), std::string::npos);
  EXPECT_EQ(html.find("data-goal=\"latency\""), std::string::npos);  // no latency budget set
}

TEST(OptimizeHtml, SpeedUpIsAgainstTheFp32TeacherWhereverItIsListed) {
  json report = sample_report();
  std::swap(report["candidates"][0], report["candidates"][1]);  // the int8 teacher first
  EXPECT_NE(render(report).find("30.0×"), std::string::npos);
}

TEST(OptimizeHtml, SpeedUpTimedSideBySideWinsOverTheRatioOfTwoMeasurements) {
  json report = sample_report();
  report["speedup_vs_teacher"] = 27.5;
  report["teacher_latency_ms_side_by_side"] = 0.88;
  const std::string html = render(report);
  EXPECT_NE(html.find("27.5×"), std::string::npos);
  EXPECT_NE(html.find("timed side by side"), std::string::npos);
  EXPECT_EQ(html.find("30.0×"), std::string::npos);
}

TEST(OptimizeHtml, LatencyBudgetLineWhenSet) {
  json report = sample_report();
  report["goals"]["max_latency_ms"] = 0.5;
  const std::string html = render(report);
  EXPECT_NE(html.find("data-goal=\"latency\""), std::string::npos);
  EXPECT_NE(html.find("latency budget 0.500 ms"), std::string::npos);
}

TEST(OptimizeHtml, EscapesEveryStringFromTheReport) {
  json report = sample_report();
  report["candidates"][2]["label"] = "<script>alert(\"x\")</script> & 'y'";
  report["candidates"][2]["path"] = "a&b/<c>.nimble";
  report["stages"][2]["reason"] = "skipped: <b>quick</b> & \"fast\"";
  report["command"] = "nimble optimize --out '<dir>'";
  report["machine"]["cpu"] = "<img src=x onerror=alert(1)>";
  const std::string html = render(report);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>quick"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b/&lt;c&gt;.nimble"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;quick&lt;/b&gt; &amp; &quot;fast&quot;"), std::string::npos);
  EXPECT_NE(html.find("--out &#39;&lt;dir&gt;&#39;"), std::string::npos);
}

TEST(OptimizeHtml, NullAndMissingOptionalFieldsRenderAsDash) {
  json report = sample_report();
  for (json& c : report["candidates"]) {
    for (const char* key : {"val_accuracy", "latency_ms_p90", "params", "macs", "size_bytes", "path"}) c[key] = nullptr;
    c.erase("throughput_samples_per_s");
    c.erase("stage");
  }
  for (json& s : report["stages"]) s["seconds"] = nullptr, s.erase("reason"), s["accuracy_change_points"] = nullptr;
  report["machine"] = nullptr;
  report.erase("measurement");
  report.erase("created");
  report.erase("final_layers");
  const std::string html = render(report);
  EXPECT_GT(occurrences(html, "<td class=\"n\">—</td>"), 20u);
  EXPECT_NE(html.find("<dt>Machine</dt><dd>—</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dt>Date</dt><dd>—</dd>"), std::string::npos);
  EXPECT_NE(html.find("No per-layer profile"), std::string::npos);
  for (const char* leak : {">null<", "nan", "inf ", "-0.00"}) EXPECT_EQ(html.find(leak), std::string::npos) << leak;
  EXPECT_EQ(occurrences(html, "class=\"point\""), report["candidates"].size());
}

TEST(OptimizeHtml, NoRecommendedModelSaysSo) {
  json report = sample_report();
  report["recommended"] = nullptr;
  report["goals_met"] = false;
  report["goals"]["max_latency_ms"] = 0.01;
  report["unmet"] = {"No model runs in 0.01 ms at batch 1: the fastest, final, int8, takes 0.030 ms."};
  const std::string html = render(report);
  EXPECT_NE(html.find("No model met the goals"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge no\">not met</span>"), std::string::npos);
  EXPECT_NE(html.find("No model runs in 0.01 ms at batch 1"), std::string::npos);
  EXPECT_EQ(html.find("recommended</text>"), std::string::npos);  // neither a point's label nor the legend
  EXPECT_EQ(occurrences(html, "class=\"point\""), report["candidates"].size());
}

TEST(OptimizeHtml, EmptyReportStillRenders) {
  const json report = {{"candidates", json::array()}, {"stages", json::array()}, {"recommended", nullptr}};
  const std::string html = render(report);
  EXPECT_NE(html.find("No model met the goals"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(occurrences(html, "class=\"point\""), 0u);
  EXPECT_EQ(occurrences(html, "class=\"bar\""), 0u);
}

TEST(OptimizeHtml, LogLatencyAxisOnlyPastTenfold) {
  EXPECT_NE(render(sample_report()).find("data-x-scale=\"log\""), std::string::npos);  // 0.03 to 0.90 ms

  json narrow = sample_report();
  json kept = json::array();
  for (const json& c : narrow["candidates"])
    if (c["latency_ms_p50"].get<double>() >= 0.09) kept.push_back(c);  // 0.09 to 0.90 ms: exactly 10x
  narrow["candidates"] = kept;
  narrow["recommended"] = "student-distilled";
  for (json& s : narrow["stages"]) s["result"] = nullptr;
  const std::string html = render(narrow);
  EXPECT_NE(html.find("data-x-scale=\"linear\""), std::string::npos);
  EXPECT_EQ(html.find("log scale"), std::string::npos);
}

TEST(OptimizeHtml, SelfContained) {
  const std::string html = render(sample_report());
  for (const char* ref : {"http", "<script", "<link", "<img", "src=", "url(", "@import"})
    EXPECT_EQ(html.find(ref), std::string::npos) << ref;
}

TEST(OptimizeHtml, UnknownFieldsAreIgnored) {
  json report = sample_report();
  report["future"] = {{"a", 1}};
  report["candidates"][0]["energy_mj"] = 3.5;
  report["stages"][0]["log"] = "stages/0-teacher/log.txt";
  EXPECT_EQ(render(report), render(sample_report()));
}

TEST(OptimizeHtml, MalformedReportsThrowOneLineErrors) {
  const auto message = [](const std::string& text) {
    try {
      optimize_report_html(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const auto without = [](const char* key) {
    json r = sample_report();
    r.erase(key);
    return r.dump();
  };
  const auto with = [](const json::json_pointer& at, const json& v) {
    json r = sample_report();
    r[at] = v;
    return r.dump();
  };
  const std::string cases[] = {
      "",
      "{",
      "not json",
      "[]",
      without("candidates"),
      without("stages"),
      with("/candidates"_json_pointer, {{"id", "x"}}),
      with("/candidates/0/id"_json_pointer, nullptr),
      with("/candidates/0/latency_ms_p50"_json_pointer, "fast"),
      with("/candidates/0/test_accuracy"_json_pointer, 93.5),  // a percentage, not a fraction
      with("/candidates/0/kind"_json_pointer, "student"),
      with("/candidates/0/kind"_json_pointer, "two\nlines"),
      with("/candidates/1/id"_json_pointer, "teacher-fp32"),  // not unique
      with("/recommended"_json_pointer, "no-such-model"),
      with("/stages/0/result"_json_pointer, "no-such-model"),
      with("/stages/0/status"_json_pointer, "running"),
      with("/final_layers"_json_pointer, {{"ms", 1}}),
  };
  for (const std::string& text : cases) {
    EXPECT_THROW(optimize_report_html(text), Error) << text.substr(0, 80);
    const std::string m = message(text);
    EXPECT_EQ(m.rfind("optimize report: ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_EQ(message(without("candidates")), "optimize report: candidates is missing (an array is required)");
  EXPECT_EQ(message("[]"), "optimize report: the report must be a JSON object");
  EXPECT_EQ(message(with("/candidates/0/latency_ms_p50"_json_pointer, "fast")),
            "optimize report: candidates[0].latency_ms_p50 must be a number");
}

}  // namespace
}  // namespace nimble
