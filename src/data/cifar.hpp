#pragma once
// CIFAR-10 / CIFAR-100 binary batches (the "binary version" archives of
// https://www.cs.toronto.edu/~kriz/cifar.html). Every problem throws nimble::Error with one line naming
// the file.
#include <string>
#include <vector>

#include "nimble/data/dataset.hpp"

namespace nimble::data {

// CIFAR-10: records of 1 label byte + 3072 pixel bytes (3x32x32, channel planes R, G, B).
// CIFAR-100: 2 label bytes (coarse, fine) + 3072 pixel bytes; the fine label is used.
enum class CifarKind { cifar10, cifar100 };

inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;

// The records of `files`, in order, as one (N, 3, 32, 32) u8 set with num_classes 10 or 100. A file whose
// size is not a whole number of records, an empty file, or a label out of range is an error.
ImageSet read_cifar_batches(const std::vector<std::string>& files, CifarKind kind);

// batches.meta.txt (CIFAR-10) or fine_label_names.txt (CIFAR-100): one class name per line, surrounding
// spaces trimmed, blank lines at the end ignored (the official files end with some). An empty vector
// when the file does not exist; a blank line between names is an error (it would shift the labels).
std::vector<std::string> read_cifar_class_names(const std::string& meta_path);

}  // namespace nimble::data
