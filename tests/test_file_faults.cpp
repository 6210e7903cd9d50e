// tests/test_file_faults.cpp - every kind of save under faults, through the programs (and
// mbrl_mlp_writer, a test helper calling mbrl_mlp_save as the Python package's MLP.save does):
// - a full disk (tests/fault_shim.c, LD_PRELOAD: writes fail with ENOSPC after N bytes) during
//   each save: exit 1, a message naming the file, the old file byte for byte, no temporary;
// - SIGKILL at random moments of a save (the shim slows each write so that the kills land in
//   the save): the target is the old file or the complete new one, byte for byte; a temporary
//   left by the killed writer is removed by the next writer of that file;
// - mbrl_check on sound and damaged files.
#include <signal.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "testing.h"

using mbrl_test::has;
using mbrl_test::list_dir;
using mbrl_test::read_file;
using mbrl_test::TempDir;

namespace {

void write_bytes(const std::string &path, const std::string &bytes) {
  unlink(path.c_str());
  std::ofstream(path, std::ios::binary).write(bytes.data(), (std::streamsize)bytes.size());
}

struct Proc {
  int exit_code;  // -1: killed by a signal
  std::string err;
};

// Start bin(args[0]) with args[1..] in dir, stderr to dir/err.txt, environment extended by env.
pid_t spawn(const std::string &dir, const std::vector<std::string> &args,
            const std::vector<std::string> &env) {
  std::fflush(stdout);  // the child's freopen would flush a copy of our buffer
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    FILE *e = freopen("err.txt", "w", stderr);
    FILE *o = freopen("/dev/null", "w", stdout);
    (void)e, (void)o;
    for (const std::string &kv : env) putenv(strdup(kv.c_str()));
    std::vector<char *> argv;
    std::string exe = mbrl_test::bin(args[0]);
    argv.push_back(const_cast<char *>(exe.c_str()));
    for (size_t i = 1; i < args.size(); ++i) argv.push_back(const_cast<char *>(args[i].c_str()));
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

Proc wait_for(pid_t pid, const std::string &dir) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  Proc p;
  p.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  p.err = read_file(dir + "/err.txt");
  unlink((dir + "/err.txt").c_str());
  return p;
}

std::vector<std::string> shim_env(const std::string &extra) {
  // ASan builds: the shim is not instrumented and comes first in the preload list
  return {std::string("LD_PRELOAD=") + MBRL_FAULT_SHIM, extra, "OMP_NUM_THREADS=1",
          "OPENBLAS_NUM_THREADS=1", "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"};
}

// The files of dir that are temporaries of `name`.
std::vector<std::string> temporaries(const std::string &dir, const std::string &name) {
  std::vector<std::string> t;
  for (const std::string &n : list_dir(dir))
    if (n.rfind(name + ".tmp.", 0) == 0) t.push_back(n);
  return t;
}

// One kind of save: `args(seed)` writes `target` (in the run directory) from `seed`.
struct Saver {
  const char *what;
  std::vector<std::string> (*args)(int seed);
};

// Inputs made once per directory: a dataset and a model for the savers that read them.
void make_inputs(const std::string &dir) {
  ASSERT_EQ(mbrl_test::run_bin("mbrl_collect", "--episodes 3 --max-steps 30 --seed 1 --out '" +
                                                   dir + "/in_data.h5'").exit_code, 0);
  ASSERT_EQ(mbrl_test::run_bin("mbrl_train", "--data '" + dir + "/in_data.h5' --out '" + dir +
                                                 "/in_model.h5' --hidden 8,8 --steps 20 --batch 8 "
                                                 "--device cpu").exit_code, 0);
}

std::vector<std::string> a_collect(int s) {
  return {"mbrl_collect", "--episodes", "3", "--max-steps", "30", "--force", "--seed",
          std::to_string(s), "--out", "target.h5"};
}
std::vector<std::string> a_append(int s) {
  return {"mbrl_collect", "--append", "--episodes", "1", "--max-steps", "20", "--seed",
          std::to_string(s), "--out", "target.h5"};
}
std::vector<std::string> a_train(int s) {
  return {"mbrl_train", "--data", "in_data.h5", "--out", "target.h5", "--force", "--hidden",
          "8,8", "--steps", "20", "--batch", "8", "--device", "cpu", "--seed", std::to_string(s)};
}
std::vector<std::string> a_predict(int) {
  return {"mbrl_train", "--predict", "in_model.h5", "--data", "in_data.h5", "--out", "target.h5",
          "--force", "--device", "cpu"};
}
std::vector<std::string> a_a2c(int s) {
  return {"mbrl_a2c", "--hidden", "8,8", "--steps", "200", "--eval-every", "0", "--eval-episodes",
          "1", "--device", "cpu", "--quiet", "--force", "--save", "target.h5", "--seed",
          std::to_string(s)};
}
std::vector<std::string> a_ensemble(int s) {
  return {"mbrl_a2c", "--ensemble", "3", "--hidden", "8", "--steps", "200", "--eval-every", "0",
          "--eval-episodes", "1", "--device", "cpu", "--quiet", "--force", "--save", "target.h5",
          "--seed", std::to_string(s)};
}
std::vector<std::string> a_dyn_ensemble(int s) {
  return {"mbrl_train", "--data", "in_data.h5", "--out", "target.h5", "--force", "--hidden",
          "8,8", "--steps", "20", "--batch", "8", "--device", "cpu", "--ensemble", "3",
          "--probabilistic", "--seed", std::to_string(s)};
}
std::vector<std::string> a_mlp(int s) { return {"mbrl_mlp_writer", std::to_string(s), "target.h5"}; }
std::vector<std::string> a_record(int s) {
  return {"mbrl_mpc", "--model", "in_model.h5", "--episodes", "1", "--max-steps", "10",
          "--samples", "16", "--horizon", "3", "--device", "cpu", "--force", "--record",
          "target.h5", "--seed", std::to_string(s)};
}
std::vector<std::string> a_append_data(int s) {
  return {"mbrl_mpc", "--model", "in_model.h5", "--episodes", "1", "--max-steps", "10",
          "--samples", "16", "--horizon", "3", "--device", "cpu", "--append-data", "target.h5",
          "--seed", std::to_string(s)};
}

const Saver kSavers[] = {
    {"dataset (mbrl_collect --out)", a_collect},
    {"dataset (mbrl_collect --append)", a_append},
    {"dataset (mbrl_mpc --append-data)", a_append_data},
    {"dynamics checkpoint (mbrl_train --out)", a_train},
    {"dynamics ensemble (mbrl_train --ensemble --out)", a_dyn_ensemble},
    {"mlp (mbrl_mlp_save: MLP.save)", a_mlp},
    {"predictions (mbrl_train --predict --out)", a_predict},
    {"policy (mbrl_a2c --save)", a_a2c},
    {"policy ensemble (mbrl_a2c --ensemble --save)", a_ensemble},
    {"trajectory (mbrl_mpc --record)", a_record},
};

// Run saver s with `seed` to completion in dir (target.h5 starting as `start`); the result.
std::string complete_run(const std::string &dir, const Saver &s, int seed, const std::string &start) {
  write_bytes(dir + "/target.h5", start);
  Proc p = wait_for(spawn(dir, s.args(seed), {"OMP_NUM_THREADS=1"}), dir);
  EXPECT_EQ(p.exit_code, 0) << s.what << ": " << p.err;
  return read_file(dir + "/target.h5");
}

// The old file (what seed 1 makes, or the input dataset where seeds change nothing) and the
// new one (what seed 2 makes from the old one).
void old_and_new(const std::string &dir, const Saver &s, std::string *old, std::string *fresh) {
  const std::string input = read_file(dir + "/in_data.h5");
  *old = complete_run(dir, s, 1, input);
  *fresh = complete_run(dir, s, 2, *old);
  if (*fresh == *old) {
    *old = input;
    *fresh = complete_run(dir, s, 2, *old);
  }
}

}  // namespace

// A full disk during every kind of save: exit 1, the file named, the old file kept, nothing left.
TEST(FullDisk, EverySaveFailsCleanlyAndKeepsTheOldFile) {
  TempDir dir;
  make_inputs(dir.path);
  for (const Saver &s : kSavers) {
    std::string old, fresh;
    old_and_new(dir.path, s, &old, &fresh);
    ASSERT_NE(fresh, old) << s.what;
    const size_t size = fresh.size();
    for (size_t budget : {(size_t)0, (size_t)600, size / 3, size - 600, size - 1}) {
      write_bytes(dir.file("target.h5"), old);
      const std::vector<std::string> before = list_dir(dir.path);
      Proc p = wait_for(spawn(dir.path, s.args(2),
                              shim_env("MBRL_SHIM_FAIL_AFTER=" + std::to_string(budget))),
                        dir.path);
      EXPECT_EQ(p.exit_code, 1) << s.what << ", disk full after " << budget << " bytes: " << p.err;
      EXPECT_TRUE(has(p.err, "target.h5")) << s.what << ": the message does not name the file: "
                                           << p.err;
      EXPECT_FALSE(has(p.err, "HDF5-DIAG")) << p.err;
      EXPECT_TRUE(read_file(dir.file("target.h5")) == old)
          << s.what << ": the old file changed (disk full after " << budget << " bytes)";
      EXPECT_EQ(list_dir(dir.path), before) << s.what << ": a temporary or new file was left";
    }
  }
}

namespace {
// SIGKILL `runs` writers of each kind at uniformly random moments of [0.8 S, 1.2 T] (S: when
// the save's temporary first appeared, T: a whole run with slowed writes; the earliest S and the
// longest T of 3 timed runs). Aiming at the save matters where it is a small part of the run
// (mbrl_mpc --append-data plans an episode first): with kills spread over the whole run, a busy
// machine let too few of them land inside it. After each kill the target is the old or the new
// file, byte for byte. Kills that left a temporary (inside the save) must occur; the next
// complete run removes every temporary.
void kill_test(int runs) {
  TempDir dir;
  make_inputs(dir.path);
  std::mt19937 rng(15);
  std::vector<std::string> env = shim_env("MBRL_SHIM_SLOW_US=200");
  env.push_back("MBRL_SHIM_CHUNK=256");  // many short writes: kills land inside the writing
  int partial_total = 0, in_save_total = 0;
  for (const Saver &s : kSavers) {
    std::string old, fresh;
    old_and_new(dir.path, s, &old, &fresh);
    ASSERT_NE(fresh, old) << s.what;
    // when the save starts (its temporary appears) and how long a whole run takes with slow
    // writes (the earliest start and the longest run of 3: the machine is shared)
    double S = 1e9, T = 0.0;
    for (int k = 0; k < 3; ++k) {
      write_bytes(dir.file("target.h5"), old);
      for (const std::string &t : temporaries(dir.path, "target.h5")) unlink(dir.file(t).c_str());
      const auto t0 = std::chrono::steady_clock::now();
      auto since = [&t0] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      };
      const pid_t pid = spawn(dir.path, s.args(2), env);
      int st = 0;
      pid_t w;
      while ((w = waitpid(pid, &st, WNOHANG)) == 0) {
        if (S > since() && !temporaries(dir.path, "target.h5").empty()) S = since();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      T = std::max(T, since());
      ASSERT_EQ(w, pid);
      ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
          << s.what << ": " << read_file(dir.file("err.txt"));
      unlink(dir.file("err.txt").c_str());
      ASSERT_TRUE(read_file(dir.file("target.h5")) == fresh) << s.what << ": not deterministic";
    }
    if (S > T) S = 0.0;  // the temporary was never seen: spread the kills over the whole run
    int kept_old = 0, got_new = 0, in_save = 0, partial = 0;
    std::uniform_real_distribution<double> when(0.8 * S, 1.2 * T);
    for (int i = 0; i < runs; ++i) {
      write_bytes(dir.file("target.h5"), old);
      for (const std::string &t : temporaries(dir.path, "target.h5"))
        unlink(dir.file(t).c_str());  // each run starts clean: count this kill's leftovers
      pid_t pid = spawn(dir.path, s.args(2), env);
      std::this_thread::sleep_for(std::chrono::duration<double>(when(rng)));
      kill(pid, SIGKILL);
      wait_for(pid, dir.path);
      const std::string now = read_file(dir.file("target.h5"));
      ASSERT_TRUE(now == old || now == fresh)
          << s.what << ": after a SIGKILL the target is neither the old nor the new file (run "
          << i << ", " << now.size() << " bytes)";
      (now == old ? kept_old : got_new)++;
      const std::vector<std::string> left = temporaries(dir.path, "target.h5");
      ASSERT_LE(left.size(), 1u);
      if (!left.empty()) {
        ASSERT_EQ(left[0], "target.h5.tmp." + std::to_string(pid)) << "not the killed writer's";
        in_save++;
        const size_t sz = read_file(dir.file(left[0])).size();
        if (sz > 0 && sz < fresh.size()) partial++;
      }
    }
    std::printf("  %-48s S %.3f s, T %.3f s: %d kills kept the old file (%d inside the save: a "
                "temporary left, %d of them half written), %d found the new one\n",
                s.what, S, T, kept_old, in_save, partial, got_new);
    partial_total += partial;
    in_save_total += in_save;
    // the next writer removes the killed writer's temporary
    write_bytes(dir.file("target.h5"), old);
    Proc p = wait_for(spawn(dir.path, s.args(2), {"OMP_NUM_THREADS=1"}), dir.path);
    EXPECT_EQ(p.exit_code, 0) << p.err;
    EXPECT_TRUE(read_file(dir.file("target.h5")) == fresh);
    EXPECT_TRUE(temporaries(dir.path, "target.h5").empty()) << s.what << ": a temporary is left";
  }
  // Whether a kill lands inside a save is timing: a kind whose save takes a millisecond (the
  // predictions file) can see none of its kills there on one run (0 of 100 on a loaded
  // machine) and 20 on the next, so the count is asserted over all kinds together.
  EXPECT_GE(in_save_total, runs / 4) << "too few kills landed inside a save";
  EXPECT_GE(partial_total, runs / 10) << "too few kills landed while the file was being written";
}
}  // namespace

TEST(CrashConsistency, SigkillDuringSavesQuick) { kill_test(12); }

// The 100 runs of every kind (Release build only: *Slow*).
TEST(CrashConsistency, SigkillDuringSaves100RunsPerKindSlow) { kill_test(100); }

// ------------------------------------------------------------------ mbrl_check

extern "C" {
#include "mbrl/dataset.h"
}

TEST(CheckCli, SoundOldAndDamagedFiles) {
  TempDir dir;
  const std::string v1 = std::string(MBRL_TEST_DATA_DIR) + "/v1/dataset.h5";
  mbrl_test::RunResult r = mbrl_test::run_bin("mbrl_check", "'" + v1 + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "ok mbrl.dataset v1 unsealed (no checksums to verify): 20 rows")) << r.out;
  // the same rows written by this mbrl: version 2, sealed, the same numbers
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, v1.c_str()), MBRL_OK);
  const std::string v2 = dir.file("v2.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, v2.c_str(), "t"), MBRL_OK);
  mbrl_dataset_free(&ds);
  r = mbrl_test::run_bin("mbrl_check", "--values '" + v1 + "' '" + v2 + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, v2 + ": ok mbrl.dataset v2 sealed (SHA-256 verified)")) << r.out;
  const size_t a = r.out.find("values sha256 "), b = r.out.rfind("values sha256 ");
  ASSERT_NE(a, b) << r.out;
  EXPECT_EQ(r.out.substr(a, 78), r.out.substr(b, 78)) << "v1 and v2 load different numbers";
  // every kind of the old format
  for (const char *k : {"dynamics", "policy", "ensemble", "trajectory"}) {
    r = mbrl_test::run_bin("mbrl_check", "'" + std::string(MBRL_TEST_DATA_DIR) + "/v1/" + k + ".h5'");
    EXPECT_EQ(r.exit_code, 0) << k << ": " << r.err;
  }
  // the formats born sealed: a dynamics ensemble and an MLP
  ASSERT_EQ(mbrl_test::run_bin("mbrl_train", "--data '" + v2 + "' --out '" + dir.file("e.h5") +
                                                 "' --steps 10 --batch 4 --hidden 8 --ensemble 2 "
                                                 "--probabilistic --device cpu").exit_code, 0);
  ASSERT_EQ(mbrl_test::run_bin("mbrl_mlp_writer", "3 '" + dir.file("mlp.h5") + "'").exit_code, 0);
  r = mbrl_test::run_bin("mbrl_check", "--values '" + dir.file("e.h5") + "' '" + dir.file("mlp.h5") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, dir.file("e.h5") + ": ok mbrl.dyn_ensemble v2 sealed (SHA-256 verified): "
                         "2-member probabilistic ensemble for Pendulum-v1")) << r.out;
  EXPECT_TRUE(has(r.out, dir.file("mlp.h5") + ": ok mbrl.mlp v2 sealed")) << r.out;
  // one changed byte: refused, the file named
  std::string bytes = read_file(v2);
  bytes[bytes.size() / 2] ^= 0x10;
  write_bytes(dir.file("bad.h5"), bytes);
  r = mbrl_test::run_bin("mbrl_check", "--json '" + v2 + "' '" + dir.file("bad.h5") + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.out, "\"ok\": true")) << r.out;
  EXPECT_TRUE(has(r.out, "\"ok\": false, \"error\": \"'" + dir.file("bad.h5") + "' is damaged"))
      << r.out;
  EXPECT_EQ(mbrl_test::run_bin("mbrl_check", "").exit_code, 2);
  EXPECT_EQ(mbrl_test::run_bin("mbrl_check", "--nope x").exit_code, 2);
}

// ------------------------------------------------------------------ NaN rows everywhere

// A dataset holding NaN/Inf rows is refused by every program that loads one, naming the
// first bad row; nothing is written.
TEST(NonFiniteCli, EveryDatasetReaderNamesTheFirstBadRow) {
  TempDir dir;
  const std::string good = mbrl_test::collect_dataset(dir, "good.h5", 4, 40);
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, good.c_str()), MBRL_OK);
  ds.rewards[77] = NAN;
  ds.observations[3 * 120] = INFINITY;
  const std::string bad = dir.file("bad.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, bad.c_str(), "t"), MBRL_OK);
  mbrl_dataset_free(&ds);
  ASSERT_EQ(mbrl_test::run_bin("mbrl_train", "--data '" + good + "' --out '" + dir.file("m.h5") +
                                                 "' --steps 20 --batch 16 --device cpu").exit_code, 0);
  ASSERT_EQ(mbrl_test::run_bin("mbrl_train", "--data '" + good + "' --out '" + dir.file("e.h5") +
                                                 "' --steps 20 --batch 16 --ensemble 2 --device cpu")
                .exit_code, 0);
  const std::string before = read_file(bad);
  const std::string want = "'" + bad + "': 2 of 160 rows hold NaN or Inf; the first is row 77 (in /rewards)";
  const std::string cmds[] = {
      "mbrl_collect --append --out '" + bad + "' --episodes 1",
      "mbrl_mpc --model '" + dir.file("m.h5") + "' --episodes 1 --max-steps 3 --samples 8 "
          "--device cpu --append-data '" + bad + "'",
      "mbrl_mpc --iterations 1 --data '" + bad + "' --model '" + dir.file("m2.h5") + "' --device cpu",
      "mbrl_train --eval '" + dir.file("m.h5") + "' --data '" + bad + "' --device cpu",
      "mbrl_train --data '" + bad + "' --out '" + dir.file("m2.h5") + "' --device cpu",
      "mbrl_train --data '" + bad + "' --out '" + dir.file("m2.h5") + "' --ensemble 2 --device cpu",
      "mbrl_train --eval '" + dir.file("e.h5") + "' --data '" + bad + "' --device cpu",
  };
  for (const std::string &c : cmds) {
    const size_t sp = c.find(' ');
    mbrl_test::RunResult r = mbrl_test::run_bin(c.substr(0, sp), c.substr(sp + 1));
    EXPECT_EQ(r.exit_code, 1) << c << ": " << r.err;
    EXPECT_TRUE(has(r.err, want)) << c << ": " << r.err;
    EXPECT_EQ(read_file(bad), before) << c;
    EXPECT_FALSE(mbrl_test::file_exists(dir.file("m2.h5"))) << c;
  }
}
