// tests/test_dataset.cpp - dataset statistics, normalization, sampler, episode split and the
// validating HDF5 load (each refusal with its message).
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/dataset.h"
#include "mbrl/h5util.h"
#include "host/sha256.h"
}

using mbrl_test::TempDir;

namespace {

// A Pendulum-shaped (obs 3, act 1) dataset with episodes of the given lengths; values are a
// deterministic function of the row. Each episode ends with a timeout, except when
// `terminal_last` (then a terminal).
mbrl_dataset make_ds(const std::vector<int> &lengths, bool terminal_last = false) {
  mbrl_dataset ds;
  EXPECT_EQ(mbrl_dataset_init(&ds, "Pendulum-v1", 3, 1), MBRL_OK);
  size_t row = 0;
  for (int len : lengths) {
    for (int t = 0; t < len; ++t, ++row) {
      float o[3] = {std::cos(0.1f * row), std::sin(0.37f * row), 0.01f * (float)(row % 17) - 0.05f};
      float n[3] = {o[0] + 0.02f * (float)(row % 5), o[1] - 0.01f * (float)(row % 3), o[2] * 0.5f};
      float a[1] = {-2.0f + 0.25f * (float)(row % 16)};
      bool last = t + 1 == len;
      EXPECT_EQ(mbrl_dataset_add(&ds, o, a, n, -0.5f * (float)row, last && terminal_last,
                                 last && !terminal_last),
                MBRL_OK);
    }
  }
  ds.episodes = (int)lengths.size();
  ds.seed = 1234567890123ULL;
  EXPECT_EQ(mbrl_dataset_compute_stats(&ds), MBRL_OK);
  return ds;
}

void expect_same_rows(const mbrl_dataset &a, const mbrl_dataset &b) {
  ASSERT_EQ(a.n, b.n);
  ASSERT_EQ(a.obs_dim, b.obs_dim);
  ASSERT_EQ(a.act_dim, b.act_dim);
  size_t O = a.obs_dim, A = a.act_dim, n = a.n;
  EXPECT_EQ(0, memcmp(a.observations, b.observations, n * O * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.actions, b.actions, n * A * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.next_observations, b.next_observations, n * O * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.rewards, b.rewards, n * sizeof(float)));
  EXPECT_EQ(0, memcmp(a.terminals, b.terminals, n));
  EXPECT_EQ(0, memcmp(a.timeouts, b.timeouts, n));
}

std::string bytes_of(const std::string &path) { return mbrl_test::read_file(path); }

}  // namespace

// ------------------------------------------------------------------ statistics

TEST(DatasetStats, MatchHandComputation) {
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "X-v0", 2, 1), MBRL_OK);
  const float obs[3][2] = {{1, 10}, {2, 20}, {4, 60}};
  const float nxt[3][2] = {{2, 10}, {4, 25}, {4, 70}};
  const float act[3] = {-1, 0, 4};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(mbrl_dataset_add(&ds, obs[i], &act[i], nxt[i], 0, 0, 0), MBRL_OK);
  ASSERT_EQ(mbrl_dataset_compute_stats(&ds), MBRL_OK);
  // Column 0: mean 7/3, population variance ((1-7/3)^2+(2-7/3)^2+(4-7/3)^2)/3 = 14/9.
  EXPECT_FLOAT_EQ(ds.stats.state_mean[0], 7.0f / 3.0f);
  EXPECT_FLOAT_EQ(ds.stats.state_std[0], (float)std::sqrt(14.0 / 9.0));
  EXPECT_FLOAT_EQ(ds.stats.state_mean[1], 30.0f);
  EXPECT_FLOAT_EQ(ds.stats.state_std[1], (float)std::sqrt((400.0 + 100.0 + 900.0) / 3.0));
  EXPECT_FLOAT_EQ(ds.stats.action_mean[0], 1.0f);
  EXPECT_FLOAT_EQ(ds.stats.action_std[0], (float)std::sqrt((4.0 + 1.0 + 9.0) / 3.0));
  // Deltas: col0 {1, 2, 0}, col1 {0, 5, 10}.
  EXPECT_FLOAT_EQ(ds.stats.delta_state_mean[0], 1.0f);
  EXPECT_FLOAT_EQ(ds.stats.delta_state_std[0], (float)std::sqrt(2.0 / 3.0));
  EXPECT_FLOAT_EQ(ds.stats.delta_state_mean[1], 5.0f);
  EXPECT_FLOAT_EQ(ds.stats.delta_state_std[1], (float)std::sqrt(50.0 / 3.0));
  mbrl_dataset_free(&ds);
}

TEST(DatasetStats, LargeOffsetIsStable) {
  // Two-pass in double: a constant offset of 1e4 does not wreck a std of 0.5.
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "X-v0", 1, 1), MBRL_OK);
  for (int i = 0; i < 1000; ++i) {
    float o = 10000.0f + (i % 2 ? 0.5f : -0.5f), a = 0;
    ASSERT_EQ(mbrl_dataset_add(&ds, &o, &a, &o, 0, 0, 0), MBRL_OK);
  }
  ASSERT_EQ(mbrl_dataset_compute_stats(&ds), MBRL_OK);
  EXPECT_FLOAT_EQ(ds.stats.state_mean[0], 10000.0f);
  EXPECT_FLOAT_EQ(ds.stats.state_std[0], 0.5f);
  EXPECT_EQ(ds.stats.delta_state_std[0], 0.0f);
  mbrl_dataset_free(&ds);
}

TEST(DatasetStats, EmptyDatasetIsRefused) {
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "Pendulum-v1", 3, 1), MBRL_OK);
  EXPECT_EQ(mbrl_dataset_compute_stats(&ds), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("no transitions"), std::string::npos);
  mbrl_dataset_free(&ds);
}

TEST(Dataset, AddRefusesBadRowsAndGrows) {
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "Pendulum-v1", 3, 1), MBRL_OK);
  float o[3] = {1, 0, 0}, a[1] = {0};
  EXPECT_EQ(mbrl_dataset_add(&ds, o, a, o, 0, 1, 1), MBRL_ERR_INVALID_ARG);
  float bad[3] = {NAN, 0, 0};
  EXPECT_EQ(mbrl_dataset_add(&ds, bad, a, o, 0, 0, 0), MBRL_ERR_NUMERIC);
  EXPECT_EQ(ds.n, 0u);
  for (int i = 0; i < 1000; ++i) {
    o[2] = (float)i;
    ASSERT_EQ(mbrl_dataset_add(&ds, o, a, o, 0, 0, 0), MBRL_OK);
  }
  EXPECT_EQ(ds.n, 1000u);
  EXPECT_GE(ds.capacity, 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(ds.observations[i * 3 + 2], (float)i);
  mbrl_dataset_free(&ds);
  mbrl_dataset_free(&ds);  // twice is safe
  mbrl_dataset d2;
  EXPECT_EQ(mbrl_dataset_init(&d2, "Pendulum-v1", 0, 1), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_dataset_init(&d2, "Pendulum-v1", 3, MBRL_MAX_DIM + 1), MBRL_ERR_INVALID_ARG);
}

TEST(Dataset, GatherGivesRowsAndDeltas) {
  mbrl_dataset ds = make_ds({5, 7});
  size_t idx[3] = {11, 0, 4};
  float o[9], a[3], d[9];
  mbrl_dataset_gather(&ds, idx, 3, o, a, d);
  for (int r = 0; r < 3; ++r) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(o[r * 3 + j], ds.observations[idx[r] * 3 + j]);
      EXPECT_EQ(d[r * 3 + j], ds.next_observations[idx[r] * 3 + j] - ds.observations[idx[r] * 3 + j]);
    }
    EXPECT_EQ(a[r], ds.actions[idx[r]]);
  }
  mbrl_dataset_free(&ds);
}

// ------------------------------------------------------------------ normalization

TEST(Normalize, FormulaAndRoundTrip) {
  const float mean[3] = {0.5f, -2.0f, 10.0f}, std_[3] = {2.0f, 0.25f, 0.0f};
  std::vector<float> x = {1.0f, -1.0f, 10.0f, -3.0f, 4.0f, 12.5f};
  std::vector<float> y(6), z(6);
  mbrl_normalize(y.data(), x.data(), 2, 3, mean, std_);
  for (int i = 0; i < 6; ++i) {
    int j = i % 3;
    EXPECT_EQ(y[i], (x[i] - mean[j]) / (std_[j] + 1e-8f)) << i;
  }
  EXPECT_FLOAT_EQ(y[0], 0.25f);
  EXPECT_FLOAT_EQ(y[1], 4.0f);
  mbrl_unnormalize(z.data(), y.data(), 2, 3, mean, std_);
  for (int i = 0; i < 6; ++i) {
    int j = i % 3;
    EXPECT_EQ(z[i], y[i] * std_[j] + mean[j]) << i;
    if (std_[j] > 0) {
      EXPECT_NEAR(z[i], x[i], 1e-5f * (1 + std::fabs(x[i]))) << i;
    }
  }
  // In place.
  std::vector<float> w = x;
  mbrl_normalize(w.data(), w.data(), 2, 3, mean, std_);
  EXPECT_EQ(0, memcmp(w.data(), y.data(), 6 * sizeof(float)));
}

// ------------------------------------------------------------------ sampler

TEST(Sampler, EachEpochIsAPermutationWithoutRepeats) {
  mbrl_sampler s;
  ASSERT_EQ(mbrl_sampler_init(&s, nullptr, 100, 10, 7), MBRL_OK);
  EXPECT_EQ(mbrl_sampler_batches_per_epoch(&s), 10u);
  std::vector<std::vector<size_t>> epochs;
  for (uint64_t e = 0; e < 3; ++e) {
    if (e) mbrl_sampler_begin_epoch(&s, e);
    std::vector<size_t> seen;
    size_t idx[10];
    int batches = 0;
    while (mbrl_sampler_next(&s, idx)) {
      seen.insert(seen.end(), idx, idx + 10);
      ++batches;
    }
    EXPECT_EQ(batches, 10);
    std::vector<size_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < 100; ++i) ASSERT_EQ(sorted[i], i) << "epoch " << e;
    epochs.push_back(seen);
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
  // Not the identity order.
  std::vector<size_t> ident(100);
  for (size_t i = 0; i < 100; ++i) ident[i] = i;
  EXPECT_NE(epochs[0], ident);
  mbrl_sampler_free(&s);
}

TEST(Sampler, DropsLastPartialBatch) {
  mbrl_sampler s;
  ASSERT_EQ(mbrl_sampler_init(&s, nullptr, 10, 3, 1), MBRL_OK);
  EXPECT_EQ(mbrl_sampler_batches_per_epoch(&s), 3u);
  size_t idx[3];
  std::set<size_t> seen;
  for (int b = 0; b < 3; ++b) {
    ASSERT_EQ(mbrl_sampler_next(&s, idx), 1);
    for (size_t v : idx) EXPECT_TRUE(seen.insert(v).second) << "repeat " << v;
  }
  idx[0] = 12345;
  EXPECT_EQ(mbrl_sampler_next(&s, idx), 0);
  EXPECT_EQ(idx[0], 12345u);
  EXPECT_EQ(seen.size(), 9u);
  mbrl_sampler_free(&s);
}

TEST(Sampler, DeterministicPerSeedAndDifferentAcrossSeeds) {
  auto draw = [](uint64_t seed, uint64_t epoch) {
    mbrl_sampler s;
    EXPECT_EQ(mbrl_sampler_init(&s, nullptr, 257, 16, seed), MBRL_OK);
    mbrl_sampler_begin_epoch(&s, epoch);
    std::vector<size_t> all;
    size_t idx[16];
    while (mbrl_sampler_next(&s, idx)) all.insert(all.end(), idx, idx + 16);
    mbrl_sampler_free(&s);
    return all;
  };
  EXPECT_EQ(draw(42, 3), draw(42, 3));
  EXPECT_NE(draw(42, 3), draw(43, 3));
  EXPECT_NE(draw(42, 3), draw(42, 4));
  EXPECT_EQ(draw(42, 3).size(), 256u);
}

TEST(Sampler, DrawsOnlyFromItsPool) {
  std::vector<size_t> pool = {5, 9, 100, 3, 77, 41, 8};
  mbrl_sampler s;
  ASSERT_EQ(mbrl_sampler_init(&s, pool.data(), pool.size(), 7, 5), MBRL_OK);
  size_t idx[7];
  ASSERT_EQ(mbrl_sampler_next(&s, idx), 1);
  std::vector<size_t> got(idx, idx + 7), want = pool;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  mbrl_sampler_free(&s);
}

TEST(Sampler, RefusesBadSizes) {
  mbrl_sampler s;
  EXPECT_EQ(mbrl_sampler_init(&s, nullptr, 0, 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_sampler_init(&s, nullptr, 50, 128, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("batch size 128"), std::string::npos);
  EXPECT_EQ(mbrl_sampler_init(&s, nullptr, 50, 0, 0), MBRL_ERR_INVALID_ARG);
}

// ------------------------------------------------------------------ episode split

TEST(Split, WholeEpisodesDeterministicAtLeastOneEach) {
  std::vector<int> lens = {5, 3, 8, 1, 6, 4, 7, 2, 9, 5};
  mbrl_dataset ds = make_ds(lens);
  ASSERT_EQ(mbrl_dataset_count_episodes(&ds), 10u);
  std::vector<size_t> episode_of(ds.n);
  {
    size_t row = 0;
    for (size_t e = 0; e < lens.size(); ++e)
      for (int t = 0; t < lens[e]; ++t) episode_of[row++] = e;
  }
  mbrl_dataset_split sp;
  ASSERT_EQ(mbrl_dataset_split_episodes(&ds, 0.2, 11, &sp), MBRL_OK);
  EXPECT_EQ(sp.val_episodes, 2u);
  EXPECT_EQ(sp.train_episodes, 8u);
  EXPECT_EQ(sp.n_train + sp.n_val, ds.n);
  std::set<size_t> val_eps, train_eps;
  for (size_t i = 0; i < sp.n_val; ++i) val_eps.insert(episode_of[sp.val[i]]);
  for (size_t i = 0; i < sp.n_train; ++i) train_eps.insert(episode_of[sp.train[i]]);
  EXPECT_EQ(val_eps.size(), 2u);
  EXPECT_EQ(train_eps.size(), 8u);
  for (size_t e : val_eps) EXPECT_EQ(train_eps.count(e), 0u) << "episode " << e << " in both";
  size_t val_rows = 0;
  for (size_t e : val_eps) val_rows += (size_t)lens[e];
  EXPECT_EQ(val_rows, sp.n_val);  // whole episodes
  for (size_t i = 1; i < sp.n_val; ++i) EXPECT_LT(sp.val[i - 1], sp.val[i]);
  for (size_t i = 1; i < sp.n_train; ++i) EXPECT_LT(sp.train[i - 1], sp.train[i]);

  mbrl_dataset_split sp2, sp3;
  ASSERT_EQ(mbrl_dataset_split_episodes(&ds, 0.2, 11, &sp2), MBRL_OK);
  EXPECT_EQ(std::vector<size_t>(sp.val, sp.val + sp.n_val),
            std::vector<size_t>(sp2.val, sp2.val + sp2.n_val));
  // Some other seed picks other episodes.
  bool differs = false;
  for (uint64_t seed = 12; seed < 20 && !differs; ++seed) {
    ASSERT_EQ(mbrl_dataset_split_episodes(&ds, 0.2, seed, &sp3), MBRL_OK);
    differs = std::vector<size_t>(sp.val, sp.val + sp.n_val) !=
              std::vector<size_t>(sp3.val, sp3.val + sp3.n_val);
    mbrl_dataset_split_free(&sp3);
  }
  EXPECT_TRUE(differs);
  mbrl_dataset_split_free(&sp);
  mbrl_dataset_split_free(&sp2);
  mbrl_dataset_free(&ds);
}

TEST(Split, ClampsToOneEpisodeEachSideAndHandlesOneEpisode) {
  mbrl_dataset two = make_ds({4, 6}, /*terminal_last=*/true);
  mbrl_dataset_split sp;
  ASSERT_EQ(mbrl_dataset_split_episodes(&two, 0.01, 3, &sp), MBRL_OK);  // rounds to 0 -> 1
  EXPECT_EQ(sp.val_episodes, 1u);
  EXPECT_EQ(sp.train_episodes, 1u);
  EXPECT_TRUE(sp.n_val == 4 || sp.n_val == 6);
  mbrl_dataset_split_free(&sp);
  ASSERT_EQ(mbrl_dataset_split_episodes(&two, 0.99, 3, &sp), MBRL_OK);  // rounds to 2 -> 1
  EXPECT_EQ(sp.val_episodes, 1u);
  EXPECT_EQ(sp.train_episodes, 1u);
  mbrl_dataset_split_free(&sp);
  mbrl_dataset_free(&two);

  mbrl_dataset one = make_ds({9});
  ASSERT_EQ(mbrl_dataset_split_episodes(&one, 0.5, 3, &sp), MBRL_OK);
  EXPECT_EQ(sp.n_train, 9u);
  EXPECT_EQ(sp.n_val, 0u);
  mbrl_dataset_split_free(&sp);
  EXPECT_EQ(mbrl_dataset_split_episodes(&one, 1.0, 3, &sp), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_dataset_split_episodes(&one, -0.1, 3, &sp), MBRL_ERR_INVALID_ARG);
  mbrl_dataset_free(&one);
}

TEST(Split, UnfinishedLastEpisodeCounts) {
  mbrl_dataset ds = make_ds({3, 3});
  ds.timeouts[5] = 0;  // the second episode is cut off without a flag
  EXPECT_EQ(mbrl_dataset_count_episodes(&ds), 2u);
  mbrl_dataset_free(&ds);
}

// ------------------------------------------------------------------ HDF5 round trip

TEST(DatasetH5, SaveLoadRoundTripIsExact) {
  TempDir dir;
  mbrl_dataset ds = make_ds({50, 30, 20}, true);
  std::string path = dir.file("d.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, path.c_str(), "test"), MBRL_OK) << mbrl_last_error();
  mbrl_dataset back;
  ASSERT_EQ(mbrl_dataset_load(&back, path.c_str()), MBRL_OK) << mbrl_last_error();
  expect_same_rows(ds, back);
  EXPECT_STREQ(back.env_id, "Pendulum-v1");
  EXPECT_EQ(back.seed, 1234567890123ULL);
  EXPECT_EQ(back.episodes, 3);
  EXPECT_EQ(0, memcmp(&back.stats, &ds.stats, sizeof ds.stats));
  // The stored stats are those recomputed from the stored rows.
  mbrl_dataset_stats re;
  ASSERT_EQ(mbrl_dataset_stats_compute(&back, &re), MBRL_OK);
  EXPECT_EQ(0, memcmp(&back.stats, &re, sizeof re));
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"d.h5"});
  // Same contents, same bytes.
  std::string path2 = dir.file("e.h5");
  ASSERT_EQ(mbrl_dataset_save(&back, path2.c_str(), "test"), MBRL_OK);
  EXPECT_EQ(bytes_of(path), bytes_of(path2));
  mbrl_dataset_free(&back);
  mbrl_dataset_free(&ds);
}

TEST(DatasetH5, SaveStatsComeFromTheRowsNotTheStruct) {
  TempDir dir;
  mbrl_dataset ds = make_ds({10});
  mbrl_dataset_stats good = ds.stats;
  ds.stats.state_mean[0] = 99.0f;  // stale in-memory stats are not written
  std::string path = dir.file("d.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, path.c_str(), nullptr), MBRL_OK);
  mbrl_dataset back;
  ASSERT_EQ(mbrl_dataset_load(&back, path.c_str()), MBRL_OK);
  EXPECT_EQ(0, memcmp(&back.stats, &good, sizeof good));
  mbrl_dataset_free(&back);
  mbrl_dataset_free(&ds);
}

TEST(DatasetH5, AppendFileAddsRowsEpisodesAndRecomputesStats) {
  TempDir dir;
  mbrl_dataset a = make_ds({10, 12});
  mbrl_dataset b = make_ds({7, 7, 7});
  b.observations[0] = 0.75f;  // make b's rows unlike a's
  std::string path = dir.file("d.h5");
  ASSERT_EQ(mbrl_dataset_save(&a, path.c_str(), "t"), MBRL_OK);
  ASSERT_EQ(mbrl_dataset_append_file(path.c_str(), &b, "t"), MBRL_OK) << mbrl_last_error();
  mbrl_dataset back;
  ASSERT_EQ(mbrl_dataset_load(&back, path.c_str()), MBRL_OK);
  EXPECT_EQ(back.n, a.n + b.n);
  EXPECT_EQ(back.episodes, 5);
  mbrl_dataset joined;
  ASSERT_EQ(mbrl_dataset_init(&joined, "Pendulum-v1", 3, 1), MBRL_OK);
  ASSERT_EQ(mbrl_dataset_extend(&joined, &a), MBRL_OK);
  ASSERT_EQ(mbrl_dataset_extend(&joined, &b), MBRL_OK);
  ASSERT_EQ(mbrl_dataset_compute_stats(&joined), MBRL_OK);
  expect_same_rows(joined, back);
  EXPECT_EQ(0, memcmp(&joined.stats, &back.stats, sizeof joined.stats));
  EXPECT_NE(0, memcmp(&a.stats, &back.stats, sizeof a.stats));

  // Another env is refused and the file is untouched.
  std::string before = bytes_of(path);
  mbrl_dataset c;
  ASSERT_EQ(mbrl_dataset_init(&c, "CartPole-v1", 4, 1), MBRL_OK);
  float o[4] = {0, 0, 0, 0}, act[1] = {1};
  ASSERT_EQ(mbrl_dataset_add(&c, o, act, o, 1, 1, 0), MBRL_OK);
  EXPECT_NE(mbrl_dataset_append_file(path.c_str(), &c, "t"), MBRL_OK);
  EXPECT_NE(std::string(mbrl_last_error()).find("holds Pendulum-v1"), std::string::npos)
      << mbrl_last_error();
  EXPECT_EQ(bytes_of(path), before);
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"d.h5"});
  for (mbrl_dataset *p : {&a, &b, &c, &joined, &back}) mbrl_dataset_free(p);
}

TEST(DatasetH5, SaveFailuresLeaveNothing) {
  TempDir dir;
  mbrl_dataset ds = make_ds({4});
  std::string missing = dir.file("nope/d.h5");
  EXPECT_EQ(mbrl_dataset_save(&ds, missing.c_str(), nullptr), MBRL_ERR_IO);
  EXPECT_NE(std::string(mbrl_last_error()).find("does not exist"), std::string::npos);
  EXPECT_NE(std::string(mbrl_last_error()).find(missing), std::string::npos);
  mbrl_dataset empty;
  ASSERT_EQ(mbrl_dataset_init(&empty, "Pendulum-v1", 3, 1), MBRL_OK);
  std::string path = dir.file("d.h5");
  EXPECT_NE(mbrl_dataset_save(&empty, path.c_str(), nullptr), MBRL_OK);
  EXPECT_TRUE(mbrl_test::list_dir(dir.path).empty());
  mbrl_dataset_free(&ds);
}

// ------------------------------------------------------------------ validation failures

namespace {

// Save a valid dataset, change it with `mutate` (the file opened read-write) and seal it again
// (so that the check under test, not the seal, has to catch it), then expect mbrl_dataset_load
// to refuse it with `code` and a message holding `want`.
void expect_refused(const std::function<void(hid_t)> &mutate, const std::string &want,
                    const std::vector<int> &lens = {6, 4}, mbrl_status code = MBRL_ERR_FORMAT) {
  TempDir dir;
  mbrl_dataset ds = make_ds(lens);
  std::string path = dir.file("bad.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, path.c_str(), "t"), MBRL_OK);
  mbrl_dataset_free(&ds);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  mutate(f);
  ASSERT_GE(H5Fclose(f), 0);
  ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK) << mbrl_last_error();
  mbrl_dataset back;
  memset(&back, 0x5a, sizeof back);
  EXPECT_EQ(mbrl_dataset_load(&back, path.c_str()), code) << "expected: " << want;
  std::string msg = mbrl_last_error();
  EXPECT_NE(msg.find(want), std::string::npos) << "message: " << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
  EXPECT_EQ(back.observations, nullptr);  // nothing held on failure
  EXPECT_EQ(back.n, 0u);
}

void set_str(hid_t f, const char *name, const char *v) {
  ASSERT_EQ(mbrl_h5_attr_write_str(f, name, v), MBRL_OK);
}

void replace_f32(hid_t f, const char *name, std::vector<hsize_t> dims) {
  H5Ldelete(f, name, H5P_DEFAULT);
  size_t total = 1;
  for (hsize_t d : dims) total *= d;
  std::vector<float> data(total, 0.5f);
  ASSERT_EQ(mbrl_h5_write_f32(f, name, (int)dims.size(), dims.data(), data.data()), MBRL_OK);
}

// Replace dataset `name` by n values of `type` with their sha256 attribute, as another program
// writing mbrl's layout would.
void replace_typed(hid_t f, const char *name, hsize_t n, hid_t type, const void *data) {
  H5Ldelete(f, name, H5P_DEFAULT);
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  uint8_t dg[MBRL_SHA256_BYTES];
  char hex[MBRL_SHA256_HEX];
  mbrl_sha256(data, (size_t)n * H5Tget_size(type), dg);
  mbrl_sha256_hex(dg, hex);
  ASSERT_EQ(mbrl_h5_attr_write_str(d, "sha256", hex), MBRL_OK);
  H5Dclose(d);
  H5Sclose(sp);
}

}  // namespace

TEST(DatasetValidate, WrongFormatName) {
  expect_refused([](hid_t f) { set_str(f, "format", "mbrl.dynamics"); },
                 "is not an mbrl.dataset file (its format attribute is 'mbrl.dynamics')");
}

TEST(DatasetValidate, MissingFormatAttribute) {
  expect_refused([](hid_t f) { H5Adelete(f, "format"); }, "has no 'format' attribute");
}

TEST(DatasetValidate, WrongVersion) {
  expect_refused([](hid_t f) { ASSERT_EQ(mbrl_h5_attr_write_i64(f, "format_version", 3), MBRL_OK); },
                 "format_version 3; this mbrl reads versions 1 to 2");
}

TEST(DatasetValidate, UnknownEnv) {
  expect_refused([](hid_t f) { set_str(f, "env_id", "Hopper-v4"); },
                 "env_id 'Hopper-v4' is not a known environment");
}

TEST(DatasetValidate, MissingDataset) {
  expect_refused([](hid_t f) { H5Ldelete(f, "next_observations", H5P_DEFAULT); },
                 "missing dataset /next_observations");
  expect_refused([](hid_t f) { H5Ldelete(f, "stats/delta_state_std", H5P_DEFAULT); },
                 "missing dataset /stats/delta_state_std");
  expect_refused([](hid_t f) { H5Ldelete(f, "stats", H5P_DEFAULT); },
                 "missing dataset /stats/state_mean");
}

TEST(DatasetValidate, WrongRank) {
  expect_refused([](hid_t f) { replace_f32(f, "actions", {10}); },
                 "/actions has rank 1; expected rank 2");
  expect_refused([](hid_t f) { replace_f32(f, "rewards", {10, 1}); },
                 "/rewards has rank 2; expected rank 1");
}

TEST(DatasetValidate, WrongWidthForTheEnv) {
  expect_refused([](hid_t f) { replace_f32(f, "observations", {10, 4}); },
                 "/observations has shape [10,4]; expected [N,3] (Pendulum-v1 has obs_dim 3");
  expect_refused([](hid_t f) { replace_f32(f, "stats/action_std", {2}); },
                 "/stats/action_std has shape [2]; expected [1]");
}

TEST(DatasetValidate, WrongDtype) {
  expect_refused(
      [](hid_t f) {
        std::vector<double> v(10, 0.0);
        replace_typed(f, "rewards", 10, H5T_NATIVE_DOUBLE, v.data());
      },
      "/rewards has dtype float64; expected float32");
  expect_refused(
      [](hid_t f) {
        std::vector<float> v(10, 0.0f);
        replace_typed(f, "terminals", 10, H5T_NATIVE_FLOAT, v.data());
      },
      "/terminals has dtype float32; expected bool");
}

TEST(DatasetValidate, RowCountsDisagree) {
  expect_refused([](hid_t f) { replace_f32(f, "rewards", {9}); },
                 "/rewards has 9 rows but /observations has 10");
  expect_refused(
      [](hid_t f) {
        std::vector<uint8_t> v(11, 0);
        replace_typed(f, "timeouts", 11, H5T_NATIVE_UINT8, v.data());
      },
      "/timeouts has 11 rows but /observations has 10");
}

// A damaged header can claim 2^64 / 3 rows (chunked data is allocated only when written, so such
// a file is tiny): the load must refuse it, not size a buffer with an overflowed row * width product.
// In a sealed file the stored bytes must match the claimed shape (older files: the row check).
TEST(DatasetValidate, HugeRowCountIsRefused) {
  expect_refused(
      [](hid_t f) {
        const hsize_t rows = ~(hsize_t)0 / 3 + 1;  // rows * 3 wraps to 2 in 64 bits
        const char *names[6] = {"observations", "actions", "next_observations", "rewards",
                                "terminals", "timeouts"};
        for (int k = 0; k < 6; ++k) {
          H5Ldelete(f, names[k], H5P_DEFAULT);
          hsize_t d[2] = {rows, (hsize_t)(k == 1 ? 1 : 3)};
          hsize_t chunk[2] = {1024, d[1]};
          hid_t sp = H5Screate_simple(k < 3 ? 2 : 1, d, nullptr);
          hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
          H5Pset_chunk(dcpl, k < 3 ? 2 : 1, chunk);  // chunked: nothing is allocated
          hid_t t = k < 4 ? H5T_IEEE_F32LE : H5T_STD_U8LE;
          hid_t ds = H5Dcreate2(f, names[k], t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
          ASSERT_GE(ds, 0) << names[k];
          H5Dclose(ds);
          H5Pclose(dcpl);
          H5Sclose(sp);
        }
      },
      "/observations claims 1.845e+19 elements of 4 bytes but stores 0 bytes");
}

TEST(DatasetValidate, FlagsMustBeZeroOrOne) {
  expect_refused(
      [](hid_t f) {
        std::vector<uint8_t> v(10, 0);
        v[7] = 3;
        replace_typed(f, "terminals", 10, H5T_NATIVE_UINT8, v.data());
      },
      "/terminals holds 3 at row 7; expected 0 or 1");
}

// The first bad row in file order is named, whichever array holds it, with the count.
TEST(DatasetValidate, NonFiniteValues) {
  expect_refused(
      [](hid_t f) {
        std::vector<float> v(30, 0.0f);
        v[3 * 4 + 1] = NAN;
        H5Ldelete(f, "observations", H5P_DEFAULT);
        hsize_t d[2] = {10, 3};
        ASSERT_EQ(mbrl_h5_write_f32(f, "observations", 2, d, v.data()), MBRL_OK);
      },
      "1 of 10 rows hold NaN or Inf; the first is row 4 (in /observations)", {6, 4},
      MBRL_ERR_NUMERIC);
  expect_refused(
      [](hid_t f) {
        std::vector<float> v(30, 0.0f), r(10, 0.0f);
        v[3 * 4 + 1] = NAN;
        r[2] = -INFINITY;
        H5Ldelete(f, "observations", H5P_DEFAULT);
        H5Ldelete(f, "rewards", H5P_DEFAULT);
        hsize_t d[2] = {10, 3};
        ASSERT_EQ(mbrl_h5_write_f32(f, "observations", 2, d, v.data()), MBRL_OK);
        ASSERT_EQ(mbrl_h5_write_f32(f, "rewards", 1, d, r.data()), MBRL_OK);
      },
      "2 of 10 rows hold NaN or Inf; the first is row 2 (in /rewards)", {6, 4}, MBRL_ERR_NUMERIC);
}

TEST(DatasetValidate, PlainUint8FlagsAreAccepted) {
  // D4RL-style files may store flags as uint8: 0/1 values load.
  TempDir dir;
  mbrl_dataset ds = make_ds({6, 4});
  std::string path = dir.file("u8.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, path.c_str(), "t"), MBRL_OK);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  replace_typed(f, "timeouts", 10, H5T_NATIVE_UINT8, ds.timeouts);
  H5Fclose(f);
  ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK);
  mbrl_dataset back;
  ASSERT_EQ(mbrl_dataset_load(&back, path.c_str()), MBRL_OK) << mbrl_last_error();
  expect_same_rows(ds, back);
  mbrl_dataset_free(&back);
  mbrl_dataset_free(&ds);
}

TEST(DatasetValidate, ForeignHdf5File) {
  TempDir dir;
  std::string path = dir.file("foreign.h5");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t d[1] = {3};
  float v[3] = {1, 2, 3};
  ASSERT_EQ(mbrl_h5_write_f32(f, "foo", 1, d, v), MBRL_OK);
  H5Fclose(f);
  mbrl_dataset back;
  EXPECT_EQ(mbrl_dataset_load(&back, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("is not an mbrl.dataset file"), std::string::npos)
      << mbrl_last_error();
}

TEST(DatasetValidate, TruncatedFile) {
  TempDir dir;
  mbrl_dataset ds = make_ds({100, 100});
  std::string path = dir.file("full.h5"), cut = dir.file("cut.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, path.c_str(), "t"), MBRL_OK);
  mbrl_dataset_free(&ds);
  std::string bytes = bytes_of(path);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 1, (size_t)600, (size_t)100, (size_t)0}) {
    std::ofstream(cut, std::ios::binary | std::ios::trunc).write(bytes.data(), (std::streamsize)keep);
    mbrl_dataset back;
    mbrl_status st = mbrl_dataset_load(&back, cut.c_str());
    EXPECT_EQ(st, MBRL_ERR_FORMAT) << "kept " << keep << " bytes: " << mbrl_last_error();
    std::string msg = mbrl_last_error();
    EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
                msg.find("damaged") != std::string::npos)
        << "kept " << keep << ": " << msg;
    EXPECT_NE(msg.find(cut), std::string::npos) << msg;
  }
}

TEST(DatasetValidate, TextFileAndMissingFile) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  std::ofstream(path) << "observations,actions\n1,2\n";
  mbrl_dataset back;
  EXPECT_EQ(mbrl_dataset_load(&back, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("is not an HDF5 file"), std::string::npos);
  EXPECT_NE(std::string(mbrl_last_error()).find(path), std::string::npos);
  std::string none = dir.file("none.h5");
  EXPECT_EQ(mbrl_dataset_load(&back, none.c_str()), MBRL_ERR_IO);
  EXPECT_NE(std::string(mbrl_last_error()).find(none), std::string::npos);
  EXPECT_EQ(mbrl_dataset_load(&back, dir.path.c_str()), MBRL_ERR_IO);
  EXPECT_NE(std::string(mbrl_last_error()).find("is a directory"), std::string::npos);
}

// ------------------------------------------------------------------ h5util (for checkpoints)

TEST(H5Util, DatasetsAndAttributesRoundTrip) {
  TempDir dir;
  std::string path = dir.file("c.h5");
  mbrl_h5_writer w;
  ASSERT_EQ(mbrl_h5_writer_open(&w, path.c_str()), MBRL_OK) << mbrl_last_error();
  float wt[6] = {1, 2, 3, 4, 5, 6};
  hsize_t d2[2] = {2, 3};
  int64_t nbt = 1234;
  ASSERT_EQ(mbrl_h5_write_f32(w.file, "model/network/0/weight", 2, d2, wt), MBRL_OK);
  ASSERT_EQ(mbrl_h5_write_i64(w.file, "model/network/1/num_batches_tracked", 0, nullptr, &nbt), MBRL_OK);
  ASSERT_EQ(mbrl_h5_attr_write_str(w.file, "config", "{\"hidden\": 64}"), MBRL_OK);
  ASSERT_EQ(mbrl_h5_attr_write_i64(w.file, "hidden", -64), MBRL_OK);
  ASSERT_EQ(mbrl_h5_attr_write_u64(w.file, "seed", UINT64_MAX), MBRL_OK);
  {  // a fixed-length string attribute, as other tools write them
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 5);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(w.file, "fixed", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Awrite(a, t, "abcde"), 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
  }
  EXPECT_TRUE(mbrl_test::file_exists(w.tmp_path));
  EXPECT_FALSE(mbrl_test::file_exists(path));
  ASSERT_EQ(mbrl_h5_writer_commit(&w), MBRL_OK);
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"c.h5"});

  hid_t f;
  ASSERT_EQ(mbrl_h5_open_read(path.c_str(), &f), MBRL_OK);
  hsize_t dims[2] = {0, 3};
  ASSERT_EQ(mbrl_h5_check_f32(f, path.c_str(), "model/network/0/weight", 2, dims), MBRL_OK);
  EXPECT_EQ(dims[0], 2u);
  float back[6];
  ASSERT_EQ(mbrl_h5_read_f32(f, path.c_str(), "model/network/0/weight", back), MBRL_OK);
  EXPECT_EQ(0, memcmp(back, wt, sizeof wt));
  hsize_t wrong[2] = {3, 2};
  EXPECT_EQ(mbrl_h5_check_f32(f, path.c_str(), "model/network/0/weight", 2, wrong), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("has shape [2,3]; expected [3,2]"), std::string::npos)
      << mbrl_last_error();
  int64_t got = 0;
  ASSERT_EQ(mbrl_h5_read_i64(f, path.c_str(), "model/network/1/num_batches_tracked", 0, nullptr, &got),
            MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(got, 1234);
  EXPECT_EQ(mbrl_h5_read_i64(f, path.c_str(), "model/network/0/weight", 2, dims, nullptr),
            MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("expected an integer"), std::string::npos);
  EXPECT_EQ(mbrl_h5_check_f32(f, path.c_str(), "model/network/9/weight", 2, dims), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("missing dataset /model/network/9/weight"),
            std::string::npos) << mbrl_last_error();
  char s[64];
  ASSERT_EQ(mbrl_h5_attr_read_str(f, path.c_str(), "config", s, sizeof s), MBRL_OK);
  EXPECT_STREQ(s, "{\"hidden\": 64}");
  ASSERT_EQ(mbrl_h5_attr_read_str(f, path.c_str(), "fixed", s, sizeof s), MBRL_OK);
  EXPECT_STREQ(s, "abcde");
  int64_t h = 0;
  ASSERT_EQ(mbrl_h5_attr_read_i64(f, path.c_str(), "hidden", &h), MBRL_OK);
  EXPECT_EQ(h, -64);
  uint64_t seed = 0;
  ASSERT_EQ(mbrl_h5_attr_read_u64(f, path.c_str(), "seed", &seed), MBRL_OK);
  EXPECT_EQ(seed, UINT64_MAX);
  EXPECT_EQ(mbrl_h5_attr_read_i64(f, path.c_str(), "config", &h), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("'config' is not an integer"), std::string::npos);
  EXPECT_EQ(mbrl_h5_attr_read_str(f, path.c_str(), "nope", s, sizeof s), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("missing attribute 'nope'"), std::string::npos);
  EXPECT_EQ(mbrl_h5_check_format(f, path.c_str(), "mbrl.dynamics", 1), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("is not an mbrl.dynamics file"), std::string::npos);
  H5Fclose(f);
}

TEST(H5Util, AbortLeavesTheTargetUntouched) {
  TempDir dir;
  std::string path = dir.file("keep.h5");
  std::ofstream(path) << "old contents";
  mbrl_h5_writer w;
  ASSERT_EQ(mbrl_h5_writer_open(&w, path.c_str()), MBRL_OK);
  float v = 1;
  hsize_t n = 1;
  ASSERT_EQ(mbrl_h5_write_f32(w.file, "x", 1, &n, &v), MBRL_OK);
  mbrl_h5_writer_abort(&w);
  mbrl_h5_writer_abort(&w);  // twice is safe
  EXPECT_EQ(mbrl_test::read_file(path), "old contents");
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"keep.h5"});
}

// The helpers mlp_h5 and dynamics_h5 build on: existence and rank probes, any-float
// weights, float and int64-array attributes, writer_finish on both paths.
TEST(H5Util, ProbesFloatWeightsArrayAttributesAndFinish) {
  TempDir dir;
  std::string path = dir.file("p.h5");
  mbrl_h5_writer w;
  ASSERT_EQ(mbrl_h5_writer_open(&w, path.c_str()), MBRL_OK) << mbrl_last_error();
  {  // a float64 weight, as numpy writes it by default
    double v[2] = {0.5, -2.0};
    hsize_t n = 2;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    ASSERT_GE(H5Gclose(H5Gcreate2(w.file, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), 0);
    hid_t d = H5Dcreate2(w.file, "g/w64", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    // its digest over the float64 bytes (every dataset of a sealed file carries one)
    uint8_t dg[MBRL_SHA256_BYTES];
    char hex[MBRL_SHA256_HEX];
    mbrl_sha256(v, sizeof v, dg);
    mbrl_sha256_hex(dg, hex);
    ASSERT_EQ(mbrl_h5_attr_write_str(d, "sha256", hex), MBRL_OK);
    H5Dclose(d), H5Sclose(sp);
  }
  const int64_t sizes[3] = {4, 64, 3};
  ASSERT_EQ(mbrl_h5_attr_write_i64_array(w.file, "sizes", sizes, 3), MBRL_OK);
  ASSERT_EQ(mbrl_h5_attr_write_f32(w.file, "eps", 1e-5f), MBRL_OK);
  ASSERT_EQ(mbrl_h5_attr_write_f32(w.file, "eps", 2e-5f), MBRL_OK);  // replaces
  ASSERT_EQ(mbrl_h5_writer_finish(&w, MBRL_OK), MBRL_OK) << mbrl_last_error();

  hid_t f;
  ASSERT_EQ(mbrl_h5_open_read(path.c_str(), &f), MBRL_OK);
  EXPECT_EQ(mbrl_h5_exists(f, "/g/w64"), 1);
  EXPECT_EQ(mbrl_h5_exists(f, "g"), 1);
  EXPECT_EQ(mbrl_h5_exists(f, "/g/nope/deeper"), 0);
  hsize_t dims[2] = {0, 0};
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "g/w64", dims, 2), 1);
  EXPECT_EQ(dims[0], 2u);
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "g", dims, 2), -1);  // a group
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "g/none", dims, 2), -1);
  hsize_t n = 2;
  EXPECT_EQ(mbrl_h5_check_f32(f, path.c_str(), "g/w64", 1, &n), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("float64; expected float32"), std::string::npos);
  ASSERT_EQ(mbrl_h5_check_float(f, path.c_str(), "g/w64", 1, &n), MBRL_OK) << mbrl_last_error();
  float back[2];
  ASSERT_EQ(mbrl_h5_read_f32(f, path.c_str(), "g/w64", back), MBRL_OK);
  EXPECT_EQ(back[0], 0.5f);
  EXPECT_EQ(back[1], -2.0f);
  int64_t got[3] = {0, 0, 0};
  int cnt = 0;
  ASSERT_EQ(mbrl_h5_attr_read_i64_array(f, path.c_str(), "sizes", got, 3, &cnt), MBRL_OK);
  EXPECT_EQ(cnt, 3);
  EXPECT_EQ(got[1], 64);
  EXPECT_EQ(mbrl_h5_attr_read_i64_array(f, path.c_str(), "sizes", got, 2, &cnt), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("not a list of 1 to 2 values"), std::string::npos)
      << mbrl_last_error();
  EXPECT_EQ(mbrl_h5_attr_read_i64(f, path.c_str(), "sizes", got), MBRL_ERR_FORMAT);  // not scalar
  float eps = 0;
  ASSERT_EQ(mbrl_h5_attr_read_f32(f, path.c_str(), "eps", &eps), MBRL_OK);
  EXPECT_EQ(eps, 2e-5f);
  H5Fclose(f);

  // A failed write: nothing is left, the old file stays, the message says both.
  ASSERT_EQ(mbrl_h5_writer_open(&w, path.c_str()), MBRL_OK);
  mbrl_status st = mbrl_set_error(MBRL_ERR_IO, "disk on fire");
  EXPECT_EQ(mbrl_h5_writer_finish(&w, st), MBRL_ERR_IO);
  EXPECT_EQ(std::string(mbrl_last_error()),
            "writing '" + path + "' failed: disk on fire; nothing was written");
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"p.h5"});
  ASSERT_EQ(mbrl_h5_open_read(path.c_str(), &f), MBRL_OK);
  EXPECT_EQ(mbrl_h5_exists(f, "g/w64"), 1);
  H5Fclose(f);
}
