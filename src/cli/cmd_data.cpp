// nimble data: what --data would read (describe_data), as text or --json.
#include <fmt/format.h>

#include <memory>

#include "cli/common.hpp"
#include "nimble/workflows/describe_data.hpp"

namespace nimble::cli {

namespace {

constexpr int64_t kClassesShown = 20;

void print_report(const DescribeDataReport& r) {
  const data::DataSet& d = r.set;
  const int64_t classes = d.train.num_classes;
  fmt::print("{}: {} data, {} classes\n", r.data, data::data_format_name(d.format), classes);
  for (const DataSplitCount& s : r.splits) {
    std::string line = fmt::format("  {:<5} {:>7} images:", s.name, s.images);
    for (int64_t k = 0; k < classes && k < kClassesShown; ++k)
      line += fmt::format(" {} {}", r.class_name(k), s.per_class[size_t(k)]);
    if (classes > kClassesShown) line += fmt::format(" ... ({} more classes)", classes - kClassesShown);
    fmt::print("{}\n", line);
  }
  fmt::print("  test split: {}\n", d.test_source);
  fmt::print("  stored: {} channel(s), {}x{} to {}x{} (width x height)\n", d.stored_channels, d.min_width, d.min_height,
             d.max_width, d.max_height);
  fmt::print(
      "  preprocessing: fitted to {} ({}; {} images changed), then (pixel / 255 - mean) / std with mean [{:.4f}] std "
      "[{:.4f}] (from the training split)\n",
      d.train.sample_shape().str(), data::fit_mode_name(r.fit), d.resized, fmt::join(r.normalization.mean, ", "),
      fmt::join(r.normalization.std, ", "));
  fmt::print("  loading: {}\n", d.cached ? "decoded once into memory"
                                         : "too large for the cache (--cache-mb): decoded on the fly each epoch");
  if (d.skipped > 0) {
    fmt::print("  skipped {} unreadable file(s):\n", d.skipped);
    for (const std::string& e : d.skipped_examples) fmt::print("    {}\n", e);
  }
}

}  // namespace

void add_data(CLI::App& app) {
  auto o = std::make_shared<DescribeDataOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand("data", "Show what a data set holds and how it would be read");
  c->add_option("data", o->data,
                "a folder of IDX files, CIFAR batches, .npy arrays or class folders of images, or a .npz archive")
      ->required();
  c->add_option("--data-format", o->data_format, "auto | idx | folder | cifar | numpy")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "idx", "folder", "cifar", "numpy"}));
  c->add_option("--input", o->input, "the model input CxHxW images would be fitted to (default: from the data)");
  c->add_option("--fit", o->fit, "crop | stretch")->capture_default_str()->check(CLI::IsMember({"crop", "stretch"}));
  c->add_flag("--skip-bad", o->skip_bad, "skip unreadable images instead of stopping");
  c->add_option("--cache-mb", o->cache_mb, "memory for decoded images in MB (default 0: half of RAM)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 30));
  add_output_options(c, *out, false);
  c->callback([o, out] {
    const DescribeDataReport r = describe_data(*o);
    if (out->json)
      print_json(to_json(r));
    else
      print_report(r);
  });
}

}  // namespace nimble::cli
