#pragma once
// The stages of the search workflow (workflows/search.hpp). Internal.
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"
#include "nimble/nas/latency.hpp"
#include "nimble/nas/search.hpp"
#include "nimble/nas/supernet.hpp"
#include "nimble/workflows/search.hpp"

namespace nimble::workflow::search_stages {

struct SearchData {
  data::DataSet d;
  data::Split split;  // supernet training / architecture validation
  data::Normalization norm;
  int64_t val = 0;  // held out of d.train (-1: the data's own val split)
};
SearchData read_search_data(const SearchOptions& o);
std::string format_count(double n);  // 9.8e+09

// Trains the supernet, continues OUT/supernet.nimble's run, or reuses the finished one.
nas::Supernet supernet_stage(const SearchOptions& o, const nas::SearchSpace& space, const SearchData& data,
                             SearchReport& r);
// The latency table (built, or from the machine's cache), calibrated and validated.
nas::LatencyTable latency_stage(const SearchOptions& o, const nas::SearchSpace& space, SearchReport& r);
// NSGA-II and the random control; every measured candidate of both.
std::vector<nas::Candidate> search_stage(const SearchOptions& o, const nas::SearchSpace& space,
                                         const nas::Supernet& net, const nas::LatencyTable& table,
                                         const SearchData& data, SearchReport& r);
// --arch: that architecture measured (inherited accuracy, predicted latency), as the only candidate.
std::vector<nas::Candidate> one_candidate(const SearchOptions& o, const nas::SearchSpace& space,
                                          const nas::Supernet& net, const nas::LatencyTable& table,
                                          const SearchData& data);
// The chosen architectures as standalone models in OUT.
void extract_stage(const SearchOptions& o, const nas::SearchSpace& space, const nas::Supernet& net,
                   const nas::LatencyTable& table, const SearchData& data, const std::vector<nas::Candidate>& pooled,
                   SearchReport& r);

}  // namespace nimble::workflow::search_stages
