#pragma once
// What `--data` would read: format, images per split and class, sizes stored, and the
// preprocessing a model trained on it would get (`nimble data`).
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/workflows/options.hpp"

namespace nimble {

struct DescribeDataOptions {
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";  // auto | idx | folder | cifar | numpy (data::load_data)
  std::string input;                 // CxHxW images are fitted to; empty: chosen from the data
  std::string fit = "crop";          // crop | stretch
  bool skip_bad = false;
  int64_t cache_mb = 0;  // memory for decoded images, MB (0: half of RAM)
  void validate() const;
};

struct DataSplitCount {
  std::string name;                // train | val | test
  std::vector<int64_t> per_class;  // images of each class
  int64_t images = 0;
};

struct DescribeDataReport {
  std::string data;
  data::DataSet set;                   // as read (its splits share the images' storage)
  std::vector<DataSplitCount> splits;  // the non-empty ones
  data::Normalization normalization;   // of the training split
  data::FitMode fit = data::FitMode::crop;
  std::string class_name(int64_t c) const;  // its name, or its number
};

DescribeDataReport describe_data(const DescribeDataOptions& options);
std::string to_json(const DescribeDataReport& report);  // `nimble data --json`

}  // namespace nimble
