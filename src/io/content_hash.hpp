#pragma once
// Fingerprints of what a result was computed from, so that a rerun can tell whether a stored
// result still holds: FNV-1a over bytes, a file's content, a data set's files and the library's
// own build. Not cryptographic: they guard against stale results, not against an adversary.
#include <cstdint>
#include <string>

namespace nimble::io {

uint64_t fnv1a(const std::string& bytes, uint64_t seed = 1469598103934665603ull);
std::string hex(uint64_t h);  // 16 lowercase hex digits

// FNV-1a of the file's bytes; throws Error when it cannot be read.
uint64_t hash_file(const std::string& path);

// A data set's fingerprint: a file by its content; a directory by the relative path, size and
// modification time of every regular file under it (reading every image of a large folder would
// cost more than the work it guards). Throws Error when `path` does not exist.
uint64_t hash_data_source(const std::string& path);

// The loaded nimble library: its version, file path, size and modification time (a rebuilt
// library may compute other figures).
std::string library_identity();

}  // namespace nimble::io
