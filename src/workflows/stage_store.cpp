#include "workflows/stage_store.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/content_hash.hpp"
#include "nimble/core/error.hpp"

namespace nimble::workflow {

namespace fs = std::filesystem;

namespace {

constexpr const char* kRecord = "stage.json";

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The stored record, if it is whole, has `key` and its files are unchanged.
std::optional<json> stored(const fs::path& dir, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(dir / kRecord, ec)) return std::nullopt;
  try {
    json r = json::parse(read_text(dir / kRecord));
    if (r.value("key", "") != key) return std::nullopt;
    const json& hashes = r.at("file_hashes");
    for (auto it = hashes.begin(); it != hashes.end(); ++it) {
      const fs::path p = dir / it.key();
      if (!fs::exists(p, ec) || io::hex(io::hash_file(p.string())) != it.value().get<std::string>())
        return std::nullopt;
    }
    return r.at("record");
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged record counts as none
  }
}

}  // namespace

StageStore::StageStore(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  NIMBLE_CHECK(!ec, "cannot create " + root_ + ": " + ec.message());
}

std::string StageStore::folder(int index, const std::string& name) const {
  const fs::path dir = fs::path(root_) / (std::to_string(index) + "-" + name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  NIMBLE_CHECK(!ec, "cannot create " + dir.string() + ": " + ec.message());
  return dir.string();
}

StageStore::Outcome StageStore::run(int index, const std::string& name, const std::string& inputs, bool force,
                                    const std::function<json(const std::string&)>& compute) const {
  const std::string key = io::hex(io::fnv1a(name + "\n" + inputs + "\n" + io::library_identity()));
  const fs::path dir = folder(index, name);
  if (!force)
    if (std::optional<json> r = stored(dir, key)) return {std::move(*r), true};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
  NIMBLE_CHECK(!ec, "cannot clear " + dir.string() + ": " + ec.message());
  json record = compute(dir.string());
  json hashes = json::object();
  if (record.contains("files"))
    for (const json& f : record.at("files"))
      hashes[f.get<std::string>()] = io::hex(io::hash_file((dir / f.get<std::string>()).string()));
  io::write_file_atomically((dir / kRecord).string(),
                            json{{"key", key}, {"file_hashes", hashes}, {"record", record}}.dump(1));
  return {std::move(record), false};
}

}  // namespace nimble::workflow
