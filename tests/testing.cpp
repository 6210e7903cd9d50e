// tests/testing.cpp - helpers shared by the googletest files.
#include "testing.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

extern "C" {
#include "mbrl/env.h"
#include "mbrl/philox.h"
}

namespace mbrl_test {

static std::string slurp_and_remove(const std::string &path) {
  std::string s = read_file(path);
  std::remove(path.c_str());
  return s;
}

RunResult run(const std::string &cmd) {
  TempDir tmp;
  std::string out = tmp.file("out"), err = tmp.file("err");
  std::string full = "(" + cmd + ") >" + out + " 2>" + err + " </dev/null";
  int st = std::system(full.c_str());
  RunResult r;
  r.exit_code = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  r.out = slurp_and_remove(out);
  r.err = slurp_and_remove(err);
  return r;
}

// ---- run-time paths (testing_paths.h) ----

// The executable's folder, or "" when /proc/self/exe cannot be read.
static std::string exe_dir() {
  std::vector<char> buf(4096);
  ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "";
  std::string p(buf.data(), (size_t)n);
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

// realpath() of p, or p itself when it does not resolve.
static std::string canonical(const std::string &p) {
  char *r = realpath(p.c_str(), nullptr);
  if (!r) return p;
  std::string s = r;
  std::free(r);
  return s;
}

// True when this program runs from the build tree it was compiled for.
static bool in_build_tree() {
  static const bool yes = [] {
    std::string here = exe_dir();
    return here.empty() || canonical(here) == canonical(MBRL_BIN_DIR_DEFAULT);
  }();
  return yes;
}

// $var when set and not empty, else the compiled value when running from the build tree,
// else `moved` (a path relative to the executable).
static std::string setting(const char *var, const char *compiled, const std::string &moved) {
  const char *e = std::getenv(var);
  if (e && *e) return e;
  return in_build_tree() || moved.empty() ? compiled : moved;
}

const char *bin_dir() {
  static const std::string s = setting("MBRL_BIN_DIR", MBRL_BIN_DIR_DEFAULT, exe_dir());
  return s.c_str();
}

const char *source_dir() {
  static const std::string s =
      setting("MBRL_SOURCE_DIR", MBRL_SOURCE_DIR_DEFAULT, exe_dir().empty() ? "" : exe_dir() + "/..");
  return s.c_str();
}

const char *test_data_dir() {
  static const std::string s = [] {
    const char *e = std::getenv("MBRL_TEST_DATA_DIR");
    if (e && *e) return std::string(e);
    if (std::getenv("MBRL_SOURCE_DIR") && *std::getenv("MBRL_SOURCE_DIR"))
      return std::string(source_dir()) + "/tests/data";
    return setting("MBRL_TEST_DATA_DIR", MBRL_TEST_DATA_DIR_DEFAULT,
                   exe_dir().empty() ? "" : exe_dir() + "/../tests/data");
  }();
  return s.c_str();
}

const char *python() {
  static const std::string s = setting("MBRL_PYTHON", MBRL_PYTHON_DEFAULT, "");
  return s.c_str();
}

const char *fault_shim() {
  static const std::string s = [] {
    const char *e = std::getenv("MBRL_FAULT_SHIM");
    return e && *e ? std::string(e) : std::string(bin_dir()) + "/libmbrl_fault_shim.so";
  }();
  return s.c_str();
}

std::string bin(const std::string &name) { return std::string(MBRL_BIN_DIR) + "/" + name; }

RunResult run_bin(const std::string &name, const std::string &args) {
  return run("'" + bin(name) + "' " + args);
}

std::string collect_dataset(const TempDir &dir, const std::string &name, int episodes, int steps,
                            int seed, const std::string &env) {
  std::string path = dir.file(name);
  RunResult r = run_bin("mbrl_collect", (env.empty() ? "" : "--env " + env + " ") + "--out '" +
                                            path + "' --episodes " + std::to_string(episodes) +
                                            " --max-steps " + std::to_string(steps) +
                                            " --seed " + std::to_string(seed));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

bool has(const std::string &s, const std::string &sub) { return s.find(sub) != std::string::npos; }

double json_num(const std::string &js, const std::string &key) {
  size_t p = js.find("\"" + key + "\": ");
  if (p == std::string::npos) return NAN;
  const char *s = js.c_str() + p + key.size() + 4;
  if (!std::strncmp(s, "null", 4)) return NAN;
  return std::strtod(s, nullptr);
}

std::vector<double> json_arr(const std::string &js, const std::string &key, size_t from) {
  std::vector<double> v;
  size_t p = js.find("\"" + key + "\": [", from);
  if (p == std::string::npos) return v;
  const char *s = js.c_str() + p + key.size() + 5;
  while (*s && *s != ']') {
    char *end;
    double x = std::strtod(s, &end);
    if (end == s) break;
    v.push_back(x);
    s = end;
    while (*s == ',' || *s == ' ') ++s;
  }
  return v;
}

TempDir::TempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mbrl_test_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char *p = mkdtemp(buf.data());
  if (!p) {
    std::perror("mkdtemp");
    std::abort();
  }
  path = p;
}

TempDir::~TempDir() {
  std::string cmd = "chmod -R u+rwx '" + path + "' 2>/dev/null; rm -rf '" + path + "'";
  if (std::system(cmd.c_str()) != 0) {
    // best effort
  }
}

bool file_exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> list_dir(const std::string &path) {
  std::vector<std::string> names;
  DIR *d = opendir(path.c_str());
  if (!d) return names;
  while (struct dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

double worst_ratio(const float *a, const float *b, size_t n, double atol, double rtol) {
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs((double)a[i] - (double)b[i]);
    double tol = atol + rtol * std::fabs((double)b[i]);
    double r = std::isfinite(d) ? d / tol : INFINITY;
    if (!(r <= worst)) worst = r;
  }
  return worst;
}

std::vector<float> randn(size_t n, unsigned seed, float scale, float shift) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(shift, scale);
  std::vector<float> v(n);
  for (auto &x : v) x = d(g);
  return v;
}

void expect_close(const char *what, const std::vector<float> &got, const std::vector<double> &want,
                  double atol, double rtol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::vector<float> w(want.begin(), want.end());
  double r = worst_ratio(got.data(), w.data(), got.size(), atol, rtol);
  std::printf("  %-40s worst err/tol = %.4f\n", what, r);
  EXPECT_LE(r, 1.0) << what;
}

void pendulum_data(mbrl_dataset *ds, int episodes, int steps, uint64_t seed) {
  ASSERT_EQ(mbrl_dataset_init(ds, "Pendulum-v1", 3, 1), MBRL_OK);
  float obs[3], next[3], act[1], r;
  for (int e = 0; e < episodes; ++e) {
    mbrl_env env;
    ASSERT_EQ(mbrl_env_init(&env, "Pendulum-v1", seed, (uint64_t)e), MBRL_OK);
    mbrl_philox rng;
    mbrl_philox_init(&rng, seed, (1ULL << 32) + (uint64_t)e, 0);
    mbrl_env_reset(&env, obs);
    for (int t = 0; t < steps; ++t) {
      int term, trunc;
      act[0] = mbrl_philox_range_float(&rng, -2.0f, 2.0f);
      mbrl_env_step(&env, act, next, &r, &term, &trunc);
      ASSERT_EQ(mbrl_dataset_add(ds, obs, act, next, r, 0, t == steps - 1), MBRL_OK);
      std::memcpy(obs, next, sizeof obs);
    }
  }
  ds->episodes = episodes;
  ASSERT_EQ(mbrl_dataset_compute_stats(ds), MBRL_OK);
}


}  // namespace mbrl_test
