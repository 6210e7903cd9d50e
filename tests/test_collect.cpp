// mbrl_collect_random (mbrl/collect.h) against the mbrl_collect program: the same episodes,
// row for row and bit for bit, for a continuous and a discrete env; argument checks.
#include <cstring>

#include "testing.h"

extern "C" {
#include "mbrl/collect.h"
#include "mbrl/dataset.h"
}

using namespace mbrl_test;

static void expect_same_rows(const mbrl_dataset &a, const mbrl_dataset &b) {
  ASSERT_EQ(a.n, b.n);
  ASSERT_EQ(a.obs_dim, b.obs_dim);
  ASSERT_EQ(a.act_dim, b.act_dim);
  const size_t O = (size_t)a.obs_dim, A = (size_t)a.act_dim;
  EXPECT_EQ(0, memcmp(a.observations, b.observations, a.n * O * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.actions, b.actions, a.n * A * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.next_observations, b.next_observations, a.n * O * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.rewards, b.rewards, a.n * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.terminals, b.terminals, a.n));
  EXPECT_EQ(0, memcmp(a.timeouts, b.timeouts, a.n));
}

static void check_env(const char *env, int episodes, long max_steps, int seed) {
  TempDir dir;
  const std::string path = dir.file("d.h5");
  RunResult r = run_bin("mbrl_collect", std::string("--env ") + env + " --episodes " +
                                            std::to_string(episodes) + " --max-steps " +
                                            std::to_string(max_steps) + " --seed " +
                                            std::to_string(seed) + " --out " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  mbrl_dataset file;
  ASSERT_EQ(mbrl_dataset_load(&file, path.c_str()), MBRL_OK) << mbrl_last_error();
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, env, file.obs_dim, file.act_dim), MBRL_OK);
  // two calls (first_episode continues the count) give the same rows as one run
  std::vector<double> ret(episodes);
  std::vector<long> len(episodes);
  const int first = episodes / 2;
  ASSERT_EQ(mbrl_collect_random(&ds, env, first, max_steps, seed, 0, ret.data(), len.data()),
            MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_collect_random(&ds, env, episodes - first, max_steps, seed, first,
                                ret.data() + first, len.data() + first),
            MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(ds.episodes, episodes);
  expect_same_rows(ds, file);
  long total = 0;
  for (long l : len) total += l;
  EXPECT_EQ((size_t)total, ds.n);
  mbrl_dataset_free(&ds);
  mbrl_dataset_free(&file);
}

TEST(Collect, PendulumEqualsTheProgram) { check_env("Pendulum-v1", 3, 50, 7); }

TEST(Collect, CartPoleEqualsTheProgram) { check_env("CartPole-v1", 4, 500, 11); }

TEST(Collect, RefusesBadArguments) {
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "Pendulum-v1", 3, 1), MBRL_OK);
  EXPECT_EQ(mbrl_collect_random(&ds, "NoSuchEnv-v0", 1, 0, 0, 0, nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "NoSuchEnv-v0"));
  EXPECT_EQ(mbrl_collect_random(&ds, "Pendulum-v1", 0, 0, 0, 0, nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_collect_random(&ds, "CartPole-v1", 1, 0, 0, 0, nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "CartPole-v1"));
  EXPECT_EQ(ds.n, 0u);
  EXPECT_EQ(mbrl_collect_random(nullptr, "Pendulum-v1", 1, 0, 0, 0, nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
  mbrl_dataset_free(&ds);
}
