#pragma once
// Resumable stages keyed by content: a stage's result is stored in its own folder with the hash of
// every input it was computed from (model files' bytes, the data, the options, the library). A rerun
// whose inputs hash the same takes the stored result back; anything else computes it again, after
// clearing the folder. The record is written last and atomically, so a stage killed half-way leaves
// no record and is computed again. Internal.
#include <functional>
#include <string>

#include "workflows/report_json.hpp"

namespace nimble::workflow {

class StageStore {
 public:
  explicit StageStore(std::string root);  // creates root

  // The folder of stage `index` named `name` (root/INDEX-NAME), created.
  std::string folder(int index, const std::string& name) const;

  struct Outcome {
    json record;          // what compute returned (with "files": the hashed files it listed)
    bool reused = false;  // taken back from an earlier run
  };
  // The stored record when its key matches `inputs` hashed with the library identity and every file
  // the record lists still has its hash, unless `force`; else clears the folder, runs compute(folder)
  // and stores what it returns. compute lists the files it wrote (relative to the folder) under
  // "files"; their hashes are kept.
  Outcome run(int index, const std::string& name, const std::string& inputs, bool force,
              const std::function<json(const std::string& folder)>& compute) const;

 private:
  std::string root_;
};

}  // namespace nimble::workflow
