// tests/test_dynamics.cpp - the dynamics module: prediction formula, checkpoint round trip and
// refusals, trainer determinism and minibatch order (the sampler's), loss decrease, NaN stop,
// evaluation functions on a hand-made dataset, and (with a GPU) CUDA training vs CPU.
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/dataset.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/philox.h"
}

using mbrl_test::has;
using mbrl_test::pendulum_data;
using mbrl_test::TempDir;

namespace {

struct Model {
  mbrl_dynamics *d = nullptr;
  ~Model() { mbrl_dynamics_free(d); }
};
struct Trainer {
  mbrl_dynamics_trainer *t = nullptr;
  ~Trainer() { mbrl_dynamics_trainer_free(t); }
};

const int kHidden[2] = {32, 32};

void make_model(Model *m, const mbrl_dataset &ds, int bn, uint64_t seed,
                mbrl_backend be = MBRL_BACKEND_CPU, int max_batch = 256) {
  ASSERT_EQ(mbrl_dynamics_create(&m->d, ds.env_id, ds.obs_dim, ds.act_dim, &ds.stats, 2, kHidden,
                                 bn, be, max_batch, seed),
            MBRL_OK)
      << mbrl_last_error();
}

std::vector<float> params_of(const mbrl_dynamics *d) {
  std::vector<float> p(mbrl_mlp_state_size(d->mlp));
  EXPECT_EQ(mbrl_mlp_get_state(d->mlp, p.data()), MBRL_OK);
  return p;
}

std::vector<float> predict(mbrl_dynamics *d, const mbrl_dataset &ds, int B) {
  std::vector<float> out((size_t)B * ds.obs_dim);
  EXPECT_EQ(mbrl_dynamics_predict_next(d, ds.observations, ds.actions, B, out.data()), MBRL_OK)
      << mbrl_last_error();
  return out;
}

}  // namespace

// next = s + unnormalize(mlp(concat(norm(s), norm(a)))) with the delta stats, any B (chunks).
TEST(Dynamics, PredictIsStatePlusUnnormalizedOutput) {
  mbrl_dataset ds;
  pendulum_data(&ds, 3, 100, 7);
  Model m;
  make_model(&m, ds, 1, 3, MBRL_BACKEND_CPU, 64);  // max_batch 64 < 300 rows: chunks
  Trainer tr;
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, m.d, &ds, &oc, 32, 1), MBRL_OK);
  ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, 20, nullptr), MBRL_OK);  // non-trivial BN stats
  const int B = (int)ds.n;
  std::vector<float> next = predict(m.d, ds, B);
  const mbrl_dataset_stats &s = ds.stats;
  std::vector<float> x(4), y(3);
  double worst = 0.0;
  for (int i = 0; i < B; ++i) {
    for (int j = 0; j < 3; ++j)
      x[j] = (ds.observations[i * 3 + j] - s.state_mean[j]) / (s.state_std[j] + 1e-8f);
    x[3] = (ds.actions[i] - s.action_mean[0]) / (s.action_std[0] + 1e-8f);
    ASSERT_EQ(mbrl_mlp_forward(m.d->mlp, x.data(), 1, y.data(), 0), MBRL_OK);
    for (int j = 0; j < 3; ++j) {
      float want = ds.observations[i * 3 + j] + (y[j] * s.delta_state_std[j] + s.delta_state_mean[j]);
      worst = std::fmax(worst, std::fabs(want - next[(size_t)i * 3 + j]));
    }
  }
  EXPECT_LE(worst, 1e-6) << "predict_next vs the formula (atol 1e-6)";
  // Aliasing next_obs == obs is allowed.
  std::vector<float> inplace(ds.observations, ds.observations + (size_t)B * 3);
  ASSERT_EQ(mbrl_dynamics_predict_next(m.d, inplace.data(), ds.actions, B, inplace.data()), MBRL_OK);
  EXPECT_EQ(inplace, next);
  mbrl_dataset_free(&ds);
}

TEST(Dynamics, CreateRefusesBadArguments) {
  mbrl_dynamics *d = nullptr;
  const int h[1] = {8};
  EXPECT_EQ(mbrl_dynamics_create(&d, "Pendulum-v1", 0, 1, nullptr, 1, h, 1, MBRL_BACKEND_CPU, 8, 0),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_dynamics_create(&d, "Pendulum-v1", 3, 1, nullptr, 0, h, 1, MBRL_BACKEND_CPU, 8, 0),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_dynamics_create(&d, "Pendulum-v1", 3, 1, nullptr, 1, h, 1, MBRL_BACKEND_CPU, 1, 0),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(d, nullptr);
  ASSERT_EQ(mbrl_dynamics_create(&d, "Pendulum-v1", 3, 1, nullptr, 1, h, 0, MBRL_BACKEND_CPU, 8, 0),
            MBRL_OK);
  EXPECT_EQ(d->mlp->cfg.n_layers, 2);
  EXPECT_EQ(d->mlp->cfg.sizes[0], 4);
  EXPECT_EQ(d->mlp->cfg.sizes[1], 8);
  EXPECT_EQ(d->mlp->cfg.sizes[2], 3);
  EXPECT_EQ(d->mlp->cfg.batchnorm, 0);
  EXPECT_EQ(d->stats.state_std[0], 1.0f);  // NULL stats: identity normalizer
  mbrl_dynamics_free(d);
}

// Save then load gives the same predictions bit for bit, the stats, env and config.
TEST(Dynamics, CheckpointRoundTrip) {
  TempDir dir;
  mbrl_dataset ds;
  pendulum_data(&ds, 2, 100, 11);
  for (int bn = 0; bn <= 1; ++bn) {
    Model m;
    make_model(&m, ds, bn, 5);
    Trainer tr;
    mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
    ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, m.d, &ds, &oc, 16, 2), MBRL_OK);
    ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, 30, nullptr), MBRL_OK);
    ASSERT_EQ(mbrl_dynamics_set_config(m.d, "{\"lr\": 0.01}"), MBRL_OK);
    std::string path = dir.file("m" + std::to_string(bn) + ".h5");
    ASSERT_EQ(mbrl_dynamics_save(m.d, path.c_str()), MBRL_OK) << mbrl_last_error();
    Model l;
    ASSERT_EQ(mbrl_dynamics_load(path.c_str(), MBRL_BACKEND_CPU, 100, &l.d), MBRL_OK)
        << mbrl_last_error();
    EXPECT_STREQ(l.d->env_id, "Pendulum-v1");
    EXPECT_STREQ(l.d->config_json, "{\"lr\": 0.01}");
    EXPECT_EQ(l.d->mlp->cfg.batchnorm, bn);
    EXPECT_EQ(l.d->mlp->cfg.sizes[1], 32);
    EXPECT_EQ(0, std::memcmp(&l.d->stats.state_mean, &ds.stats.state_mean, 3 * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(&l.d->stats.action_std, &ds.stats.action_std, sizeof(float)));
    EXPECT_EQ(0, std::memcmp(&l.d->stats.delta_state_std, &ds.stats.delta_state_std,
                             3 * sizeof(float)));
    EXPECT_EQ(params_of(l.d), params_of(m.d));  // includes BN running stats and counters
    EXPECT_EQ(predict(l.d, ds, (int)ds.n), predict(m.d, ds, (int)ds.n));
  }
  mbrl_dataset_free(&ds);
}

// The file layout is DESIGN.md's: state_dict names, normalizer datasets, root attributes.
TEST(Dynamics, CheckpointLayout) {
  TempDir dir;
  mbrl_dataset ds;
  pendulum_data(&ds, 1, 50, 1);
  Model m;
  make_model(&m, ds, 1, 0);
  std::string path = dir.file("m.h5");
  ASSERT_EQ(mbrl_dynamics_save(m.d, path.c_str()), MBRL_OK);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const char *names[] = {"/model/network/0/weight", "/model/network/0/bias",
                         "/model/network/1/weight", "/model/network/1/running_var",
                         "/model/network/1/num_batches_tracked", "/model/network/3/weight",
                         "/model/network/4/running_mean", "/model/network/6/weight",
                         "/model/network/6/bias", "/normalizer/state_mean",
                         "/normalizer/state_std", "/normalizer/action_mean",
                         "/normalizer/action_std", "/normalizer/delta_state_mean",
                         "/normalizer/delta_state_std"};
  for (const char *n : names) EXPECT_GT(H5Lexists(f, n + 1, H5P_DEFAULT), 0) << n;
  hsize_t d2[2] = {32, 4};
  EXPECT_EQ(mbrl_h5_check_f32(f, path.c_str(), "model/network/0/weight", 2, d2), MBRL_OK);
  hsize_t d1 = 1;
  EXPECT_EQ(mbrl_h5_check_f32(f, path.c_str(), "normalizer/action_std", 1, &d1), MBRL_OK);
  char buf[256];
  ASSERT_EQ(mbrl_h5_attr_read_str(f, path.c_str(), "format", buf, sizeof buf), MBRL_OK);
  EXPECT_STREQ(buf, "mbrl.dynamics");
  int64_t v = 0;
  ASSERT_EQ(mbrl_h5_attr_read_i64(f, path.c_str(), "format_version", &v), MBRL_OK);
  EXPECT_EQ(v, 2);
  ASSERT_EQ(mbrl_h5_attr_read_str(f, path.c_str(), "env_id", buf, sizeof buf), MBRL_OK);
  EXPECT_STREQ(buf, "Pendulum-v1");
  ASSERT_EQ(mbrl_h5_attr_read_str(f, path.c_str(), "config", buf, sizeof buf), MBRL_OK);
  EXPECT_STREQ(buf, "{}");
  hid_t a = H5Aopen(f, "hidden", H5P_DEFAULT);
  ASSERT_GE(a, 0);
  int64_t hid[2] = {0, 0};
  EXPECT_GE(H5Aread(a, H5T_NATIVE_INT64, hid), 0);
  EXPECT_EQ(hid[0], 32);
  EXPECT_EQ(hid[1], 32);
  H5Aclose(a);
  H5Fclose(f);
  mbrl_dataset_free(&ds);
}

namespace {
// Copy a file byte for byte.
void copy_file(const std::string &from, const std::string &to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
}
// Apply `edit` to an HDF5 file opened read-write, then seal it again, so that the loader's
// check under test (not the seal) has to catch the change.
template <class F>
void edit_h5(const std::string &path, F edit) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  edit(f);
  H5Fclose(f);
  ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK) << mbrl_last_error();
}
void set_str_attr(hid_t f, const char *name, const char *value) {
  H5Adelete(f, name);
  ASSERT_EQ(mbrl_h5_attr_write_str(f, name, value), MBRL_OK);
}
// Load must fail with `code` and a message naming the file and containing `what`.
void expect_refused(const std::string &path, mbrl_status code, const std::string &what) {
  mbrl_dynamics *d = nullptr;
  EXPECT_EQ(mbrl_dynamics_load(path.c_str(), MBRL_BACKEND_CPU, 16, &d), code) << path;
  EXPECT_EQ(d, nullptr);
  std::string msg = mbrl_last_error();
  EXPECT_TRUE(has(msg, path)) << msg;
  EXPECT_TRUE(has(msg, what)) << "expected '" << what << "' in: " << msg;
}
}  // namespace

TEST(Dynamics, LoadRefusesBadFiles) {
  TempDir dir;
  mbrl_dataset ds;
  pendulum_data(&ds, 1, 50, 1);
  Model m;
  make_model(&m, ds, 1, 0);
  const std::string good = dir.file("good.h5");
  ASSERT_EQ(mbrl_dynamics_save(m.d, good.c_str()), MBRL_OK);

  expect_refused(dir.file("missing.h5"), MBRL_ERR_IO, "missing.h5");
  {
    std::ofstream(dir.file("text.h5")) << "not an HDF5 file\n";
    expect_refused(dir.file("text.h5"), MBRL_ERR_FORMAT, "not an HDF5 file");
  }
  {  // truncated
    std::string s = mbrl_test::read_file(good);
    std::ofstream(dir.file("trunc.h5"), std::ios::binary) << s.substr(0, s.size() / 2);
    mbrl_dynamics *d = nullptr;
    EXPECT_NE(mbrl_dynamics_load(dir.file("trunc.h5").c_str(), MBRL_BACKEND_CPU, 16, &d), MBRL_OK);
    EXPECT_EQ(d, nullptr);
    EXPECT_TRUE(has(mbrl_last_error(), dir.file("trunc.h5"))) << mbrl_last_error();
  }
  {  // a dataset file is not a checkpoint
    const std::string p = dir.file("dataset.h5");
    ASSERT_EQ(mbrl_dataset_save(&ds, p.c_str(), nullptr), MBRL_OK);
    expect_refused(p, MBRL_ERR_FORMAT, "mbrl.dynamics");
  }
  {
    const std::string p = dir.file("version.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) {
      H5Adelete(f, "format_version");
      ASSERT_EQ(mbrl_h5_attr_write_i64(f, "format_version", 7), MBRL_OK);
    });
    expect_refused(p, MBRL_ERR_FORMAT, "version");
  }
  {
    const std::string p = dir.file("env.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) { set_str_attr(f, "env_id", "Nope-v0"); });
    expect_refused(p, MBRL_ERR_FORMAT, "Nope-v0");
  }
  {  // CartPole has obs 4: the Pendulum network does not fit
    const std::string p = dir.file("cart.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) { set_str_attr(f, "env_id", "CartPole-v1"); });
    expect_refused(p, MBRL_ERR_FORMAT, "CartPole-v1");
  }
  {
    const std::string p = dir.file("nonorm.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) { H5Ldelete(f, "normalizer/delta_state_std", H5P_DEFAULT); });
    expect_refused(p, MBRL_ERR_FORMAT, "delta_state_std");
  }
  {
    const std::string p = dir.file("normshape.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) {
      H5Ldelete(f, "normalizer/state_mean", H5P_DEFAULT);
      hsize_t d = 5;
      float z[5] = {0};
      ASSERT_EQ(mbrl_h5_write_f32(f, "normalizer/state_mean", 1, &d, z), MBRL_OK);
    });
    expect_refused(p, MBRL_ERR_FORMAT, "state_mean");
  }
  {
    const std::string p = dir.file("nanstd.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) {
      H5Ldelete(f, "normalizer/state_std", H5P_DEFAULT);
      hsize_t d = 3;
      float z[3] = {1.0f, NAN, 1.0f};
      ASSERT_EQ(mbrl_h5_write_f32(f, "normalizer/state_std", 1, &d, z), MBRL_OK);
    });
    expect_refused(p, MBRL_ERR_FORMAT, "state_std");
  }
  {
    const std::string p = dir.file("noweight.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) { H5Ldelete(f, "model/network/3/weight", H5P_DEFAULT); });
    mbrl_dynamics *d = nullptr;
    EXPECT_EQ(mbrl_dynamics_load(p.c_str(), MBRL_BACKEND_CPU, 16, &d), MBRL_ERR_FORMAT);
    EXPECT_TRUE(has(mbrl_last_error(), p)) << mbrl_last_error();
  }
  {
    const std::string p = dir.file("hidden.h5");
    copy_file(good, p);
    edit_h5(p, [](hid_t f) { H5Adelete(f, "hidden"); });
    expect_refused(p, MBRL_ERR_FORMAT, "hidden");
  }
  // The good file still loads.
  Model l;
  EXPECT_EQ(mbrl_dynamics_load(good.c_str(), MBRL_BACKEND_CPU, 16, &l.d), MBRL_OK);
  mbrl_dataset_free(&ds);
}

// Same seed -> same losses and weights; another seed -> different.
TEST(Dynamics, TrainerIsDeterministic) {
  mbrl_dataset ds;
  pendulum_data(&ds, 2, 100, 3);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  std::vector<float> losses[3], params[3];
  const uint64_t seeds[3] = {42, 42, 43};
  for (int k = 0; k < 3; ++k) {
    Model m;
    make_model(&m, ds, 1, seeds[k]);
    Trainer tr;
    ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, m.d, &ds, &oc, 32, seeds[k]), MBRL_OK);
    losses[k].resize(60);
    ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, 25, losses[k].data()), MBRL_OK);
    ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, 35, losses[k].data() + 25), MBRL_OK);
    EXPECT_EQ(mbrl_dynamics_trainer_steps(tr.t), 60);
    params[k] = params_of(m.d);
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(params[0], params[1]);
  EXPECT_NE(losses[0], losses[2]);
  mbrl_dataset_free(&ds);
}

// The trainer's minibatches are the sampler's (epoch e = Philox(seed, e) permutation, last
// partial batch dropped): a hand-written loop over mbrl_sampler gives the same weights.
TEST(Dynamics, TrainerUsesSamplerMinibatches) {
  mbrl_dataset ds;
  pendulum_data(&ds, 1, 100, 9);  // 100 rows, batch 24: 4 batches per epoch, 4 rows dropped
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  const int B = 24, steps = 13;  // crosses three epoch boundaries
  Model a, b;
  make_model(&a, ds, 1, 1);
  make_model(&b, ds, 1, 1);
  Trainer tr;
  ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, a.d, &ds, &oc, B, 77), MBRL_OK);
  std::vector<float> la(steps), lb(steps);
  ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, steps, la.data()), MBRL_OK);

  std::vector<float> x(ds.n * 4), y(ds.n * 3), xb(B * 4), yb(B * 3);
  ASSERT_EQ(mbrl_dynamics_normalize_data(b.d, &ds, x.data(), y.data()), MBRL_OK);
  mbrl_sampler s;
  ASSERT_EQ(mbrl_sampler_init(&s, nullptr, ds.n, B, 77), MBRL_OK);
  mbrl_optim *opt = nullptr;
  ASSERT_EQ(mbrl_optim_create(&opt, &oc, b.d->mlp), MBRL_OK);
  std::vector<size_t> idx(B);
  for (int k = 0; k < steps; ++k) {
    if (!mbrl_sampler_next(&s, idx.data())) {
      mbrl_sampler_begin_epoch(&s, s.epoch + 1);
      ASSERT_TRUE(mbrl_sampler_next(&s, idx.data()));
    }
    for (int r = 0; r < B; ++r) {
      std::memcpy(&xb[r * 4], &x[idx[r] * 4], 4 * sizeof(float));
      std::memcpy(&yb[r * 3], &y[idx[r] * 3], 3 * sizeof(float));
    }
    ASSERT_EQ(mbrl_mlp_train_step_mse(b.d->mlp, opt, xb.data(), yb.data(), B, &lb[k]), MBRL_OK);
  }
  EXPECT_EQ(s.epoch, 3u);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(params_of(a.d), params_of(b.d));
  mbrl_optim_free(opt);
  mbrl_sampler_free(&s);
  mbrl_dataset_free(&ds);
}

TEST(Dynamics, LossDecreasesAndValidationImproves) {
  mbrl_dataset train, val;
  pendulum_data(&train, 8, 200, 21);
  pendulum_data(&val, 2, 200, 22);
  val.stats = train.stats;
  Model m;
  make_model(&m, train, 1, 0);
  double mse0, mse1;
  ASSERT_EQ(mbrl_dynamics_eval_mse(m.d, &val, &mse0), MBRL_OK);
  Trainer tr;
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, m.d, &train, &oc, 128, 0), MBRL_OK);
  std::vector<float> l(1500);
  ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, 1500, l.data()), MBRL_OK);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) first += l[i] / 20.0;
  for (int i = 1400; i < 1500; ++i) last += l[i] / 100.0;
  EXPECT_LT(last, 0.1 * first) << "first " << first << " last " << last;
  ASSERT_EQ(mbrl_dynamics_eval_mse(m.d, &val, &mse1), MBRL_OK);
  EXPECT_LT(mse1, 0.05) << "validation MSE after 1500 steps (start " << mse0 << ")";
  EXPECT_LT(mse1, 0.1 * mse0);
  double r1[3];
  ASSERT_EQ(mbrl_dynamics_open_loop_rmse(m.d, &val, 1, r1), MBRL_OK);
  EXPECT_LT(r1[2], 0.2) << "thdot 1-step RMSE";
  mbrl_dataset_free(&train);
  mbrl_dataset_free(&val);
}

TEST(Dynamics, TrainerRefusesBadBatchAndStopsOnNaN) {
  mbrl_dataset ds;
  pendulum_data(&ds, 1, 50, 2);
  Model m;
  make_model(&m, ds, 1, 0);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  mbrl_dynamics_trainer *t = nullptr;
  EXPECT_EQ(mbrl_dynamics_trainer_create(&t, m.d, &ds, &oc, 51, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "51")) << mbrl_last_error();
  EXPECT_TRUE(has(mbrl_last_error(), "50 rows")) << mbrl_last_error();
  EXPECT_EQ(mbrl_dynamics_trainer_create(&t, m.d, &ds, &oc, 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(t, nullptr);
  oc.lr = 1e30f;
  Trainer tr;
  ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, m.d, &ds, &oc, 16, 0), MBRL_OK);
  EXPECT_EQ(mbrl_dynamics_trainer_run(tr.t, 100, nullptr), MBRL_ERR_NUMERIC);
  EXPECT_TRUE(has(mbrl_last_error(), "learning rate")) << mbrl_last_error();
  EXPECT_LT(mbrl_dynamics_trainer_steps(tr.t), 100);
  mbrl_dataset_free(&ds);
}

// A model with zero weights (no BN) predicts delta = delta_mean: errors known by hand.
TEST(Dynamics, EvalOnHandMadeDataset) {
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "Toy-v0", 1, 1), MBRL_OK);
  // Episode A: 5 rows s = 0,1,2,3,4 (delta +1); episode B: 3 rows s = 10, 12, 14 (delta +2).
  for (int t = 0; t < 5; ++t) {
    float s = (float)t, n = s + 1, a = 0;
    ASSERT_EQ(mbrl_dataset_add(&ds, &s, &a, &n, 0, 0, t == 4), MBRL_OK);
  }
  for (int t = 0; t < 3; ++t) {
    float s = 10.0f + 2 * t, n = s + 2, a = 1;
    ASSERT_EQ(mbrl_dataset_add(&ds, &s, &a, &n, 0, t == 2, 0), MBRL_OK);
  }
  mbrl_dataset_stats st;
  std::memset(&st, 0, sizeof st);
  st.state_std[0] = st.action_std[0] = 1.0f;
  st.delta_state_mean[0] = 0.5f;
  st.delta_state_std[0] = 2.0f;
  const int h[1] = {4};
  Model m;
  ASSERT_EQ(mbrl_dynamics_create(&m.d, "Toy-v0", 1, 1, &st, 1, h, 0, MBRL_BACKEND_CPU, 2, 0),
            MBRL_OK);
  std::vector<float> zero(m.d->mlp->n_params, 0.0f);
  ASSERT_EQ(mbrl_mlp_set_params(m.d->mlp, zero.data()), MBRL_OK);
  // Normalized targets: (1-0.5)/2 = 0.25 (5 rows), (2-0.5)/2 = 0.75 (3 rows); prediction 0.
  double mse;
  ASSERT_EQ(mbrl_dynamics_eval_mse(m.d, &ds, &mse), MBRL_OK);
  EXPECT_NEAR(mse, (5 * 0.0625 + 3 * 0.5625) / 8.0, 1e-7);
  // k-step: prediction s_t + 0.5 k vs s_t + k (A) or s_t + 2k (B).
  EXPECT_EQ(mbrl_dynamics_open_loop_starts(&ds, 1), 8u);
  EXPECT_EQ(mbrl_dynamics_open_loop_starts(&ds, 3), 3u + 1u);
  EXPECT_EQ(mbrl_dynamics_open_loop_starts(&ds, 4), 2u);
  EXPECT_EQ(mbrl_dynamics_open_loop_starts(&ds, 6), 0u);
  double r;
  ASSERT_EQ(mbrl_dynamics_open_loop_rmse(m.d, &ds, 1, &r), MBRL_OK);
  EXPECT_NEAR(r, std::sqrt((5 * 0.25 + 3 * 2.25) / 8.0), 1e-6);
  ASSERT_EQ(mbrl_dynamics_open_loop_rmse(m.d, &ds, 3, &r), MBRL_OK);
  EXPECT_NEAR(r, std::sqrt((3 * 1.5 * 1.5 + 1 * 4.5 * 4.5) / 4.0), 1e-5);
  ASSERT_EQ(mbrl_dynamics_open_loop_rmse(m.d, &ds, 4, &r), MBRL_OK);  // only episode A
  EXPECT_NEAR(r, 2.0, 1e-6);
  EXPECT_EQ(mbrl_dynamics_open_loop_rmse(m.d, &ds, 6, &r), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "6 steps")) << mbrl_last_error();
  mbrl_dataset_free(&ds);
}

// CUDA trainer vs CPU trainer: same data, seed, minibatches; 200 steps of loss curves.
TEST(Dynamics, CudaTrainingMatchesCpu) {
  MBRL_REQUIRE_GPU();
  mbrl_dataset ds;
  pendulum_data(&ds, 10, 200, 5);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  std::vector<float> loss[2];
  std::vector<float> pred[2];
  const mbrl_backend be[2] = {MBRL_BACKEND_CPU, MBRL_BACKEND_CUDA};
  for (int k = 0; k < 2; ++k) {
    Model m;
    make_model(&m, ds, 1, 3, be[k], 512);
    Trainer tr;
    ASSERT_EQ(mbrl_dynamics_trainer_create(&tr.t, m.d, &ds, &oc, 128, 9), MBRL_OK)
        << mbrl_last_error();
    loss[k].resize(200);
    ASSERT_EQ(mbrl_dynamics_trainer_run(tr.t, 200, loss[k].data()), MBRL_OK) << mbrl_last_error();
    pred[k] = predict(m.d, ds, 500);
  }
  // Early steps agree closely; float reordering (cuBLAS vs OpenBLAS) grows through Adam, so the
  // tolerance widens: first 20 steps rtol 1e-3, all 200 steps within 10% + 1e-3 of each other.
  EXPECT_LE(mbrl_test::worst_ratio(loss[1].data(), loss[0].data(), 20, 1e-5, 1e-3), 1.0);
  EXPECT_LE(mbrl_test::worst_ratio(loss[1].data(), loss[0].data(), 200, 1e-3, 0.1), 1.0);
  EXPECT_LE(mbrl_test::worst_ratio(pred[1].data(), pred[0].data(), pred[0].size(), 2e-2, 2e-2), 1.0);
  mbrl_dataset_free(&ds);
}
