// tests/test_dyn_ensemble.cpp - the dynamics ensemble (mbrl/dyn_ensemble.h): batched training
// steps against PyTorch (tests/data/ensemble_golden.h5), whole-model gradients by finite
// differences, a one-member deterministic ensemble against the single model, predictions with
// per-row members / expectation / samples, the folded export and plan model, the checkpoint
// round trip and its refusals, the trainer (determinism, bootstrap, learning), and with a GPU
// the CUDA ensemble against the CPU one.
#include <omp.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ensemble_golden.h"
#include "testing.h"

extern "C" {
#include "mbrl/dataset.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/philox.h"
#include "mbrl/planner.h"
}

using mbrl_test::has;
using mbrl_test::randn;
using mbrl_test::TempDir;
using mbrl_test::worst_ratio;

namespace {

using ensemble_golden::check;
const std::string &kGolden = ensemble_golden::path();
const char *kHint = ensemble_golden::hint();
std::vector<float> h5read(const std::string &file, const std::string &name) {
  return ensemble_golden::read(file, name);
}

using mbrl_test::pendulum_data; // random-policy Pendulum-v1 episodes, stats computed

struct Ens {
  mbrl_dyn_ensemble *e = nullptr;
  ~Ens() { mbrl_dyn_ensemble_free(e); }
};
struct Opt {
  mbrl_optim *o = nullptr;
  ~Opt() { mbrl_optim_free(o); }
};
struct Trainer {
  mbrl_dyn_ensemble_trainer *t = nullptr;
  ~Trainer() { mbrl_dyn_ensemble_trainer_free(t); }
};
struct Data {
  mbrl_dataset d{};
  ~Data() { mbrl_dataset_free(&d); }
};

mbrl_dyn_ensemble_config config(int M, int prob, int h0 = 64, int h1 = 64) {
  mbrl_dyn_ensemble_config c;
  mbrl_dyn_ensemble_config_init(&c);
  c.members = M;
  c.probabilistic = prob;
  c.hidden[0] = h0;
  c.hidden[1] = h1;
  return c;
}

std::vector<float> params_of(const mbrl_dyn_ensemble *e) {
  std::vector<float> p(e->n_params);
  EXPECT_EQ(mbrl_dyn_ensemble_get_params(e, p.data()), MBRL_OK) << mbrl_last_error();
  return p;
}
std::vector<float> buffers_of(const mbrl_dyn_ensemble *e) {
  std::vector<float> b((size_t)e->cfg.members * e->member_buffers);
  EXPECT_EQ(mbrl_dyn_ensemble_get_buffers(e, b.data()), MBRL_OK) << mbrl_last_error();
  return b;
}

// ---------------------------------------------------------------- PyTorch golden steps

// Tolerances (float32 both sides, different summation orders), as tests/test_mlp_golden.cpp:
//   forward outputs atol 2e-5 rtol 1e-4; losses rtol 1e-5; gradients atol 2e-5 rtol 1e-3;
//   after 3 Adam steps (lr 0.01) atol 3e-5 rtol 1e-3 EXCEPT the biases of the Linear layers
//   followed by BatchNorm (gradient mathematically 0, float noise that Adam normalizes into
//   full steps): atol 3 * lr * 1.5, and the running means 0.3 * that; running variances atol
//   1e-5 rtol 1e-4.
void golden_case(const std::string &g, int M, int prob) {
  SCOPED_TRACE(g);
  mbrl_dyn_ensemble_config c = config(M, prob);
  Ens E, F; // E trains; F (same init) gives the step-0 forward without side effects on E
  ASSERT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 32, 0), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_create(&F.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 32, 0), MBRL_OK);
  mbrl_dyn_ensemble *e = E.e;
  const std::vector<float> init = h5read(kGolden, g + "/init/params");
  ASSERT_EQ(init.size(), e->n_params) << kHint;
  ASSERT_EQ(mbrl_dyn_ensemble_set_params(e, init.data()), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_set_params(F.e, init.data()), MBRL_OK);
  EXPECT_EQ(buffers_of(e), h5read(kGolden, g + "/init/buffers")) << "BN running stats start at 0 / 1";
  const std::vector<float> x = h5read(kGolden, g + "/x"), y = h5read(kGolden, g + "/y");
  const int B = 32, O = 3, in = 4;
  const size_t sx = (size_t)M * B * in, sy = (size_t)M * B * O;
  ASSERT_EQ(x.size(), 3 * sx);

  // step 0's train-mode forward
  std::vector<float> out((size_t)M * B * mbrl_dyn_ensemble_out_dim(e));
  ASSERT_EQ(mbrl_dyn_ensemble_forward_backend(F.e, x.data(), B, (size_t)B * in, out.data(), 1), MBRL_OK);
  std::vector<float> mean(sy), lv(sy);
  if (prob) {
    const std::vector<float> bnd(init.end() - 2 * O, init.end());
    mbrl_nnb_gaussian_split(mean.data(), lv.data(), out.data(), bnd.data(), bnd.data() + O,
                            (size_t)M * B, O);
    check("step0 logvar", lv, h5read(kGolden, g + "/step0/logvar"), 2e-5, 1e-4);
  } else {
    mean = out;
  }
  check("step0 mean", mean, h5read(kGolden, g + "/step0/mean"), 2e-5, 1e-4);

  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  Opt O_;
  ASSERT_EQ(mbrl_dyn_ensemble_optim_create(&O_.o, &oc, e), MBRL_OK);
  std::vector<float> losses(3), ml(M);
  for (int s = 0; s < 3; ++s) {
    ASSERT_EQ(mbrl_dyn_ensemble_train_step_backend(e, O_.o, x.data() + s * sx, y.data() + s * sy,
                                                   B, &losses[s], s == 0 ? ml.data() : nullptr),
              MBRL_OK) << mbrl_last_error();
    if (s == 0) {
      std::vector<float> grads(e->n_params);
      ASSERT_EQ(mbrl_dyn_ensemble_get_grads(e, grads.data()), MBRL_OK);
      check("step0 member losses", ml, h5read(kGolden, g + "/step0/member_loss"), 0, 1e-5);
      check("step0 gradients", grads, h5read(kGolden, g + "/step0/grads"), 2e-5, 1e-3);
    }
  }
  check("losses of 3 Adam steps", losses, h5read(kGolden, g + "/losses"), 0, 1e-5);
  EXPECT_EQ(e->num_batches_tracked, 3);

  // final state, with the loose tolerance where BatchNorm makes the gradient float noise
  const std::vector<float> got = params_of(e), want = h5read(kGolden, g + "/final/params");
  ASSERT_EQ(want.size(), got.size());
  const double loose = 3 * 0.01 * 1.5;
  std::vector<int> is_loose(got.size(), 0);
  for (int m = 0; m < M; ++m)
    for (int l = 0; l < e->member_cfg.n_layers - 1; ++l)
      for (int k = 0; k < e->member_cfg.sizes[l + 1]; ++k)
        is_loose[(size_t)m * e->member_params + e->b_off[l] + (size_t)k] = 1;
  std::vector<float> gs, ws, gl, wl;
  for (size_t i = 0; i < got.size(); ++i) {
    (is_loose[i] ? gl : gs).push_back(got[i]);
    (is_loose[i] ? wl : ws).push_back(want[i]);
  }
  check("final params (but pre-BN biases)", gs, ws, 3e-5, 1e-3);
  check("final pre-BN biases", gl, wl, loose, 0);
  const std::vector<float> gb = buffers_of(e), wb = h5read(kGolden, g + "/final/buffers");
  ASSERT_EQ(gb.size(), wb.size());
  std::vector<float> gm, wm, gv, wv;
  for (int m = 0; m < M; ++m)
    for (int l = 0; l < e->member_cfg.n_layers - 1; ++l)
      for (int k = 0; k < e->member_cfg.sizes[l + 1]; ++k) {
        const size_t rm = (size_t)m * e->member_buffers + e->rmean_off[l] + (size_t)k;
        const size_t rv = (size_t)m * e->member_buffers + e->rvar_off[l] + (size_t)k;
        gm.push_back(gb[rm]), wm.push_back(wb[rm]), gv.push_back(gb[rv]), wv.push_back(wb[rv]);
      }
  check("final running means", gm, wm, 0.3 * loose, 0);
  check("final running vars", gv, wv, 1e-5, 1e-4);

  if (prob) { // eval mode after the steps (running statistics; stats mean 0 std 1)
    const std::vector<float> xe = h5read(kGolden, g + "/eval/x");
    const int n = (int)(xe.size() / 4);
    std::vector<float> obs((size_t)n * 3), act((size_t)n);
    for (int i = 0; i < n; ++i) {
      std::copy(xe.begin() + 4 * i, xe.begin() + 4 * i + 3, obs.begin() + 3 * i);
      act[(size_t)i] = xe[(size_t)4 * i + 3];
    }
    std::vector<float> em((size_t)M * n * 3), el(em.size());
    ASSERT_EQ(mbrl_dyn_ensemble_predict_all(e, obs.data(), act.data(), n, em.data(), el.data()), MBRL_OK);
    // the eval outputs inherit the Adam-step differences of the pre-BN biases through the
    // running means: atol as the running means' influence (gamma * 0.3 * loose / std ~ 1e-2)
    check("eval mean after 3 steps", em, h5read(kGolden, g + "/eval/mean"), 2e-2, 1e-3);
    check("eval logvar after 3 steps", el, h5read(kGolden, g + "/eval/logvar"), 2e-2, 1e-3);
  }
}

TEST(DynEnsembleGolden, ProbabilisticAdamStepsMatchPyTorch) { golden_case("prob", 3, 1); }
TEST(DynEnsembleGolden, DeterministicAdamStepsMatchPyTorch) { golden_case("det", 2, 0); }

// ---------------------------------------------------------------- finite differences

// Whole-model gradient of the total NLL (BatchNorm in train mode, ReLU, learned bounds) by
// central differences on float parameters, for every parameter of both members and the bounds.
// A ReLU kink crossed within +-h makes a central difference meaningless; such entries are
// recognised by two step sizes disagreeing (h = 1e-2 and 5e-3: on a smooth function they agree
// to O(h^2) ~ 1e-4, across a kink they differ by O(|jump|)) and skipped (counted, at most 5%).
// The h = 5e-3 estimate is compared: float forward noise ~1e-6 / 2h ~ 1e-4, truncation ~1e-4;
// tolerance atol 2e-3, rtol 2e-2 as the mlp FD test.
TEST(DynEnsembleFd, WholeModelGradients) {
  mbrl_dyn_ensemble_config c = config(2, 1, 6, 5);
  Ens E;
  ASSERT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 8, 5), MBRL_OK);
  mbrl_dyn_ensemble *e = E.e;
  std::vector<float> p = params_of(e);
  std::vector<float> noise = randn(p.size(), 41, 0.3f);
  for (size_t i = 0; i < e->max_logvar_off; ++i) p[i] += noise[i]; // non-trivial biases, BN affine
  p[e->max_logvar_off + 0] = 0.2f, p[e->max_logvar_off + 1] = -0.3f, p[e->max_logvar_off + 2] = 0.6f;
  p[e->min_logvar_off + 0] = -2.0f, p[e->min_logvar_off + 1] = -3.0f, p[e->min_logvar_off + 2] = -1.5f;
  ASSERT_EQ(mbrl_dyn_ensemble_set_params(e, p.data()), MBRL_OK);
  const int M = 2, B = 6, O = 3;
  std::vector<float> x = randn((size_t)M * B * 4, 42), y = randn((size_t)M * B * O, 43, 0.5f);
  std::vector<float> out((size_t)M * B * 2 * O), dout(out.size());
  auto L = [&](const std::vector<float> &pp) {
    EXPECT_EQ(mbrl_dyn_ensemble_set_params(e, pp.data()), MBRL_OK);
    EXPECT_EQ(mbrl_dyn_ensemble_forward_backend(e, x.data(), B, (size_t)B * 4, out.data(), 1), MBRL_OK);
    float l = 0;
    mbrl_nnb_gaussian_nll(&l, nullptr, nullptr, nullptr, nullptr, out.data(), y.data(),
                          pp.data() + e->max_logvar_off, pp.data() + e->min_logvar_off, M, B, O,
                          0.01f);
    return (double)l;
  };
  L(p); // the forward at p, for the backward below
  std::vector<float> dmax(O), dmin(O);
  mbrl_nnb_gaussian_nll(nullptr, nullptr, dout.data(), dmax.data(), dmin.data(), out.data(),
                        y.data(), p.data() + e->max_logvar_off, p.data() + e->min_logvar_off, M,
                        B, O, 0.01f);
  ASSERT_EQ(mbrl_dyn_ensemble_backward_backend(e, dout.data()), MBRL_OK);
  std::vector<float> g(e->n_params);
  ASSERT_EQ(mbrl_dyn_ensemble_get_grads(e, g.data()), MBRL_OK);
  std::copy(dmax.begin(), dmax.end(), g.begin() + (long)e->max_logvar_off);
  std::copy(dmin.begin(), dmin.end(), g.begin() + (long)e->min_logvar_off);
  auto central = [&](size_t i, float h) {
    std::vector<float> a = p, b = p;
    a[i] += h, b[i] -= h;
    return (L(a) - L(b)) / (2.0 * (double)h);
  };
  std::vector<float> got, fd;
  int skipped = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double f1 = central(i, 1e-2f), f2 = central(i, 5e-3f);
    if (std::fabs(f1 - f2) > 1e-3 + 1e-2 * std::fabs(f2)) {
      ++skipped;
      continue;
    }
    got.push_back(g[i]);
    fd.push_back((float)f2);
  }
  std::printf("  %d of %zu entries skipped (ReLU kink within h)\n", skipped, p.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (std::fabs(got[i] - fd[i]) > 2e-3 + 2e-2 * std::fabs(fd[i]))
      std::printf("  entry %zu: analytic %g fd %g\n", i, got[i], fd[i]);
  EXPECT_LE(skipped, (int)(0.05 * (double)p.size()));
  check("fd whole-model gradient", got, fd, 2e-3, 2e-2);
}

// ---------------------------------------------------------------- vs the single model

// A one-member deterministic ensemble without bootstrap is the seed's model: same init from
// the same seed (bit for bit), the same minibatches, the same loss; the per-step losses agree
// to float rounding (the single model's CPU path uses fused kernels of its own).
TEST(DynEnsemble, OneDeterministicMemberTracksTheSingleModel) {
  Data D;
  pendulum_data(&D.d, 4, 100, 7);
  const int hidden[2] = {64, 64};
  mbrl_dynamics *d = nullptr;
  ASSERT_EQ(mbrl_dynamics_create(&d, "Pendulum-v1", 3, 1, &D.d.stats, 2, hidden, 1,
                                 MBRL_BACKEND_CPU, 64, 11), MBRL_OK);
  mbrl_dyn_ensemble_config c = config(1, 0);
  Ens E;
  ASSERT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, &D.d.stats, &c, MBRL_BACKEND_CPU, 64, 11), MBRL_OK);
  std::vector<float> ps(d->mlp->n_params);
  ASSERT_EQ(mbrl_mlp_get_params(d->mlp, ps.data()), MBRL_OK);
  EXPECT_EQ(params_of(E.e), ps) << "member 0's init differs from the single model's";
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  mbrl_dynamics_trainer *ts = nullptr;
  Trainer T;
  ASSERT_EQ(mbrl_dynamics_trainer_create(&ts, d, &D.d, &oc, 32, 99), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_create(&T.t, E.e, &D.d, &oc, 32, 0, 99), MBRL_OK);
  std::vector<float> a(40), b(40);
  ASSERT_EQ(mbrl_dynamics_trainer_run(ts, 40, a.data()), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_run(T.t, 40, b.data()), MBRL_OK);
  check("per-step losses, ensemble of 1 vs single model", b, a, 1e-6, 2e-3);
  double ms, me;
  ASSERT_EQ(mbrl_dynamics_eval_mse(d, &D.d, &ms), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_evaluate(E.e, &D.d, nullptr, nullptr, &me), MBRL_OK);
  // The two CPU paths round differently (the single model's fused, ReLU-sparse kernels vs the
  // public per-op ones), and 40 Adam steps at lr 0.01 amplify that: measured here -0.4% apart on
  // the avx512 path, +6.5% on avx2 and +3.1% on generic, so the bound is 20%, not a rounding
  // tolerance.
  std::printf("  eval MSE: ensemble of 1 %.6f, single model %.6f (%+.1f%%)\n", me, ms,
              100.0 * (me - ms) / ms);
  EXPECT_NEAR(me, ms, 0.2 * ms);
  mbrl_dynamics_trainer_free(ts);
  mbrl_dynamics_free(d);
}

// ---------------------------------------------------------------- predictions

struct Trained {
  Data D, V;
  Ens E;
  void make(int M, int prob, mbrl_backend be = MBRL_BACKEND_CPU, int steps = 60) {
    pendulum_data(&D.d, 6, 100, 3);
    pendulum_data(&V.d, 2, 100, 4);
    mbrl_dyn_ensemble_config c = config(M, prob, 32, 32);
    c.n_elites = M > 2 ? M - 1 : M;
    ASSERT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, &D.d.stats, &c, be, 64, 21), MBRL_OK);
    mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
    Trainer T;
    ASSERT_EQ(mbrl_dyn_ensemble_trainer_create(&T.t, E.e, &D.d, &oc, 32, 1, 5), MBRL_OK);
    ASSERT_EQ(mbrl_dyn_ensemble_trainer_run(T.t, steps, nullptr), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_dyn_ensemble_select_elites(E.e, &V.d), MBRL_OK);
  }
};

void random_inputs(int B, std::vector<float> *obs, std::vector<float> *act, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> th(-3.14159f, 3.14159f), w(-8, 8), u(-2, 2);
  obs->resize((size_t)B * 3);
  act->resize((size_t)B);
  for (int i = 0; i < B; ++i) {
    const float t = th(g);
    (*obs)[(size_t)3 * i] = std::cos(t), (*obs)[(size_t)3 * i + 1] = std::sin(t);
    (*obs)[(size_t)3 * i + 2] = w(g);
    (*act)[(size_t)i] = u(g);
  }
}

TEST(DynEnsemble, PredictWithMembersExpectationAndSamples) {
  Trained T;
  T.make(4, 1);
  mbrl_dyn_ensemble *e = T.E.e;
  const int M = 4, B = 150, O = 3; // B > max_batch (64): chunked
  std::vector<float> obs, act;
  random_inputs(B, &obs, &act, 9);
  std::vector<float> am((size_t)M * B * O), al(am.size());
  ASSERT_EQ(mbrl_dyn_ensemble_predict_all(e, obs.data(), act.data(), B, am.data(), al.data()), MBRL_OK);
  // per-row members (TS1 / TSinf): row i = member m's row i of predict_all (a different row
  // grouping only changes the products' rounding)
  std::vector<int> mem(B);
  for (int i = 0; i < B; ++i) mem[i] = (i * 7 + i / 5) % M;
  std::vector<float> pm((size_t)B * O), pl(pm.size()), wm(pm.size()), wl(pm.size());
  ASSERT_EQ(mbrl_dyn_ensemble_predict(e, obs.data(), act.data(), mem.data(), B, pm.data(), pl.data()), MBRL_OK);
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < O; ++j) {
      wm[(size_t)i * O + j] = am[((size_t)mem[i] * B + i) * O + j];
      wl[(size_t)i * O + j] = al[((size_t)mem[i] * B + i) * O + j];
    }
  check("predict(members) mean vs predict_all", pm, wm, 1e-5, 1e-5);
  check("predict(members) logvar vs predict_all", pl, wl, 1e-5, 1e-5);
  for (float v : pl) {
    EXPECT_LE(v, 0.5f + 1e-3f);
    EXPECT_GE(v, -10.0f);
  }
  // expectation: the mean over the elites
  std::vector<float> em(pm.size()), el(pm.size());
  ASSERT_EQ(mbrl_dyn_ensemble_predict(e, obs.data(), act.data(), nullptr, B, em.data(), el.data()), MBRL_OK);
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < O; ++j) {
      double s = 0, t = 0;
      for (int k = 0; k < e->cfg.n_elites; ++k) {
        s += am[((size_t)e->elites[k] * B + i) * O + j];
        t += al[((size_t)e->elites[k] * B + i) * O + j];
      }
      wm[(size_t)i * O + j] = (float)(s / e->cfg.n_elites);
      wl[(size_t)i * O + j] = (float)(t / e->cfg.n_elites);
    }
  check("expectation mean = mean over elites", em, wm, 1e-6, 1e-5);
  check("expectation logvar = mean over elites", el, wl, 1e-6, 1e-5);
  // next states: mean and a sample with the documented noise
  std::vector<float> nm((size_t)B * O), ns((size_t)B * O);
  ASSERT_EQ(mbrl_dyn_ensemble_predict_next(e, obs.data(), act.data(), mem.data(), B, 0, 0, nm.data()), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_predict_next(e, obs.data(), act.data(), mem.data(), B, 1, 1234, ns.data()), MBRL_OK);
  const mbrl_dataset_stats &s = e->stats;
  std::vector<float> want_m(nm.size()), want_s(ns.size());
  for (int i = 0; i < B; ++i) {
    float eps[MBRL_MAX_DIM];
    mbrl_dyn_ensemble_noise(1234, (uint64_t)i, O, eps);
    for (int j = 0; j < O; ++j) {
      const size_t k = (size_t)i * O + j;
      want_m[k] = obs[k] + (pm[k] * s.delta_state_std[j] + s.delta_state_mean[j]);
      const float d = pm[k] + std::exp(0.5f * pl[k]) * eps[j];
      want_s[k] = obs[k] + (d * s.delta_state_std[j] + s.delta_state_mean[j]);
    }
  }
  check("predict_next mean", nm, want_m, 1e-5, 1e-5);
  check("predict_next sample", ns, want_s, 1e-5, 1e-5);
  // deterministic ensembles refuse what they cannot give
  Trained D;
  D.make(2, 0, MBRL_BACKEND_CPU, 10);
  EXPECT_EQ(mbrl_dyn_ensemble_predict(D.E.e, obs.data(), act.data(), nullptr, 4, pm.data(), pl.data()),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_dyn_ensemble_predict_next(D.E.e, obs.data(), act.data(), nullptr, 4, 1, 0, ns.data()),
            MBRL_ERR_INVALID_ARG);
  mem[3] = 9;
  EXPECT_EQ(mbrl_dyn_ensemble_predict(e, obs.data(), act.data(), mem.data(), B, pm.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "members[3] = 9")) << mbrl_last_error();
}

TEST(DynEnsemble, NoiseIsStandardNormal) {
  const int n = 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n / 4; ++i) {
    float eps[4];
    mbrl_dyn_ensemble_noise(77, (uint64_t)i, 4, eps);
    for (float v : eps) s += v, s2 += (double)v * v;
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01); // 4.5 standard errors
  EXPECT_NEAR(var, 1.0, 0.015);
  // member draws cover the elites uniformly
  const int el[3] = {4, 0, 2};
  int count[5] = {0};
  mbrl_philox rng;
  mbrl_philox_init(&rng, 5, 0, 0);
  for (int i = 0; i < 30000; ++i) count[mbrl_dyn_ensemble_draw_member(&rng, el, 3)]++;
  EXPECT_EQ(count[1] + count[3], 0);
  for (int m : el) EXPECT_NEAR(count[m], 10000, 400);
}

TEST(DynEnsemble, ExportAndPlanModelMatchPredict) {
  Trained T;
  T.make(3, 1);
  mbrl_dyn_ensemble *e = T.E.e;
  const int B = 40, O = 3;
  std::vector<float> obs, act;
  random_inputs(B, &obs, &act, 10);
  std::vector<int> mem(B);
  for (int i = 0; i < B; ++i) mem[i] = i % 3;
  std::vector<float> pm((size_t)B * O), pl(pm.size()), xm(pm.size()), xl(pm.size());
  ASSERT_EQ(mbrl_dyn_ensemble_predict(e, obs.data(), act.data(), mem.data(), B, pm.data(), pl.data()), MBRL_OK);
  mbrl_dyn_ensemble_export *x = nullptr;
  ASSERT_EQ(mbrl_dyn_ensemble_export_folded(e, &x), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(x->members, 3);
  EXPECT_EQ(x->n_layers, 3);
  EXPECT_EQ(x->sizes[3], 2 * O);
  EXPECT_EQ(x->member_params, (size_t)(4 * 32 + 32 + 32 * 32 + 32 + 32 * 6 + 6));
  EXPECT_EQ(x->n_elites, e->cfg.n_elites);
  EXPECT_EQ(x->elites[0], e->elites[0]);
  ASSERT_EQ(mbrl_dyn_ensemble_export_step(x, obs.data(), act.data(), mem.data(), B, xm.data(), xl.data()), MBRL_OK);
  // folding BN changes rounding only (W' = W * gamma / sqrt(var + eps) in double, then float)
  check("export (BN folded) mean vs predict", xm, pm, 1e-4, 1e-4);
  check("export (BN folded) logvar vs predict", xl, pl, 1e-4, 1e-4);
  // member m's mean head as the planner's model type: the same next states as predict_next
  for (int m = 0; m < 3; ++m) {
    mbrl_plan_model *pmod = nullptr;
    ASSERT_EQ(mbrl_dyn_ensemble_plan_model(e, m, &pmod), MBRL_OK) << mbrl_last_error();
    std::vector<int> all(B, m);
    std::vector<float> a((size_t)B * O), b((size_t)B * O);
    ASSERT_EQ(mbrl_plan_model_step(pmod, obs.data(), act.data(), B, a.data()), MBRL_OK);
    ASSERT_EQ(mbrl_dyn_ensemble_predict_next(e, obs.data(), act.data(), all.data(), B, 0, 0, b.data()), MBRL_OK);
    check("plan model of member " + std::to_string(m) + " vs predict_next", a, b, 1e-4, 1e-4);
    // its weights are the export's, first obs rows of the last layer
    for (int l = 0; l < pmod->n_layers; ++l) {
      const size_t n = (size_t)pmod->sizes[l + 1] * (size_t)pmod->sizes[l];
      EXPECT_EQ(0, std::memcmp(pmod->params + pmod->w_off[l],
                               x->params + (size_t)m * x->member_params + x->w_off[l], n * sizeof(float)));
    }
    mbrl_plan_model_free(pmod);
  }
  mbrl_dyn_ensemble_export_free(x);
}

// ---------------------------------------------------------------- checkpoint

TEST(DynEnsemble, CheckpointRoundTripAndLayout) {
  TempDir dir;
  const std::string path = dir.file("ens.h5");
  Trained T;
  T.make(3, 1);
  mbrl_dyn_ensemble *e = T.E.e;
  ASSERT_EQ(mbrl_dyn_ensemble_set_config(e, "{\"note\": \"test\"}"), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_save(e, path.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_TRUE(mbrl_dyn_ensemble_is_file(path.c_str()));
  Ens L;
  ASSERT_EQ(mbrl_dyn_ensemble_load(path.c_str(), MBRL_BACKEND_CPU, 100, &L.e), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(params_of(L.e), params_of(e));
  EXPECT_EQ(buffers_of(L.e), buffers_of(e));
  EXPECT_EQ(L.e->num_batches_tracked, e->num_batches_tracked);
  EXPECT_EQ(L.e->cfg.n_elites, e->cfg.n_elites);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(L.e->elites[k], e->elites[k]);
    EXPECT_FLOAT_EQ((float)L.e->val_mse[k], (float)e->val_mse[k]);
    EXPECT_FLOAT_EQ((float)L.e->val_nll[k], (float)e->val_nll[k]);
  }
  EXPECT_STREQ(L.e->config_json, "{\"note\": \"test\"}");
  EXPECT_EQ(0, std::memcmp(&L.e->stats, &e->stats, sizeof e->stats));
  // the documented names and shapes
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t dims[4];
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "/model/members/2/network/0/weight", dims, 4), 2);
  EXPECT_EQ(dims[0], 32u);
  EXPECT_EQ(dims[1], 4u);
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "/model/members/0/network/6/weight", dims, 4), 2);
  EXPECT_EQ(dims[0], 6u);
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "/model/members/1/network/1/running_var", dims, 4), 1);
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "/model/max_logvar", dims, 4), 2);
  EXPECT_EQ(dims[0], 1u);
  EXPECT_EQ(dims[1], 3u);
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "/validation/mse", dims, 4), 1);
  EXPECT_EQ(mbrl_h5_dataset_rank(f, "/normalizer/delta_state_std", dims, 4), 1);
  H5Fclose(f);
  // predictions of the loaded model are the saved model's, bit for bit
  std::vector<float> obs, act;
  random_inputs(30, &obs, &act, 12);
  std::vector<float> a(90), b(90);
  ASSERT_EQ(mbrl_dyn_ensemble_predict(e, obs.data(), act.data(), nullptr, 30, a.data(), nullptr), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_predict(L.e, obs.data(), act.data(), nullptr, 30, b.data(), nullptr), MBRL_OK);
  EXPECT_EQ(a, b);
}

// Overwrite root attribute `name` with an int64 array (for damaged-file tests).
void set_attr_i64(const std::string &path, const char *name, const std::vector<int64_t> &v) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  if (H5Aexists(f, name) > 0) H5Adelete(f, name);
  hsize_t n = v.size();
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, v.data());
  H5Aclose(a);
  H5Sclose(sp);
  H5Fclose(f);
}

TEST(DynEnsemble, LoadRefusesBadFiles) {
  TempDir dir;
  const std::string good = dir.file("ens.h5");
  Trained T;
  T.make(3, 1, MBRL_BACKEND_CPU, 10);
  ASSERT_EQ(mbrl_dyn_ensemble_save(T.E.e, good.c_str()), MBRL_OK);
  Ens L;
  auto expect_refused = [&](const std::string &p, mbrl_status code, const std::string &msg) {
    SCOPED_TRACE(msg);
    EXPECT_EQ(mbrl_dyn_ensemble_load(p.c_str(), MBRL_BACKEND_CPU, 16, &L.e), code);
    EXPECT_EQ(L.e, nullptr);
    EXPECT_TRUE(has(mbrl_last_error(), msg)) << mbrl_last_error();
  };
  expect_refused(dir.file("missing.h5"), MBRL_ERR_IO, "missing.h5");
  // a single-model checkpoint is another format
  Trained S;
  const int hidden[2] = {16, 16};
  mbrl_dynamics *d = nullptr;
  ASSERT_EQ(mbrl_dynamics_create(&d, "Pendulum-v1", 3, 1, nullptr, 2, hidden, 1, MBRL_BACKEND_CPU, 8, 0), MBRL_OK);
  ASSERT_EQ(mbrl_dynamics_save(d, dir.file("single.h5").c_str()), MBRL_OK);
  mbrl_dynamics_free(d);
  EXPECT_FALSE(mbrl_dyn_ensemble_is_file(dir.file("single.h5").c_str()));
  expect_refused(dir.file("single.h5"), MBRL_ERR_FORMAT, "mbrl.dyn_ensemble");
  // truncated
  {
    const std::string bytes = mbrl_test::read_file(good);
    FILE *f = std::fopen(dir.file("trunc.h5").c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size() / 2, f);
    std::fclose(f);
    expect_refused(dir.file("trunc.h5"), MBRL_ERR_FORMAT, "trunc.h5");
  }
  auto copy = [&](const std::string &name) {
    const std::string bytes = mbrl_test::read_file(good), p = dir.file(name);
    FILE *f = std::fopen(p.c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return p;
  };
  // an edit behind mbrl's back: the seal no longer matches, nothing is parsed
  std::string p = copy("edited.h5");
  set_attr_i64(p, "elites", {0, 3});
  expect_refused(p, MBRL_ERR_FORMAT, "'" + p + "' is damaged");
  // the same edits with a fresh seal (a forged file): the loader's own checks refuse them
  auto forge = [&](const std::string &path) {
    ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK) << mbrl_last_error();
  };
  p = copy("elites.h5");
  set_attr_i64(p, "elites", {0, 3});
  forge(p);
  expect_refused(p, MBRL_ERR_FORMAT, "elites[1] = 3");
  p = copy("elites2.h5");
  set_attr_i64(p, "elites", {1, 1});
  forge(p);
  expect_refused(p, MBRL_ERR_FORMAT, "repeated");
  p = copy("members.h5");
  set_attr_i64(p, "members", {4});
  forge(p);
  expect_refused(p, MBRL_ERR_FORMAT, "members");
  p = copy("hidden.h5");
  set_attr_i64(p, "hidden", {32, 16});
  forge(p);
  expect_refused(p, MBRL_ERR_FORMAT, "hidden");
  // a member without its last layer
  p = copy("nolayer.h5");
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    EXPECT_GE(H5Ldelete(f, "/model/members/1/network/6/weight", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  forge(p);
  expect_refused(p, MBRL_ERR_FORMAT, "nolayer.h5");
  // NaN in a weight
  p = copy("nan.h5");
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t ds = H5Dopen2(f, "/model/members/2/network/3/bias", H5P_DEFAULT);
    std::vector<float> v(32, NAN);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(ds);
    H5Fclose(f);
  }
  forge(p);  // the weights no longer match their sha256 attribute
  expect_refused(p, MBRL_ERR_FORMAT, "members/2/network/3/bias do not match its SHA-256");
  // the good file still loads
  ASSERT_EQ(mbrl_dyn_ensemble_load(good.c_str(), MBRL_BACKEND_CPU, 16, &L.e), MBRL_OK);
}

// ---------------------------------------------------------------- trainer

TEST(DynEnsemble, TrainerIsDeterministicBootstrapsAndLearns) {
  Data D, V;
  pendulum_data(&D.d, 10, 100, 31);
  pendulum_data(&V.d, 3, 100, 32);
  mbrl_dyn_ensemble_config c = config(3, 1, 32, 32);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  std::vector<float> l[2], params[2];
  const int saved_threads = omp_get_max_threads();
  for (int run = 0; run < 2; ++run) {
    // run 0 on one thread, run 1 on three: the members' ops run in parallel (nn_batched.c)
    // and must give the same bits for every thread count
    omp_set_num_threads(run == 0 ? 1 : 3);
    Ens E;
    Trainer T;
    ASSERT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, &D.d.stats, &c, MBRL_BACKEND_CPU, 64, 8), MBRL_OK);
    ASSERT_EQ(mbrl_dyn_ensemble_trainer_create(&T.t, E.e, &D.d, &oc, 64, 1, 8), MBRL_OK);
    l[run].resize(400);
    ASSERT_EQ(mbrl_dyn_ensemble_trainer_run(T.t, 150, l[run].data()), MBRL_OK);
    ASSERT_EQ(mbrl_dyn_ensemble_trainer_run(T.t, 250, l[run].data() + 150), MBRL_OK);
    EXPECT_EQ(mbrl_dyn_ensemble_trainer_steps(T.t), 400);
    params[run] = params_of(E.e);
    if (run == 1) {
      double mse[3], nll[3], ens;
      ASSERT_EQ(mbrl_dyn_ensemble_evaluate(E.e, &V.d, mse, nll, &ens), MBRL_OK);
      std::printf("  held-out MSE per member %.4f %.4f %.4f, ensemble mean %.4f; NLL %.3f %.3f %.3f\n",
                  mse[0], mse[1], mse[2], ens, nll[0], nll[1], nll[2]);
      for (int m = 0; m < 3; ++m) {
        EXPECT_LT(mse[m], 0.05) << "member " << m << " did not learn the pendulum";
        EXPECT_LT(nll[m], -1.0) << "member " << m << " has no useful variance";
      }
      EXPECT_LE(ens, *std::max_element(mse, mse + 3));
      // bootstrap: the members differ (different resamples and orders)
      std::vector<float> p = params_of(E.e);
      EXPECT_NE(0, std::memcmp(p.data(), p.data() + E.e->member_params, 100 * sizeof(float)));
      // elites ranked by held-out MSE
      ASSERT_EQ(mbrl_dyn_ensemble_select_elites(E.e, &V.d), MBRL_OK);
      EXPECT_LE(E.e->val_mse[E.e->elites[0]], E.e->val_mse[E.e->elites[1]]);
      EXPECT_LE(E.e->val_mse[E.e->elites[1]], E.e->val_mse[E.e->elites[2]]);
    }
  }
  omp_set_num_threads(saved_threads);
  EXPECT_EQ(l[0], l[1]) << "the same seed must repeat the run bit for bit (1 and 3 threads)";
  EXPECT_EQ(params[0], params[1]) << "1 and 3 threads must train the same weights";
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) first += l[0][i], last += l[0][380 + i];
  EXPECT_LT(last, first - 20 * 2.0) << "the NLL did not fall";
}

TEST(DynEnsemble, RefusesBadArguments) {
  mbrl_dyn_ensemble_config c = config(0, 1);
  Ens E;
  EXPECT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 8, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "members")) << mbrl_last_error();
  c = config(3, 1);
  c.n_elites = 4;
  EXPECT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 8, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "elites")) << mbrl_last_error();
  c = config(3, 1);
  c.min_logvar_init = 1.0f;
  EXPECT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 8, 0), MBRL_ERR_INVALID_ARG);
  c = config(2, 1);
  ASSERT_EQ(mbrl_dyn_ensemble_create(&E.e, "Pendulum-v1", 3, 1, nullptr, &c, MBRL_BACKEND_CPU, 8, 0), MBRL_OK);
  Data D;
  pendulum_data(&D.d, 1, 20, 1);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  Trainer T;
  EXPECT_EQ(mbrl_dyn_ensemble_trainer_create(&T.t, E.e, &D.d, &oc, 16, 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "max_batch")) << mbrl_last_error();
  EXPECT_EQ(mbrl_dyn_ensemble_trainer_create(&T.t, E.e, &D.d, &oc, 1, 1, 0), MBRL_ERR_INVALID_ARG);
  std::vector<float> x(2 * 9 * 4), out(2 * 9 * 6);
  EXPECT_EQ(mbrl_dyn_ensemble_forward_backend(E.e, x.data(), 9, 36, out.data(), 1), MBRL_ERR_INVALID_ARG);
  // a NaN loss stops the trainer with the step named
  mbrl_optim_config huge = mbrl_optim_adam_config(1e30f, 0.9f, 0.999f);
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_create(&T.t, E.e, &D.d, &huge, 8, 1, 0), MBRL_OK);
  std::vector<float> losses(50);
  EXPECT_EQ(mbrl_dyn_ensemble_trainer_run(T.t, 50, losses.data()), MBRL_ERR_NUMERIC);
  EXPECT_TRUE(has(mbrl_last_error(), "at step")) << mbrl_last_error();
}

// ---------------------------------------------------------------- CUDA vs CPU

// The CUDA ensemble trains on the same minibatches from the same init: per-step losses agree
// to float rounding of different summation orders over 30 steps (rtol 1e-3), predictions of
// the two trained models within 1e-3 (Adam amplifies the pre-BN bias noise, see the golden test).
TEST(DynEnsembleCuda, TrainingAndPredictionMatchCpu) {
  MBRL_REQUIRE_GPU();
  Data D;
  pendulum_data(&D.d, 6, 100, 3);
  mbrl_dyn_ensemble_config c = config(5, 1);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  Ens C, G;
  ASSERT_EQ(mbrl_dyn_ensemble_create(&C.e, "Pendulum-v1", 3, 1, &D.d.stats, &c, MBRL_BACKEND_CPU, 128, 4), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_create(&G.e, "Pendulum-v1", 3, 1, &D.d.stats, &c, MBRL_BACKEND_CUDA, 128, 4), MBRL_OK);
  EXPECT_EQ(params_of(C.e), params_of(G.e));
  Trainer TC, TG;
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_create(&TC.t, C.e, &D.d, &oc, 128, 1, 6), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_create(&TG.t, G.e, &D.d, &oc, 128, 1, 6), MBRL_OK) << mbrl_last_error();
  std::vector<float> lc(30), lg(30);
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_run(TC.t, 30, lc.data()), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_trainer_run(TG.t, 30, lg.data()), MBRL_OK) << mbrl_last_error();
  check("cuda vs cpu per-step losses", lg, lc, 1e-5, 1e-3);
  EXPECT_EQ(G.e->num_batches_tracked, 30);
  std::vector<float> obs, act;
  random_inputs(200, &obs, &act, 13);
  std::vector<float> a(5 * 200 * 3), b(a.size()), al(a.size()), bl(a.size());
  ASSERT_EQ(mbrl_dyn_ensemble_predict_all(C.e, obs.data(), act.data(), 200, a.data(), al.data()), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_predict_all(G.e, obs.data(), act.data(), 200, b.data(), bl.data()), MBRL_OK);
  check("cuda vs cpu predicted means", b, a, 1e-3, 1e-2);
  check("cuda vs cpu predicted logvars", bl, al, 1e-3, 1e-2);
}

}  // namespace
