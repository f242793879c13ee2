#pragma once
// Running the `nimble` command in tests: exit code, stdout and stderr of one call.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace nimble::testing {

struct CliRun {
  int code = -1;
  std::string out, err;
};

// env: "NAME=value " assignments put in front of the command, or empty.
inline CliRun run(const std::string& args, const std::string& env = "") {
  static int n = 0;
  const std::filesystem::path err_file = std::filesystem::temp_directory_path() /
                                         ("nimble_cli_err_" + std::to_string(getpid()) + "_" + std::to_string(n++));
  const std::string cmd = env + std::string(NIMBLE_CLI) + " " + args + " 2>" + err_file.string() + " </dev/null";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_file);
  return r;
}

// The last line of `err` (status lines may come before a failure's one "error: ..." line).
inline std::string last_line(const std::string& err) {
  const size_t end = err.size() > 0 && err.back() == '\n' ? err.size() - 1 : err.size();
  const size_t start = end == 0 ? std::string::npos : err.rfind('\n', end - 1);
  return err.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

// A file's bytes (empty when it cannot be read).
inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace nimble::testing
