#pragma once
// Test-split accuracy of a saved model.
#include <string>

#include "nimble/runtime/precision.hpp"
#include "nimble/workflows/options.hpp"

namespace nimble {

struct EvaluateOptions {
  std::string model;  // a .nimble file
  std::string data = kDefaultDataDir;
  std::string data_format = "auto";  // auto | idx | folder | cifar | numpy (data::load_data)
  bool skip_bad = false;             // skip unreadable images instead of stopping
  int64_t cache_mb = 0;  // memory for decoded images, MB (0: half of RAM); beyond it they are decoded each epoch
  int64_t batch = 500;
  // automatic: the precision the model was trained and tested in (so train's test accuracy is
  // reproduced), else the fastest native one for this model.
  Precision precision = Precision::automatic;
  Log log = log_to_stderr;
  void validate() const;
};

struct EvaluateReport {
  std::string model;
  double test_accuracy = 0, test_loss = 0;
  int64_t samples = 0;
  double seconds = 0;
  PrecisionChoice precision;
};

EvaluateReport evaluate_model(const EvaluateOptions& options);
std::string to_json(const EvaluateReport& report);  // `nimble eval --json`

}  // namespace nimble
