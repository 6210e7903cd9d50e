// tests/test_collect_cli.cpp - runs the built mbrl_collect: defaults, CartPole, determinism,
// episode starts == Gymnasium's resets (numpy golden file), --append / --force / --json, and every bad-input case with exit code, message and the files
// left on disk.
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "nprandom_golden.h"
#include "testing.h"

extern "C" {
#include "mbrl/dataset.h"
#include "mbrl/h5util.h"
}

using mbrl_test::has;
using mbrl_test::list_dir;
using mbrl_test::read_file;
using mbrl_test::RunResult;
using mbrl_test::TempDir;

namespace {

// Run mbrl_collect with `args` from directory `cwd`.
RunResult collect(const std::string &cwd, const std::string &args) {
  return mbrl_test::run("cd '" + cwd + "' && '" + mbrl_test::bin("mbrl_collect") + "' " + args);
}

int count_of(const std::string &s, const std::string &sub) {
  int n = 0;
  for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + 1)) ++n;
  return n;
}

// A dataset file of `episodes` Pendulum episodes of length `steps` made by mbrl_collect in dir.
std::string make_file(const TempDir &dir, const std::string &name, const std::string &extra) {
  RunResult r = collect(dir.path, "--out " + name + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir.file(name);
}

}  // namespace

TEST(CollectCli, DefaultsGive4000PendulumTransitions) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.file("data").c_str(), 0755), 0);
  RunResult r = collect(dir.path, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(list_dir(dir.file("data")), std::vector<std::string>{"pendulum_random.h5"});
  EXPECT_EQ(count_of(r.err, " finished, reward: "), 20) << r.err;
  EXPECT_TRUE(has(r.err, "Episode 0 finished, reward: ")) << r.err;
  EXPECT_TRUE(has(r.err, "Episode 19 finished, reward: ")) << r.err;
  EXPECT_TRUE(has(r.err, "length: 200")) << r.err;
  EXPECT_TRUE(has(r.out, "Number of transitions: 4000")) << r.out;
  EXPECT_TRUE(has(r.out, "The state mean:")) << r.out;
  EXPECT_TRUE(has(r.out, "The action std:")) << r.out;

  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, dir.file("data/pendulum_random.h5").c_str()), MBRL_OK)
      << mbrl_last_error();
  EXPECT_EQ(ds.n, 4000u);
  EXPECT_EQ(ds.episodes, 20);
  EXPECT_EQ(ds.seed, 999u);
  EXPECT_STREQ(ds.env_id, "Pendulum-v1");
  int timeouts = 0, terminals = 0;
  for (size_t i = 0; i < ds.n; ++i) {
    timeouts += ds.timeouts[i];
    terminals += ds.terminals[i];
    EXPECT_EQ(ds.timeouts[i], (i % 200 == 199) ? 1 : 0) << i;
    EXPECT_GE(ds.actions[i], -2.0f);
    EXPECT_LE(ds.actions[i], 2.0f);
    // Within an episode each row starts where the last one ended.
    if (i % 200 != 0) {
      for (int j = 0; j < 3; ++j) ASSERT_EQ(ds.observations[i * 3 + j], ds.next_observations[(i - 1) * 3 + j]);
    }
  }
  EXPECT_EQ(timeouts, 20);
  EXPECT_EQ(terminals, 0);
  // Random torques spread over [-2, 2]: mean near 0, std near 4/sqrt(12).
  EXPECT_NEAR(ds.stats.action_mean[0], 0.0f, 0.1f);
  EXPECT_NEAR(ds.stats.action_std[0], 4.0f / std::sqrt(12.0f), 0.05f);
  mbrl_dataset_stats re;
  ASSERT_EQ(mbrl_dataset_stats_compute(&ds, &re), MBRL_OK);
  EXPECT_EQ(0, memcmp(&re, &ds.stats, sizeof re));
  // Episodes differ from each other (each has its own stream).
  EXPECT_NE(0, memcmp(ds.observations, ds.observations + 200 * 3, 3 * sizeof(float)));
  mbrl_dataset_free(&ds);
}

TEST(CollectCli, CartPoleWorks) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.file("data").c_str(), 0755), 0);
  RunResult r = collect(dir.path, "--env CartPole-v1 --episodes 4 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(list_dir(dir.file("data")), std::vector<std::string>{"cartpole_random.h5"});
  EXPECT_EQ(count_of(r.err, " finished, reward: "), 4);
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, dir.file("data/cartpole_random.h5").c_str()), MBRL_OK)
      << mbrl_last_error();
  EXPECT_STREQ(ds.env_id, "CartPole-v1");
  EXPECT_EQ(ds.obs_dim, 4);
  EXPECT_EQ(ds.episodes, 4);
  int ends = 0, zeros = 0;
  for (size_t i = 0; i < ds.n; ++i) {
    ends += ds.terminals[i] + ds.timeouts[i];
    EXPECT_FALSE(ds.terminals[i] && ds.timeouts[i]);
    EXPECT_TRUE(ds.actions[i] == 0.0f || ds.actions[i] == 1.0f) << ds.actions[i];
    zeros += ds.actions[i] == 0.0f;
    EXPECT_EQ(ds.rewards[i], 1.0f);
  }
  EXPECT_EQ(ends, 4);
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, (int)ds.n);
  // A random policy lets the pole fall long before 500 steps: the episodes end terminated.
  EXPECT_EQ(ds.terminals[ds.n - 1], 1);
  EXPECT_TRUE(has(r.out, "Number of transitions: " + std::to_string(ds.n))) << r.out;
  mbrl_dataset_free(&ds);
}

TEST(CollectCli, MaxStepsCapsEpisodesWithTimeouts) {
  TempDir dir;
  std::string f = make_file(dir, "p.h5", "--episodes 3 --max-steps 7");
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, f.c_str()), MBRL_OK);
  ASSERT_EQ(ds.n, 21u);
  for (size_t i = 0; i < ds.n; ++i) EXPECT_EQ(ds.timeouts[i], i % 7 == 6 ? 1 : 0);
  mbrl_dataset_free(&ds);
  // Beyond the env's own limit (200 for Pendulum) the env truncates.
  f = make_file(dir, "q.h5", "--episodes 1 --max-steps 300");
  ASSERT_EQ(mbrl_dataset_load(&ds, f.c_str()), MBRL_OK);
  EXPECT_EQ(ds.n, 200u);
  EXPECT_EQ(ds.timeouts[199], 1);
  mbrl_dataset_free(&ds);
}

TEST(CollectCli, SameSeedSameBytesOtherSeedOtherData) {
  TempDir dir;
  std::string a = make_file(dir, "a.h5", "--episodes 3 --seed 77");
  std::string b = make_file(dir, "b.h5", "--episodes 3 --seed 77");
  std::string c = make_file(dir, "c.h5", "--episodes 3 --seed 78");
  RunResult cmp = mbrl_test::run("cmp '" + a + "' '" + b + "'");
  EXPECT_EQ(cmp.exit_code, 0) << cmp.out;
  EXPECT_EQ(read_file(a), read_file(b));
  EXPECT_NE(read_file(a), read_file(c));
}

TEST(CollectCli, JsonSummary) {
  TempDir dir;
  RunResult r = collect(dir.path, "--episodes 2 --max-steps 10 --seed 3 --out j.h5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(count_of(r.out, "\n"), 1);
  for (const char *key : {"\"env_id\": \"Pendulum-v1\"", "\"episodes\": 2", "\"transitions\": 20",
                          "\"seed\": 3", "\"out\": \"j.h5\"", "\"episode_return\": {\"mean\": ",
                          "\"min\": ", "\"max\": ", "\"state_mean\": [", "\"delta_state_std\": ["})
    EXPECT_TRUE(has(r.out, key)) << key << " in " << r.out;
  EXPECT_TRUE(has(r.err, "Episode 1 finished")) << r.err;  // progress stays on stderr
  // Python parses it, when a Python is at hand.
  if (access(MBRL_PYTHON, X_OK) == 0) {
    std::ofstream(dir.file("s.json")) << r.out;
    RunResult p = mbrl_test::run(std::string(MBRL_PYTHON) +
                                 " -c \"import json,sys; d=json.load(open('" + dir.file("s.json") +
                                 "')); sys.exit(0 if d['transitions']==20 and "
                                 "len(d['stats']['state_std'])==3 else 1)\"");
    EXPECT_EQ(p.exit_code, 0) << p.err;
  }
}

TEST(CollectCli, AppendContinuesEpisodesAndEqualsOneLongRun) {
  TempDir dir;
  std::string f = make_file(dir, "p.h5", "--episodes 2 --max-steps 50 --seed 9");
  std::string before = read_file(f);
  RunResult r = collect(dir.path, "--out p.h5 --append --episodes 3 --max-steps 50");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "Episode 2 finished")) << r.err;  // numbering continues
  EXPECT_TRUE(has(r.err, "Episode 4 finished")) << r.err;
  EXPECT_FALSE(has(r.err, "Episode 0 finished")) << r.err;
  EXPECT_TRUE(has(r.out, "Number of transitions: 250")) << r.out;
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, f.c_str()), MBRL_OK);
  EXPECT_EQ(ds.n, 250u);
  EXPECT_EQ(ds.episodes, 5);
  EXPECT_EQ(ds.seed, 9u);  // the file's seed was used for the new episodes
  mbrl_dataset_stats re;
  ASSERT_EQ(mbrl_dataset_stats_compute(&ds, &re), MBRL_OK);
  EXPECT_EQ(0, memcmp(&re, &ds.stats, sizeof re));
  // New episodes differ from the old ones.
  EXPECT_NE(0, memcmp(ds.observations, ds.observations + 100 * 3, 50 * 3 * sizeof(float)));
  mbrl_dataset_free(&ds);
  // Appending 3 episodes to 2 gives the same file as collecting 5 at once.
  std::string once = make_file(dir, "once.h5", "--episodes 5 --max-steps 50 --seed 9");
  EXPECT_EQ(read_file(once), read_file(f));
  EXPECT_NE(read_file(f), before);
}

// Episode i starts from Gymnasium's (i+1)-th reset of an env seeded once with --seed
// (reset(seed=S), then reset() per episode), also for episodes added by --append.
static void expect_gym_starts(const std::string &file, const char *id, uint64_t seed,
                              int steps) {
  const npgold::Case *c = nullptr;
  for (const auto &k : npgold::golden().cases)
    if (k.seed_hi == 0 && k.seed_lo == seed) c = &k;
  ASSERT_NE(c, nullptr) << "seed " << seed << " is not in the golden file";
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, file.c_str()), MBRL_OK) << mbrl_last_error();
  const bool pend = std::string(id) == "Pendulum-v1";
  const int O = ds.obs_dim;
  ASSERT_EQ(ds.n, (size_t)c->n_resets * steps) << "every episode runs `steps` steps";
  for (int e = 0; e < c->n_resets; ++e) {
    const float *o = ds.observations + (size_t)e * steps * O;
    if (pend) {
      const double th = c->pendulum[2 * e], td = c->pendulum[2 * e + 1];
      EXPECT_EQ(o[0], (float)std::cos(th)) << file << " episode " << e;
      EXPECT_EQ(o[1], (float)std::sin(th)) << file << " episode " << e;
      EXPECT_EQ(o[2], (float)td) << file << " episode " << e;
    } else {
      for (int k = 0; k < 4; ++k)
        EXPECT_EQ(o[k], (float)c->cartpole[4 * e + k]) << file << " episode " << e << " k " << k;
    }
  }
  mbrl_dataset_free(&ds);
}

TEST(CollectCli, EpisodeStartsAreGymnasiumsResetsAlsoWhenAppended) {
  ASSERT_TRUE(npgold::golden().error.empty()) << npgold::golden().error;
  const int n = npgold::golden().cases.at(0).n_resets;  // 6 episodes in the golden file
  TempDir dir;
  std::string p = make_file(dir, "p.h5", "--episodes " + std::to_string(n) +
                                            " --max-steps 4 --seed 42");
  expect_gym_starts(p, "Pendulum-v1", 42, 4);
  std::string c = make_file(dir, "c.h5", "--env CartPole-v1 --episodes " + std::to_string(n) +
                                            " --max-steps 3 --seed 12345");
  expect_gym_starts(c, "CartPole-v1", 12345, 3);
  std::string a = make_file(dir, "a.h5", "--episodes 2 --max-steps 4 --seed 7");
  RunResult r = collect(dir.path, "--out a.h5 --append --episodes " + std::to_string(n - 2) +
                                      " --max-steps 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_gym_starts(a, "Pendulum-v1", 7, 4);
}

TEST(CollectCli, ForceOverwritesWithoutItTheFileIsKept) {
  TempDir dir;
  std::string f = make_file(dir, "p.h5", "--episodes 1 --max-steps 5 --seed 1");
  std::string before = read_file(f);
  RunResult r = collect(dir.path, "--out p.h5 --episodes 1 --max-steps 5 --seed 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "mbrl_collect: error: 'p.h5' already exists; pass --force")) << r.err;
  EXPECT_EQ(read_file(f), before);
  EXPECT_EQ(list_dir(dir.path), std::vector<std::string>{"p.h5"});
  r = collect(dir.path, "--out p.h5 --episodes 1 --max-steps 5 --seed 2 --force");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_file(f), before);
  EXPECT_EQ(list_dir(dir.path), std::vector<std::string>{"p.h5"});
}

TEST(CollectCli, HelpAndVersion) {
  TempDir dir;
  RunResult r = collect(dir.path, "--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char *s : {"Usage: mbrl_collect", "--env", "--episodes", "--max-steps", "--seed",
                        "--out", "--force", "--append", "--json", "Pendulum-v1", "CartPole-v1"})
    EXPECT_TRUE(has(r.out, s)) << s;
  r = collect(dir.path, "--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(has(r.out, "mbrl_collect (mbrl) ")) << r.out;
  EXPECT_TRUE(list_dir(dir.path).empty());
}

// ------------------------------------------------------------------ usage errors: exit 2

TEST(CollectCli, UsageErrorsExit2AndWriteNothing) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.file("data").c_str(), 0755), 0);
  struct Case {
    const char *args, *want;
  } cases[] = {
      {"--env Pendulum-v0", "--env: 'Pendulum-v0' is not a known environment; use one of: "
                            "Pendulum-v1, CartPole-v1"},
      {"--episodes -1", "--episodes: '-1' is out of range; use an integer in [1, 1000000]"},
      {"--episodes 0", "--episodes: '0' is out of range"},
      {"--episodes ten", "--episodes: 'ten' is not an integer; use an integer in [1, 1000000]"},
      {"--episodes 2.5", "--episodes: '2.5' is not an integer"},
      {"--episodes 99999999999999999999", "--episodes: '99999999999999999999' is out of range"},
      {"--max-steps 0", "--max-steps: '0' is out of range; use an integer in [1, 1000000]"},
      {"--max-steps=abc", "--max-steps: 'abc' is not an integer"},
      {"--seed -5", "--seed: '-5' is not an integer in [0, 18446744073709551615]"},
      {"--seed 18446744073709551616", "--seed: '18446744073709551616' is not an integer in [0, "},
      {"--seed 12abc", "--seed: '12abc' is not an integer in"},
      {"--frobnicate", "unknown option '--frobnicate'"},
      {"--episodes", "--episodes: missing value"},
      {"--out --force", "--out: missing value"},
      {"--force=yes", "--force takes no value"},
      {"stray", "unexpected argument 'stray'"},
      {"--force --append", "--force and --append exclude each other"},
      {"--device gpu", "--device: 'gpu' is not allowed; use one of: auto, cpu, cuda"},
  };
  for (const Case &c : cases) {
    RunResult r = collect(dir.path, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_TRUE(has(r.err, std::string("mbrl_collect: error: ") + c.want))
        << c.args << "\nstderr: " << r.err;
    EXPECT_TRUE(has(r.err, "Try 'mbrl_collect --help'")) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args;
    EXPECT_TRUE(list_dir(dir.file("data")).empty()) << c.args;
  }
  EXPECT_EQ(list_dir(dir.path), std::vector<std::string>{"data"});
}

// ------------------------------------------------------------------ runtime errors: exit 1

TEST(CollectCli, MissingOrUnwritableOutputDirectory) {
  TempDir dir;
  RunResult r = collect(dir.path, "--episodes 1 --out nodir/x.h5");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "mbrl_collect: error: cannot write 'nodir/x.h5': directory 'nodir' does "
                         "not exist"))
      << r.err;
  // Default output needs data/: the message says so.
  r = collect(dir.path, "--episodes 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "directory 'data' does not exist")) << r.err;
  // A path through a regular file.
  std::ofstream(dir.file("plain")) << "x";
  r = collect(dir.path, "--episodes 1 --out plain/x.h5");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "cannot write 'plain/x.h5': 'plain' is not a directory")) << r.err;
  // A directory without write permission (root ignores permission bits: checked only as a user).
  ASSERT_EQ(mkdir(dir.file("ro").c_str(), 0555), 0);
  if (geteuid() != 0) {
    r = collect(dir.path, "--episodes 1 --out ro/x.h5");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(has(r.err, "directory 'ro' is not writable")) << r.err;
  }
  // The output names a directory.
  r = collect(dir.path, "--episodes 1 --out ro --force");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "cannot write 'ro': it is a directory")) << r.err;
  EXPECT_TRUE(list_dir(dir.file("ro")).empty());
  std::vector<std::string> want = {"plain", "ro"};
  EXPECT_EQ(list_dir(dir.path), want);
}

TEST(CollectCli, AppendRefusalsKeepTheFileAndLeaveNoTemporary) {
  TempDir dir;
  // Files to append onto: another env's dataset, a non-mbrl HDF5 file, a truncated dataset,
  // a text file, and one that does not exist.
  std::string cart = make_file(dir, "cart.h5", "--env CartPole-v1 --episodes 2");
  std::string pend = make_file(dir, "pend.h5", "--episodes 2 --max-steps 20");
  {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    hid_t f = H5Fcreate(dir.file("foreign.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hsize_t d[2] = {2, 3};
    float v[6] = {1, 2, 3, 4, 5, 6};
    ASSERT_EQ(mbrl_h5_write_f32(f, "observations", 2, d, v), MBRL_OK);
    H5Fclose(f);
  }
  std::string whole = read_file(pend);
  std::ofstream(dir.file("cut.h5"), std::ios::binary).write(whole.data(), (std::streamsize)whole.size() / 2);
  std::ofstream(dir.file("notes.txt")) << "not a dataset\n";
  std::vector<std::string> names = list_dir(dir.path);
  std::vector<std::string> bytes;
  for (const std::string &n : names) bytes.push_back(read_file(dir.file(n)));

  struct Case {
    std::string args, want;
  } cases[] = {
      {"--append --env Pendulum-v1 --out cart.h5",
       "cannot append Pendulum-v1 episodes to 'cart.h5': it holds CartPole-v1 data"},
      {"--append --out foreign.h5", "'foreign.h5' is not an mbrl.dataset file"},
      {"--append --out cut.h5", "'cut.h5' is damaged: it is truncated"},
      {"--append --out notes.txt", "'notes.txt' is not an HDF5 file"},
      {"--append --out absent.h5", "cannot append to 'absent.h5': it does not exist"},
      {"--out cart.h5", "'cart.h5' already exists; pass --force"},
  };
  for (const Case &c : cases) {
    RunResult r = collect(dir.path, "--episodes 1 " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    EXPECT_TRUE(has(r.err, "mbrl_collect: error: ")) << r.err;
    EXPECT_TRUE(has(r.err, c.want)) << c.args << "\nstderr: " << r.err;
    EXPECT_FALSE(has(r.err, "HDF5-DIAG")) << "HDF5's own error stack leaked: " << r.err;
    EXPECT_EQ(list_dir(dir.path), names) << c.args;  // no temporary, no new file
    for (size_t i = 0; i < names.size(); ++i)
      EXPECT_EQ(read_file(dir.file(names[i])), bytes[i]) << names[i] << " changed by " << c.args;
  }
  // Appending without --env takes the file's env.
  RunResult r = collect(dir.path, "--append --out cart.h5 --episodes 1 --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"env_id\": \"CartPole-v1\"")) << r.out;
  EXPECT_TRUE(has(r.out, "\"episodes\": 3")) << r.out;
}
