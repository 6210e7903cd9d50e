// tests/test_paths.cpp - how test programs find the built programs, the source tree, the test
// data and Python (testing_paths.h): the environment first, then the compiled paths when the
// program runs from its build tree, else paths relative to the moved program (the GPU bundle).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "testing.h"

using mbrl_test::has;
using mbrl_test::run;
using mbrl_test::RunResult;
using mbrl_test::TempDir;

namespace {

// Unsets the four variables for a child, whatever the parent's environment holds (gpu-check
// sets them all).
const char *kClean =
    "env -u MBRL_BIN_DIR -u MBRL_SOURCE_DIR -u MBRL_TEST_DATA_DIR -u MBRL_PYTHON ";

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return buf;
}

std::string dir_of(const std::string &p) { return p.substr(0, p.rfind('/')); }

std::string real(const std::string &p) {
  char *r = realpath(p.c_str(), nullptr);
  std::string s = r ? r : p;
  std::free(r);
  return s;
}

// What the program at `exe` resolves, run with the environment prefix `env`.
std::string resolved(const std::string &env, const std::string &exe) {
  RunResult r = run(env + "'" + exe + "' --gtest_filter=TestPaths.PrintResolved");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return r.out;
}

std::string line(const std::string &key, const std::string &value) {
  return key + "=" + value + "\n";
}

}  // namespace

// Prints the four paths; the other tests run this test in a child program.
TEST(TestPaths, PrintResolved) {
  std::printf("MBRL_BIN_DIR=%s\nMBRL_SOURCE_DIR=%s\nMBRL_TEST_DATA_DIR=%s\nMBRL_PYTHON=%s\n",
              MBRL_BIN_DIR, MBRL_SOURCE_DIR, MBRL_TEST_DATA_DIR, MBRL_PYTHON);
}

TEST(TestPaths, BuildTreeUsesTheCompiledPaths) {
  const std::string exe = self_exe();
  if (real(dir_of(exe)) != real(MBRL_BIN_DIR_DEFAULT))
    GTEST_SKIP() << "not running from the build tree (" << exe << ")";
  std::string out = resolved(kClean, exe);
  EXPECT_TRUE(has(out, line("MBRL_BIN_DIR", MBRL_BIN_DIR_DEFAULT))) << out;
  EXPECT_TRUE(has(out, line("MBRL_SOURCE_DIR", MBRL_SOURCE_DIR_DEFAULT))) << out;
  EXPECT_TRUE(has(out, line("MBRL_TEST_DATA_DIR", MBRL_TEST_DATA_DIR_DEFAULT))) << out;
  EXPECT_TRUE(has(out, line("MBRL_PYTHON", MBRL_PYTHON_DEFAULT))) << out;
}

TEST(TestPaths, MovedProgramLooksBesideItself) {
  TempDir dir;
  ASSERT_EQ(run("mkdir -p '" + dir.path + "/b/bin' && cp '" + self_exe() + "' '" + dir.path +
                "/b/bin/t'").exit_code, 0);
  const std::string bin = real(dir.path) + "/b/bin";
  std::string out = resolved(kClean, bin + "/t");
  EXPECT_TRUE(has(out, line("MBRL_BIN_DIR", bin))) << out;
  EXPECT_TRUE(has(out, line("MBRL_SOURCE_DIR", bin + "/.."))) << out;
  EXPECT_TRUE(has(out, line("MBRL_TEST_DATA_DIR", bin + "/../tests/data"))) << out;
  EXPECT_TRUE(has(out, line("MBRL_PYTHON", MBRL_PYTHON_DEFAULT))) << out;
}

TEST(TestPaths, EnvironmentWins) {
  TempDir dir;
  ASSERT_EQ(run("mkdir -p '" + dir.path + "/bin' && cp '" + self_exe() + "' '" + dir.path +
                "/bin/t'").exit_code, 0);
  for (const std::string &exe : {self_exe(), dir.path + "/bin/t"}) {
    std::string out = resolved(std::string(kClean) +
                                   "MBRL_BIN_DIR=/b MBRL_SOURCE_DIR=/s MBRL_TEST_DATA_DIR=/d "
                                   "MBRL_PYTHON=/p/python3 ",
                               exe);
    EXPECT_TRUE(has(out, "MBRL_BIN_DIR=/b\nMBRL_SOURCE_DIR=/s\nMBRL_TEST_DATA_DIR=/d\n"
                         "MBRL_PYTHON=/p/python3\n"))
        << exe << ": " << out;
    // the data folder follows MBRL_SOURCE_DIR when only that one is given
    out = resolved(std::string(kClean) + "MBRL_SOURCE_DIR=/s ", exe);
    EXPECT_TRUE(has(out, line("MBRL_TEST_DATA_DIR", "/s/tests/data"))) << exe << ": " << out;
    // an empty variable counts as unset
    out = resolved(std::string(kClean) + "MBRL_BIN_DIR= ", exe);
    EXPECT_FALSE(has(out, "MBRL_BIN_DIR=\n")) << exe << ": " << out;
  }
}
