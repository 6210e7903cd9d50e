// tests/test_a2c_cli.cpp - runs the built mbrl_a2c: JSON summary, determinism, --save/--load
// round trip, --logdir files, the ensemble with evolution, every bad-input case with its exit
// code and message, and (Slow) one seed reaching a mean greedy return >= 475 within 500k steps.
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/h5util.h"
}

using mbrl_test::has;
using mbrl_test::json_num;
using mbrl_test::RunResult;
using mbrl_test::TempDir;

namespace {

RunResult a2c(const std::string &args) { return mbrl_test::run_bin("mbrl_a2c", args); }

// The "evals" list as (steps, mean) pairs.
std::vector<std::pair<double, double>> json_evals(const std::string &j) {
  std::vector<std::pair<double, double>> out;
  size_t p = j.find("\"evals\": [");
  if (p == std::string::npos) return out;
  p += 10;
  while (j[p] == '[' || j[p] == ',' || j[p] == ' ') {
    if (j[p] != '[') {
      ++p;
      continue;
    }
    char *e;
    const double s = std::strtod(j.c_str() + p + 1, &e);
    const double m = std::strtod(e + 1, &e);
    out.emplace_back(s, m);
    p = (size_t)(e - j.c_str()) + 1;
  }
  return out;
}

void expect_usage_error(const std::string &args, const std::string &msg) {
  RunResult r = a2c(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_TRUE(has(r.err, "mbrl_a2c: error: ")) << r.err;
  EXPECT_TRUE(has(r.err, msg)) << args << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace

TEST(A2cCli, HelpAndVersion) {
  RunResult r = a2c("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char *f : {"--env", "--algo", "--steps", "--ensemble", "--evolve-every",
                        "--mutation-std", "--crossover", "--eval-every", "--save", "--load",
                        "--logdir", "--json", "--device", "--gae-lambda", "--max-grad-norm",
                        "--rms-eps", "--vf-coef", "--ent-coef", "--force"})
    EXPECT_TRUE(has(r.out, f)) << f;
  r = a2c("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(has(r.out, "mbrl_a2c")) << r.out;
}

TEST(A2cCli, JsonSummaryAndDeterminism) {
  const std::string args = "--steps 2000 --eval-every 800 --eval-episodes 3 --seed 7 --json "
                           "--device cpu";
  RunResult r = a2c(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_num(r.out, "env_steps"), 2000);
  EXPECT_GT(json_num(r.out, "wall_seconds"), 0.0);
  const auto ev = json_evals(r.out);
  ASSERT_EQ(ev.size(), 3u) << r.out;  // 800, 1600, final 2000
  EXPECT_EQ(ev[0].first, 800);
  EXPECT_EQ(ev[1].first, 1600);
  EXPECT_EQ(ev[2].first, 2000);
  double best = 0;
  for (auto &e : ev) best = std::max(best, e.second);
  EXPECT_EQ(json_num(r.out, "best_eval_mean"), best);
  EXPECT_EQ(json_num(r.out, "final_eval_mean"), ev[2].second);
  EXPECT_TRUE(has(r.out, "\"device\": \"cpu\"")) << r.out;
  RunResult r2 = a2c(args);
  ASSERT_EQ(r2.exit_code, 0);
  EXPECT_EQ(json_evals(r2.out), ev);
  // the text summary goes to stdout, progress and evals to stderr
  RunResult t = a2c("--steps 400 --eval-every 0 --eval-episodes 2");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_TRUE(has(t.out, "final eval mean return")) << t.out;
  EXPECT_TRUE(has(t.err, "eval at 400 steps")) << t.err;
}

TEST(A2cCli, SaveThenLoadEvaluatesTheSamePolicy) {
  TempDir dir;
  const std::string p = dir.file("policy.h5");
  RunResult r = a2c("--steps 800 --eval-every 0 --eval-episodes 4 --seed 3 --json --save " + p);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(mbrl_test::file_exists(p));
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"policy.h5"});
  // --steps 0 only evaluates: same weights, same evaluation streams -> same mean
  RunResult l = a2c("--steps 0 --eval-episodes 4 --seed 3 --json --load " + p);
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(json_num(l.out, "env_steps"), 0);
  EXPECT_EQ(json_num(l.out, "final_eval_mean"), json_num(r.out, "final_eval_mean")) << r.out << l.out;
  // PyTorch names and root attributes
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t d[2] = {64, 4};
  EXPECT_EQ(mbrl_h5_check_f32(f, "p", "/actor/network/0/weight", 2, d), MBRL_OK);
  EXPECT_EQ(mbrl_h5_check_format(f, "p", "mbrl.policy", 2), MBRL_OK);
  H5Fclose(f);
}

// An existing --save FILE is refused before any training unless --force (as mbrl_collect and
// mbrl_train do), and the refused file keeps its bytes.
TEST(A2cCli, SaveRefusesAnExistingFileUnlessForce) {
  TempDir dir;
  const std::string p = dir.file("policy.h5");
  // not a policy at all: refused, untouched, nothing trained or printed on stdout
  std::ofstream(p) << "precious notes\n";
  RunResult r = a2c("--steps 400 --eval-every 200 --eval-episodes 1 --save " + p);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(has(r.err, "mbrl_a2c: error: --save: '" + p + "' already exists")) << r.err;
  EXPECT_TRUE(has(r.err, "--force")) << r.err;
  EXPECT_TRUE(has(r.err, "another name")) << r.err;
  EXPECT_FALSE(has(r.err, "eval at")) << r.err;
  EXPECT_FALSE(has(r.err, "on CartPole-v1")) << r.err;  // refused before the trainer starts
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(mbrl_test::read_file(p), "precious notes\n");
  // a real policy file: a second run with another seed leaves it byte for byte as it was
  std::remove(p.c_str());
  ASSERT_EQ(a2c("--steps 200 --eval-episodes 1 --seed 1 --save " + p).exit_code, 0);
  const std::string saved = mbrl_test::read_file(p);
  ASSERT_FALSE(saved.empty());
  r = a2c("--steps 200 --eval-episodes 1 --seed 2 --json --save " + p);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(has(r.err, "already exists")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(mbrl_test::read_file(p), saved);
  // --force overwrites it with the new run's policies (and leaves no temporary file)
  r = a2c("--steps 200 --eval-episodes 1 --seed 2 --json --force --save " + p);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(mbrl_test::read_file(p), saved);
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"policy.h5"});
  RunResult l = a2c("--steps 0 --eval-episodes 1 --seed 2 --json --load " + p);
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(json_num(l.out, "final_eval_mean"), json_num(r.out, "final_eval_mean"));
}

TEST(A2cCli, EnsembleWithEvolutionSavesEveryModel) {
  TempDir dir;
  const std::string p = dir.file("ens.h5");
  RunResult r = a2c("--ensemble 4 --evolve-every 400 --mutation-std 0.02 --crossover --steps 1200 "
                    "--eval-every 0 --eval-episodes 2 --json --save " + p);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_num(r.out, "ensemble"), 4);
  EXPECT_EQ(json_num(r.out, "evolutions"), 3);
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t d[2] = {2, 64};
  EXPECT_EQ(mbrl_h5_check_f32(f, "p", "/models/3/actor/network/4/weight", 2, d), MBRL_OK);
  H5Fclose(f);
  // the file's ensemble size is the default for --load; a different one is refused
  RunResult l = a2c("--steps 0 --eval-episodes 2 --json --load " + p);
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(json_num(l.out, "ensemble"), 4);
  RunResult bad = a2c("--steps 0 --ensemble 5 --load " + p);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(has(bad.err, "--ensemble 4")) << bad.err;
  // bare --ensemble means 20
  RunResult e20 = a2c("--ensemble --steps 40 --eval-episodes 1 --json");
  ASSERT_EQ(e20.exit_code, 0) << e20.err;
  EXPECT_EQ(json_num(e20.out, "ensemble"), 20);
}

TEST(A2cCli, ReinforceRuns) {
  RunResult r = a2c("--algo reinforce --steps 2000 --eval-every 0 --eval-episodes 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"algo\": \"reinforce\"")) << r.out;
  EXPECT_EQ(json_num(r.out, "n_steps"), 50);
}

TEST(A2cCli, LogdirHasCsvAndTensorBoardFiles) {
  TempDir dir;
  RunResult r = a2c("--steps 8000 --eval-every 4000 --eval-episodes 2 --logdir " + dir.file("log"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = mbrl_test::read_file(dir.file("log/metrics.csv"));
  EXPECT_TRUE(has(csv, "step,tag,value")) << csv;
  EXPECT_TRUE(has(csv, ",eval/mean_reward,")) << csv;
  EXPECT_TRUE(has(csv, "4000,eval/mean_reward,")) << csv;
  EXPECT_TRUE(has(csv, ",train/value_loss,")) << csv;
  EXPECT_TRUE(has(csv, ",rollout/ep_rew_mean,")) << csv;
  bool tf = false;
  for (auto &n : mbrl_test::list_dir(dir.file("log"))) tf |= has(n, "events.out.tfevents.");
  EXPECT_TRUE(tf);
}

TEST(A2cCli, BadFlagsAreUsageErrors) {
  expect_usage_error("--env MountainCar-v9", "CartPole-v1");
  expect_usage_error("--env Pendulum-v1", "continuous");
  expect_usage_error("--steps abc", "--steps");
  expect_usage_error("--steps -5", "--steps");
  expect_usage_error("--envs 0", "--envs");
  expect_usage_error("--gamma 1.5", "--gamma");
  expect_usage_error("--lr 0", "--lr");
  expect_usage_error("--algo ppo", "--algo");
  expect_usage_error("--device gpu", "--device");
  expect_usage_error("--hidden 64,x", "--hidden");
  expect_usage_error("--ensemble 1", "--ensemble");
  expect_usage_error("--evolve-every 1000", "needs an ensemble");
  expect_usage_error("--ensemble 4 --mutation-std 0.1", "--evolve-every");
  expect_usage_error("--evolve-frac 1.5 --ensemble 3 --evolve-every 10", "--evolve-frac");
  expect_usage_error("--frobnicate", "unknown option");
  expect_usage_error("stray", "unexpected argument");
  expect_usage_error("--save", "missing value");
  expect_usage_error("--force", "--save FILE");
}

TEST(A2cCli, BadFilesAreRuntimeErrors) {
  TempDir dir;
  // missing --load file
  RunResult r = a2c("--steps 0 --load " + dir.file("missing.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "mbrl_a2c: error: --load: ")) << r.err;
  EXPECT_TRUE(has(r.err, "missing.h5")) << r.err;
  // not HDF5
  std::ofstream(dir.file("junk.h5")) << "not an hdf5 file\n";
  r = a2c("--steps 0 --load " + dir.file("junk.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "junk.h5")) << r.err;
  // a damaged (truncated) policy file
  const std::string p = dir.file("policy.h5");
  ASSERT_EQ(a2c("--steps 40 --eval-episodes 1 --save " + p).exit_code, 0);
  const std::string bytes = mbrl_test::read_file(p);
  std::ofstream(dir.file("cut.h5"), std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  r = a2c("--steps 0 --load " + dir.file("cut.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "cut.h5")) << r.err;
  // an HDF5 file of another kind
  hid_t f = H5Fcreate(dir.file("other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  ASSERT_EQ(mbrl_h5_attr_write_str(f, "format", "mbrl.dataset"), MBRL_OK);
  ASSERT_EQ(mbrl_h5_attr_write_i64(f, "format_version", 1), MBRL_OK);
  H5Fclose(f);
  r = a2c("--steps 0 --load " + dir.file("other.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "mbrl.policy")) << r.err;
  // a policy of another algorithm
  r = a2c("--steps 0 --algo reinforce --load " + p);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "--algo a2c")) << r.err;
  // --save into a missing directory fails before training
  r = a2c("--steps 400 --save " + dir.file("no/such/dir/p.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "--save")) << r.err;
  EXPECT_FALSE(has(r.err, "eval at")) << r.err;
}

TEST(A2cCli, DeviceCudaWithoutGpuSaysSo) {
  if (mbrl_cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present";
  RunResult r = a2c("--steps 40 --device cuda");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "mbrl_a2c: error: --device cuda")) << r.err;
}

// Issue 5's quality bar for one seed: mean greedy return over 10 episodes >= 475 within
// 500,000 env steps (it stops at the first such evaluation; ~10 s here).
TEST(A2cCliSlow, Seed0Reaches475Within500kSteps) {
  RunResult r = a2c("--steps 500000 --seed 0 --eval-every 10000 --eval-episodes 10 "
                    "--stop-return 475 --json --quiet --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(json_num(r.out, "best_eval_mean"), 475.0) << r.out;
  EXPECT_LE(json_num(r.out, "env_steps"), 500000.0);
}
