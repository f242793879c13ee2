#include "nimble/workflows/describe_data.hpp"

#include "nimble/core/error.hpp"
#include "workflows/report_json.hpp"
#include "workflows/workflow_util.hpp"

namespace nimble {

void DescribeDataOptions::validate() const {
  if (!input.empty()) {
    try {
      Shape::parse(input);
    } catch (const Error& e) {
      throw OptionError("input", e.what());
    }
  }
  data::parse_fit_mode(fit);
  data::parse_data_format(data_format);
}

std::string DescribeDataReport::class_name(int64_t c) const {
  return size_t(c) < set.class_names.size() ? set.class_names[size_t(c)] : std::to_string(c);
}

DescribeDataReport describe_data(const DescribeDataOptions& o) {
  o.validate();
  DescribeDataReport r;
  r.data = o.data;
  r.fit = data::parse_fit_mode(o.fit);
  r.set = workflow::read_data(o.data, o.data_format, o.skip_bad, o.cache_mb,
                              o.input.empty() ? Shape{} : Shape::parse(o.input), r.fit);
  r.normalization = data::compute_normalization(r.set.train);
  const int64_t classes = r.set.train.num_classes;
  for (const auto& [name, split] : {std::pair<const char*, const data::ImageSet*>{"train", &r.set.train},
                                    {"val", &r.set.val},
                                    {"test", &r.set.test}}) {
    if (split->size() == 0) continue;
    DataSplitCount count{name, std::vector<int64_t>(size_t(classes), 0), split->size()};
    for (int32_t l : split->labels) ++count.per_class[size_t(l)];
    r.splits.push_back(std::move(count));
  }
  return r;
}

std::string to_json(const DescribeDataReport& r) {
  const data::DataSet& d = r.set;
  workflow::json splits = workflow::json::object();
  for (const DataSplitCount& s : r.splits) {
    workflow::json counts = workflow::json::object();
    for (size_t k = 0; k < s.per_class.size(); ++k) counts[r.class_name(int64_t(k))] = s.per_class[k];
    splits[s.name] = {{"images", s.images}, {"per_class", counts}};
  }
  const workflow::json j = {{"data", r.data},
                            {"format", data::data_format_name(d.format)},
                            {"classes", d.train.num_classes},
                            {"class_names", d.class_names},
                            {"splits", splits},
                            {"test_source", d.test_source},
                            {"stored",
                             {{"channels", d.stored_channels},
                              {"min_height", d.min_height},
                              {"min_width", d.min_width},
                              {"max_height", d.max_height},
                              {"max_width", d.max_width}}},
                            {"input", d.train.sample_shape().str()},
                            {"fit", data::fit_mode_name(r.fit)},
                            {"fitted_images", d.resized},
                            {"cached", d.cached},
                            {"mean", r.normalization.mean},
                            {"std", r.normalization.std},
                            {"skipped", d.skipped},
                            {"skipped_examples", d.skipped_examples}};
  return j.dump();
}

}  // namespace nimble
