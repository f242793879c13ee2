// nimble data: what --data would read (data::load_data): format, images per split and class, the
// sizes and channels stored, and the preprocessing a model trained on it would get.
#include <fmt/format.h>

#include <memory>

#include "cli/common.hpp"
#include "nimble/data/dataset.hpp"

namespace nimble::cli {

namespace {

struct DataArgs {
  std::string data, format = "auto", input, fit = "crop";
  bool skip_bad = false;
  int64_t cache_mb = 0;
};

std::vector<int64_t> per_class(const data::ImageSet& s, int64_t classes) {
  std::vector<int64_t> n(size_t(classes), 0);
  for (int32_t l : s.labels) ++n[size_t(l)];
  return n;
}

std::string class_name(const data::DataSet& d, int64_t c) {
  return size_t(c) < d.class_names.size() ? d.class_names[size_t(c)] : std::to_string(c);
}

}  // namespace

void add_data(CLI::App& app) {
  auto a = std::make_shared<DataArgs>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand("data", "Show what a data set holds and how it would be read");
  c->add_option("data", a->data,
                "a folder of IDX files, CIFAR batches, .npy arrays or class folders of images, or a .npz archive")
      ->required();
  c->add_option("--data-format", a->format, "auto | idx | folder | cifar | numpy")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "idx", "folder", "cifar", "numpy"}));
  c->add_option("--input", a->input, "the model input CxHxW images would be fitted to (default: from the data)");
  c->add_option("--fit", a->fit, "crop | stretch")->capture_default_str()->check(CLI::IsMember({"crop", "stretch"}));
  c->add_flag("--skip-bad", a->skip_bad, "skip unreadable images instead of stopping");
  c->add_option("--cache-mb", a->cache_mb, "memory for decoded images in MB (default 0: half of RAM)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 30));
  add_output_options(c, *out, false);
  c->callback([a, out] {
    data::DataOptions opt;
    opt.format = a->format;
    opt.fit = data::parse_fit_mode(a->fit);
    opt.skip_bad = a->skip_bad;
    opt.cache_bytes = a->cache_mb << 20;
    if (!a->input.empty()) parse_field("input", [&](const std::string& s) { opt.input = Shape::parse(s); })(a->input);
    const data::DataSet d = data::load_data(a->data, opt);
    const int64_t classes = d.train.num_classes;
    const data::Normalization norm = data::compute_normalization(d.train);
    const Shape in = d.train.sample_shape();
    json splits = json::object();
    for (const auto& [name, set] :
         {std::pair<const char*, const data::ImageSet*>{"train", &d.train}, {"val", &d.val}, {"test", &d.test}}) {
      if (set->size() == 0) continue;
      json counts = json::object();
      const auto n = per_class(*set, classes);
      for (int64_t k = 0; k < classes; ++k) counts[class_name(d, k)] = n[size_t(k)];
      splits[name] = {{"images", set->size()}, {"per_class", counts}};
    }
    const json j = {{"data", a->data},
                    {"format", data::data_format_name(d.format)},
                    {"classes", classes},
                    {"class_names", d.class_names},
                    {"splits", splits},
                    {"test_source", d.test_source},
                    {"stored",
                     {{"channels", d.stored_channels},
                      {"min_height", d.min_height},
                      {"min_width", d.min_width},
                      {"max_height", d.max_height},
                      {"max_width", d.max_width}}},
                    {"input", in.str()},
                    {"fit", data::fit_mode_name(opt.fit)},
                    {"fitted_images", d.resized},
                    {"cached", d.cached},
                    {"mean", norm.mean},
                    {"std", norm.std},
                    {"skipped", d.skipped},
                    {"skipped_examples", d.skipped_examples}};
    if (out->json) {
      print_json(j.dump());
      return;
    }
    fmt::print("{}: {} data, {} classes\n", a->data, data::data_format_name(d.format), classes);
    for (const auto& [name, set] :
         {std::pair<const char*, const data::ImageSet*>{"train", &d.train}, {"val", &d.val}, {"test", &d.test}}) {
      if (set->size() == 0) continue;
      std::string line = fmt::format("  {:<5} {:>7} images:", name, set->size());
      const auto n = per_class(*set, classes);
      for (int64_t k = 0; k < classes && k < 20; ++k) line += fmt::format(" {} {}", class_name(d, k), n[size_t(k)]);
      if (classes > 20) line += fmt::format(" ... ({} more classes)", classes - 20);
      fmt::print("{}\n", line);
    }
    fmt::print("  test split: {}\n", d.test_source);
    fmt::print("  stored: {} channel(s), {}x{} to {}x{} (width x height)\n", d.stored_channels, d.min_width,
               d.min_height, d.max_width, d.max_height);
    fmt::print(
        "  preprocessing: fitted to {} ({}; {} images changed), then (pixel / 255 - mean) / std with mean "
        "[{:.4f}] std [{:.4f}] (from the training split)\n",
        in.str(), data::fit_mode_name(opt.fit), d.resized, fmt::join(norm.mean, ", "), fmt::join(norm.std, ", "));
    fmt::print("  loading: {}\n", d.cached ? "decoded once into memory"
                                           : "too large for the cache (--cache-mb): decoded on the fly each epoch");
    if (d.skipped > 0) {
      fmt::print("  skipped {} unreadable file(s):\n", d.skipped);
      for (const std::string& e : d.skipped_examples) fmt::print("    {}\n", e);
    }
  });
}

}  // namespace nimble::cli
