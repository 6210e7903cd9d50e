// tests/testing.h - helpers shared by the googletest files.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing_paths.h"

extern "C" {
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"
}

namespace mbrl_test {

// Result of running a command through the shell.
struct RunResult {
  int exit_code;    // the process's exit status (or -1 if it did not exit normally)
  std::string out;  // stdout
  std::string err;  // stderr
};

// A fresh empty directory under $TMPDIR, removed by the destructor.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string file(const std::string &name) const { return path + "/" + name; }
};

// Run `cmd` with /bin/sh, capturing stdout and stderr separately.
RunResult run(const std::string &cmd);

// Path of a built executable, e.g. bin("mbrl_collect").
std::string bin(const std::string &name);

// Run the built executable `name` with the (shell-quoted by the caller) arguments `args`.
RunResult run_bin(const std::string &name, const std::string &args);

// A dataset made by mbrl_collect at dir/name: `episodes` episodes of at most `steps` steps,
// --seed `seed`, and --env `env` unless env is empty (mbrl_collect's default). Expects exit 0.
std::string collect_dataset(const TempDir &dir, const std::string &name, int episodes, int steps,
                            int seed = 999, const std::string &env = "");

// True if `sub` occurs in `s`.
bool has(const std::string &s, const std::string &sub);

// The number after "key": in a one-line JSON object (NAN if absent or null).
double json_num(const std::string &js, const std::string &key);

// The numbers of the first "key": [a, b, c] at or after offset `from` (empty if absent or
// null); stops at the first element that is not a number.
std::vector<double> json_arr(const std::string &js, const std::string &key, size_t from = 0);

bool file_exists(const std::string &path);
std::string read_file(const std::string &path);
std::vector<std::string> list_dir(const std::string &path);

// n floats from N(shift, scale^2), std::mt19937(seed): the tests' fixed random inputs.
std::vector<float> randn(size_t n, unsigned seed, float scale = 1.0f, float shift = 0.0f);

// Fails the current test unless got is within atol + rtol*|want| of a double reference;
// prints the worst error / tolerance under the label `what`.
void expect_close(const char *what, const std::vector<float> &got, const std::vector<double> &want,
                  double atol, double rtol);

// Worst |a-b| / (atol + rtol*|b|) over n elements (<= 1 means within tolerance).
double worst_ratio(const float *a, const float *b, size_t n, double atol, double rtol);

// ds (initialized here; free with mbrl_dataset_free) = `episodes` random-policy Pendulum-v1
// episodes of `steps` transitions (env seed `seed`, episode e reset as stream e, actions from
// Philox(seed, 2^32 + e)), the last step of each marked truncated, statistics computed.
void pendulum_data(mbrl_dataset *ds, int episodes, int steps, uint64_t seed);

// Owners of a plan model, a planner and an optimizer: freed when they go out of scope.
struct ModelPtr {
  mbrl_plan_model *m = nullptr;
  ~ModelPtr() { mbrl_plan_model_free(m); }
};
struct PlannerPtr {
  mbrl_planner *p = nullptr;
  ~PlannerPtr() { mbrl_planner_free(p); }
};
struct OptPtr {
  mbrl_plan_opt *o = nullptr;
  ~OptPtr() { mbrl_plan_opt_free(o); }
};

// mbrl_planner_config_init's defaults with K samples, horizon H, gamma, E envs and backend be.
inline mbrl_planner_config cfg_of(int K, int H, float gamma, int E, mbrl_backend be) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.samples = K;
  c.horizon = H;
  c.gamma = gamma;
  c.max_envs = E;
  c.backend = be;
  return c;
}

}  // namespace mbrl_test

// Skip the current test unless the CUDA backend is compiled in and a GPU is present. Marks the
// test as a CUDA test in googletest's XML/JSON output (property "mbrl_cuda": "ran",
// "skipped: no GPU" or "skipped: built without the CUDA backend"), which is how
// scripts/gpu-check finds the CUDA tests to run under compute-sanitizer.
#define MBRL_REQUIRE_GPU()                                                                \
  do {                                                                                    \
    if (!mbrl_cuda_compiled()) {                                                          \
      ::testing::Test::RecordProperty("mbrl_cuda", "skipped: built without the CUDA backend"); \
      GTEST_SKIP() << "built without the CUDA backend";                                   \
    }                                                                                     \
    if (mbrl_cuda_device_count() == 0) {                                                  \
      ::testing::Test::RecordProperty("mbrl_cuda", "skipped: no GPU");                    \
      GTEST_SKIP() << "no GPU (no CUDA device present)";                                  \
    }                                                                                     \
    ::testing::Test::RecordProperty("mbrl_cuda", "ran");                                  \
  } while (0)
