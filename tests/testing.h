// tests/testing.h - helpers shared by the googletest files.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "mbrl/device.h"
}

namespace mbrl_test {

// Result of running a command through the shell.
struct RunResult {
  int exit_code;    // the process's exit status (or -1 if it did not exit normally)
  std::string out;  // stdout
  std::string err;  // stderr
};

// Run `cmd` with /bin/sh, capturing stdout and stderr separately.
RunResult run(const std::string &cmd);

// Path of a built executable, e.g. bin("mbrl_collect").
std::string bin(const std::string &name);

// A fresh empty directory under $TMPDIR, removed by the destructor.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string file(const std::string &name) const { return path + "/" + name; }
};

bool file_exists(const std::string &path);
std::string read_file(const std::string &path);
std::vector<std::string> list_dir(const std::string &path);

// Worst |a-b| / (atol + rtol*|b|) over n elements (<= 1 means within tolerance).
double worst_ratio(const float *a, const float *b, size_t n, double atol, double rtol);

}  // namespace mbrl_test

// Skip the current test unless the CUDA backend is compiled in and a GPU is present.
#define MBRL_REQUIRE_GPU()                                                       \
  do {                                                                           \
    if (!mbrl_cuda_compiled()) GTEST_SKIP() << "built without the CUDA backend"; \
    if (mbrl_cuda_device_count() == 0) GTEST_SKIP() << "no CUDA GPU present";    \
  } while (0)
